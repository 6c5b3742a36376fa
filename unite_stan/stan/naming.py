"""Map user-visible site names to safe Stan identifiers.

Site names are built from user strings (line names, labels, disperser names) and may contain
anything: dots (``flux_X_6564.61``), spaces, quotes, Stan keywords. They never reach Stan code as
typed; each maps to an identifier that is valid, not reserved, not one of the program's internal
names, and unique. Users keep seeing the exact site names everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from unite_stan.stan.data_block import declared_names

__all__ = ["NameMap", "STAN_RESERVED"]

# Stan keywords, block names, types and the C++ words stanc refuses as identifiers.
STAN_RESERVED = frozenset(
    """
    for in while repeat until if then else true false target functions model data parameters
    quantities transformed generated return break continue print reject fatal_error profile
    int real complex vector row_vector matrix array tuple simplex ordered positive_ordered
    unit_vector sum_to_zero_vector cholesky_factor_corr cholesky_factor_cov corr_matrix
    cov_matrix complex_vector complex_row_vector complex_matrix void lower upper offset
    multiplier jacobian lp lower_bound upper_bound struct typedef export auto extern var static
    alignas alignof and and_eq asm bitand bitor bool case catch char char16_t char32_t class
    compl const constexpr const_cast decltype default delete do double dynamic_cast enum
    explicit float friend goto inline long mutable namespace new noexcept not not_eq nullptr
    operator or or_eq private protected public register reinterpret_cast short signed sizeof
    static_assert static_cast switch template this thread_local throw try typeid typename union
    unsigned using virtual volatile wchar_t xor xor_eq fvar STAN_MAJOR STAN_MINOR STAN_PATCH
    STAN_MATH_MAJOR STAN_MATH_MINOR STAN_MATH_PATCH e pi sqrt2 log2 log10 not_a_number
    positive_infinity negative_infinity machine_precision
    """.split()
)

# Identifiers the template declares besides the variables of data_block (its locals and
# functions); a site may take none of them.
_TEMPLATE_NAMES = frozenset(
    """
    xi log_lik_spec u theta centre amp width s ne np e res shift lsf dlam line_sum q j k r
    model_interval mid cont_sum par nw lsf_r consts antideriv i mu cdf win0 nwin c0 nc block_ids
    blocks_loglik blocks start end total b b0 lo hi reduce_sum reduce_sum_static k_c slope_c
    alpha_c beta_c st
    """.split()
)
INTERNAL_NAMES = _TEMPLATE_NAMES | declared_names()

_VALID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _is_safe(name: str, taken: set[str]) -> bool:
    return (
        bool(_VALID.match(name))
        and not name.endswith("__")
        and "__" not in name
        and name not in STAN_RESERVED
        and name not in INTERNAL_NAMES
        and not name.startswith(
            ("N_", "line_", "region_", "spec_", "block", "edge", "pix_interval")
        )
        and name not in taken
    )


def _sanitise(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_")
    if not s or not s[0].isalpha():
        s = "p_" + s
    return s.rstrip("_") or "p"


class NameMap:
    """Bijective map site name ↔ Stan identifier, built in a deterministic order."""

    def __init__(self, site_names: Iterable[str]):
        self._to_ident: dict[str, str] = {}
        self._to_site: dict[str, str] = {}
        taken: set[str] = set()
        for site in site_names:
            if site in self._to_ident:
                raise ValueError(f"duplicate site name {site!r}")
            if _is_safe(site, taken):
                ident = site
            else:
                base = _sanitise(site)
                ident, k = base, 1
                while not _is_safe(ident, taken):
                    ident = f"{base}_s{k}"
                    k += 1
            taken.add(ident)
            self._to_ident[site] = ident
            self._to_site[ident] = site

    def ident(self, site: str) -> str:
        """Stan identifier of a site name."""
        return self._to_ident[site]

    def site(self, ident: str) -> str:
        """Site name of a Stan identifier."""
        return self._to_site[ident]

    def __contains__(self, site: str) -> bool:
        return site in self._to_ident

    def items(self):
        return self._to_ident.items()

    def to_dict(self) -> dict[str, str]:
        return dict(self._to_ident)
