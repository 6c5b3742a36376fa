"""Continuum tokens, :class:`ContinuumRegion` and :class:`ContinuumConfiguration`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np

from unite_stan._naming import letter_suffix
from unite_stan._units import as_quantity
from unite_stan.constants import C_KMS
from unite_stan.continuum.library import ContinuumForm, Linear, get_form
from unite_stan.prior import Fixed, Parameter, Uniform

__all__ = [
    "ContShape",
    "ContinuumConfiguration",
    "ContinuumRegion",
    "NormWavelength",
    "Scale",
]


class Scale(Parameter):
    """Continuum amplitude in units of ``Spectra.continuum_scale``."""

    _default_prior = Uniform(0.0, 2.0)


class NormWavelength(Parameter):
    """Rest-frame normalisation wavelength of a region (region unit)."""

    _default_prior = Fixed(1.0)


class ContShape(Parameter):
    """Any other continuum slot (angle, slope, coefficients…)."""

    _default_prior = Uniform(-10.0, 10.0)


def _slot_class(slot: str) -> type[Parameter] | None:
    if slot == "scale" or slot.endswith("_scale"):
        return Scale
    if slot == "norm_wav":
        return NormWavelength
    if slot == "redshift":
        return None  # any Parameter, e.g. a line Redshift token
    return ContShape


class ContinuumRegion:
    """A rest-frame wavelength interval with a continuum form.

    Parameters
    ----------
    low, high : Quantity
        Rest-frame bounds (scalar length Quantities); ``high`` is converted to ``low``'s unit.
    form : ContinuumForm or str
        The continuum form (default ``Linear()``).
    params : dict, optional
        Slot → token for slots whose token the user wants to control.
    name : str, optional
        Label used for auto site names (``scale_{name}``).
    """

    def __init__(
        self,
        low: u.Quantity,
        high: u.Quantity,
        form: ContinuumForm | str | None = None,
        params: Mapping[str, Parameter] | None = None,
        name: str | None = None,
    ):
        for what, q in (("low", low), ("high", high)):
            if not isinstance(q, u.Quantity):
                raise TypeError(
                    f"ContinuumRegion {what}={q!r} must be a length Quantity (e.g. 6400 * u.AA)"
                )
            if not q.isscalar:
                raise ValueError(f"ContinuumRegion {what}={q!r} must be a scalar Quantity")
        low.to(u.AA)  # UnitConversionError for non-length units
        self.unit = low.unit
        self.low = float(low.value)
        self.high = float(high.to_value(self.unit))
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or not self.low < self.high:
            raise ValueError(
                f"ContinuumRegion(low={self.low:g}, high={self.high:g} {self.unit}): low must be "
                "< high and both finite"
            )
        self.form = get_form(form if form is not None else Linear())
        params = dict(params or {})
        slots = self.form.param_names()
        for slot, token in params.items():
            if slot not in slots:
                raise ValueError(
                    f"ContinuumRegion: unknown slot {slot!r} for {self.form!r}; expected {slots}"
                )
            want = _slot_class(slot)
            if want is None:
                if not isinstance(token, Parameter):
                    raise TypeError(f"slot {slot!r} needs a parameter token, got {token!r}")
            elif not isinstance(token, want):
                raise TypeError(
                    f"slot {slot!r} needs a {want.__name__} token, got {type(token).__name__}"
                )
        self.params = params
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"ContinuumRegion name={name!r} must be a non-empty string")
        self.name = name
        self.form._prepare(self.low, self.high, self.unit)

    @property
    def center(self) -> float:
        """Rest-frame centre (region unit)."""
        return 0.5 * (self.low + self.high)

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return (
            f"ContinuumRegion({self.low:.6g}, {self.high:.6g} {self.unit}, "
            f"form={self.form!r}{label})"
        )


class ContinuumConfiguration:
    """Continuum regions, sorted by ``low``, with every slot resolved to a named token.

    Slots the user did not supply get fresh tokens with the form's default priors; those are
    re-created (and re-lettered) whenever a configuration is built.
    """

    def __init__(
        self,
        regions: Sequence[ContinuumRegion] | None = None,
        *,
        zorder: int = 0,
        allow_overlap: bool = False,
    ):
        regions = list(regions or [])
        for r in regions:
            if not isinstance(r, ContinuumRegion):
                raise TypeError(f"{r!r} is not a ContinuumRegion")
        self._regions = sorted(regions, key=lambda r: (r.low * r.unit).to_value(u.AA))
        self.zorder = int(zorder)
        self.allow_overlap = bool(allow_overlap)
        names = [r.name for r in self._regions if r.name is not None]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate continuum region names {dupes}: names must be unique")
        if not allow_overlap:
            for a, b in zip(self._regions, self._regions[1:], strict=False):
                if (b.low * b.unit).to_value(u.AA) < (a.high * a.unit).to_value(u.AA):
                    warnings.warn(
                        f"continuum regions {a!r} and {b!r} overlap; their continua are summed "
                        "where they overlap (pass allow_overlap=True to silence this)",
                        UserWarning,
                        stacklevel=2,
                    )
        self._resolved = self._resolve_tokens()

    def _resolve_tokens(self) -> list[dict[str, Parameter]]:
        counters: dict[str, int] = {}
        taken: dict[str, Parameter] = {}
        # names user tokens already carry (e.g. from another configuration): auto letters skip
        # them, whichever region holds them (unite would hand the same name out twice)
        reserved = {tok.name for r in self._regions for tok in r.params.values() if tok.has_name}
        resolved = []
        for region in self._regions:
            slots: dict[str, Parameter] = {}
            for slot in region.form.param_names():
                token = region.params.get(slot)
                if token is None:
                    cls = _slot_class(slot) or ContShape
                    token = cls(prior=region.form.default_prior(slot, region.center))
                if not token.has_name:
                    if token.label is not None:
                        name = f"{slot}_{token.label}"
                    elif region.name is not None:
                        name = f"{slot}_{region.name}"
                    else:
                        k = counters.get(slot, 0)
                        name = f"{slot}_{letter_suffix(k)}"
                        while name in taken or name in reserved:
                            k += 1
                            name = f"{slot}_{letter_suffix(k)}"
                        counters[slot] = k + 1
                    if name in taken and taken[name] is not token:
                        raise ValueError(
                            f"duplicate continuum site name {name!r}; give the tokens distinct "
                            "labels or the regions distinct names"
                        )
                    token.name = name
                elif token.name in taken and taken[token.name] is not token:
                    raise ValueError(f"duplicate continuum site name {token.name!r}")
                taken[token.name] = token
                slots[slot] = token
            resolved.append(slots)
        return resolved

    @classmethod
    def from_lines(
        cls,
        wavelengths: u.Quantity,
        width: u.Quantity = 15_000 * u.km / u.s,
        form: ContinuumForm | str | None = None,
        *,
        zorder: int = 0,
    ) -> ContinuumConfiguration:
        """Regions of total velocity ``width`` around each line, merged where they touch."""
        wavelengths = as_quantity(wavelengths, "wavelengths")
        if not isinstance(wavelengths, u.Quantity):
            raise TypeError(f"wavelengths={wavelengths!r} must be a length Quantity array")
        wl = np.atleast_1d(wavelengths.value).astype(float)
        wavelengths.to(u.AA)  # UnitConversionError for non-length input
        if wl.size == 0:
            raise ValueError("from_lines needs at least one wavelength")
        if not isinstance(width, u.Quantity):
            raise TypeError(f"width={width!r} must be a velocity Quantity (e.g. 15000 km/s)")
        w = width.to_value(u.km / u.s)
        if not w > 0:
            raise ValueError(f"width={width!r} must be > 0")
        half = w / (2.0 * C_KMS)
        intervals = sorted((x * (1 - half), x * (1 + half)) for x in wl)
        merged = [list(intervals[0])]
        for lo, hi in intervals[1:]:
            if lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        shared = get_form(form if form is not None else Linear())
        unit = wavelengths.unit
        regions = [ContinuumRegion(lo * unit, hi * unit, form=shared) for lo, hi in merged]
        return cls(regions, zorder=zorder)

    # ---- container API ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._regions)

    def __iter__(self):
        return iter(self._regions)

    def __getitem__(self, i: int) -> ContinuumRegion:
        return self._regions[i]

    @property
    def regions(self) -> list[ContinuumRegion]:
        return list(self._regions)

    @property
    def resolved_params(self) -> list[dict[str, Parameter]]:
        """Per region, slot → token (including auto-created tokens)."""
        return [dict(d) for d in self._resolved]

    def tokens(self) -> dict[str, Parameter]:
        """Site name → token for every continuum slot, region by region."""
        return {tok.name: tok for d in self._resolved for tok in d.values()}

    def __add__(self, other: ContinuumConfiguration) -> ContinuumConfiguration:
        """A new configuration with the regions of both, as unite combines them.

        The zorders must be equal; ``allow_overlap`` is kept only if both allow overlaps. The
        tokens the user gave (``ContinuumRegion(params=...)``) must not share a site name across
        the two (``ValueError``, even for the same token); auto-created tokens are re-created and
        re-lettered in the new configuration.
        """
        if not isinstance(other, ContinuumConfiguration):
            return NotImplemented
        if other.zorder != self.zorder:
            raise ValueError(
                f"Cannot add ContinuumConfigurations with different zorders ({self.zorder} vs "
                f"{other.zorder}). Set zorder explicitly on both before adding, or construct a "
                "single configuration with all regions."
            )
        mine = {tok.name for r in self._regions for tok in r.params.values()}
        clashes = sorted({tok.name for r in other._regions for tok in r.params.values()} & mine)
        if clashes:
            raise ValueError(
                f"Parameter name collision(s) when adding ContinuumConfigurations: {clashes}. "
                "Rename the conflicting tokens before adding."
            )
        return ContinuumConfiguration(
            self.regions + other.regions,
            zorder=self.zorder,
            allow_overlap=self.allow_overlap and other.allow_overlap,
        )

    def __repr__(self) -> str:
        rows = []
        for region, slots in zip(self._regions, self._resolved, strict=True):
            params = ", ".join(f"{s}={t.name}" for s, t in slots.items())
            rows.append(
                f"  [{region.low:.6g}, {region.high:.6g}] {region.unit}  {region.form!r}  {params}"
            )
        return f"ContinuumConfiguration(zorder={self.zorder})\n" + "\n".join(rows)
