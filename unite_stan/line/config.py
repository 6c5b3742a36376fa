"""Line tokens and :class:`LineConfiguration` (the list of lines to fit)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np

from unite_stan._naming import letter_suffix
from unite_stan._units import as_quantity
from unite_stan.line.library import Profile, resolve_profile
from unite_stan.prior import Parameter, TruncatedNormal, Uniform

__all__ = [
    "FWHM",
    "CoveringFraction",
    "Flux",
    "LineConfiguration",
    "LineEntry",
    "LineShape",
    "Redshift",
    "Tau",
]


class Redshift(Parameter):
    """Redshift offset added to the systemic redshift (``c = λ·(1 + z_sys + δz)``)."""

    _default_prior = Uniform(-0.0025, 0.0025)


class FWHM(Parameter):
    """Velocity FWHM of a profile slot, in km/s."""

    _default_prior = Uniform(0.0, 1000.0)


class Flux(Parameter):
    """Integrated line flux in units of ``Spectra.line_scale``."""

    _default_prior = Uniform(-3.0, 3.0)


class Tau(Parameter):
    """Peak optical depth of an absorption line."""

    _default_prior = Uniform(0.0, 10.0)


class CoveringFraction(Parameter):
    """Covering fraction ``C`` of an absorption line, in [0, 1]: the line transmits
    ``1 - C + C exp(-tau phi)``. An addition of unite_stan (unite 3.5.2 has none, i.e. ``C = 1``,
    which is also the transmission of an absorber given no covering fraction)."""

    _default_prior = Uniform(0.0, 1.0)


class LineShape(Parameter):
    """Dimensionless shape parameter of a profile (h3, h4, alpha)."""

    _default_prior = TruncatedNormal(0.0, 0.1, -0.3, 0.3)


@dataclass
class LineEntry:
    """One line of a configuration."""

    name: str
    wavelength: u.Quantity
    profile: Profile
    redshift: Redshift
    fwhms: dict[str, Parameter]
    flux: Flux | None
    tau: Tau | None
    strength: float
    zorder: int
    covering: CoveringFraction | None = None

    @property
    def is_absorption(self) -> bool:
        return self.tau is not None


@dataclass
class _Registry:
    """Site names handed out in one configuration, per category (prefix)."""

    by_category: dict[str, dict[str, Parameter]] = field(default_factory=dict)

    def register(self, token: Parameter, prefix: str, line_name: str) -> None:
        category = self.by_category.setdefault(prefix, {})
        if token.has_name:
            name = token.name
            other = category.get(name)
            if other is not None and other is not token:
                raise ValueError(f"duplicate site name {name!r}: two different tokens use it")
            category[name] = token
            return
        if token.label is not None:
            name = f"{prefix}_{token.label}"
            if name in category:
                raise ValueError(
                    f"duplicate site name {name!r}: another {type(token).__name__} token is "
                    f"already labelled {token.label!r} in this configuration"
                )
        else:
            base = f"{prefix}_{line_name}"
            name, k = base, 0
            while name in category:
                name = f"{base}_{letter_suffix(k)}"
                k += 1
        token.name = name
        category[name] = token


def _check_token(value, cls, what: str):
    if value is not None and not isinstance(value, cls):
        raise TypeError(
            f"{what}={value!r} must be a {cls.__name__} token, not {type(value).__name__}"
        )
    return value


class LineConfiguration:
    """An ordered set of emission and absorption lines with their parameter tokens.

    Examples
    --------
    >>> import astropy.units as u
    >>> from unite_stan import line
    >>> lc = line.LineConfiguration()
    >>> lc.add_line('Ha', 6563.0 * u.AA, redshift=line.Redshift('narrow'))
    """

    def __init__(self):
        self._entries: list[LineEntry] = []
        self._registry = _Registry()

    # ---- construction -------------------------------------------------------------------

    def add_line(
        self,
        name: str,
        center: u.Quantity,
        *,
        profile: str | Profile = "gaussian",
        redshift: Redshift | None = None,
        flux: Flux | None = None,
        tau: Tau | None = None,
        strength: float = 1.0,
        zorder: int | None = None,
        covering_fraction: CoveringFraction | None = None,
        **param_kwargs: Parameter,
    ) -> None:
        """Add one line.

        Parameters
        ----------
        name : str
            Unique line name (used in site names such as ``flux_{name}`` and table columns).
        center : Quantity
            Rest wavelength (scalar length Quantity).
        profile : str or Profile
            Profile instance or alias (``'gaussian'``).
        redshift : Redshift, optional
            Shared by identity; a fresh anonymous token when omitted.
        flux, tau : Flux or Tau, optional
            ``tau`` makes an absorption line; otherwise an emission line with ``flux``.
        strength : float
            Multiplies the flux (or tau) token's value for this line (multiplet ratios).
        zorder : int, optional
            Depth for absorption ordering (default 1 for absorption, 0 for emission).
        covering_fraction : CoveringFraction, optional
            Absorption lines only: the fraction ``C`` of the source the absorber covers, which
            then transmits ``1 - C + C exp(-tau phi)``; its prior must lie within [0, 1]. Without
            one the absorber covers everything (``C = 1``, unite's absorption). A unite_stan
            addition; its site is ``cf_{name}``.
        **param_kwargs
            Tokens for the profile's slots (e.g. ``fwhm_gauss=FWHM('narrow')``).
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"line name {name!r} must be a non-empty string")
        if any(e.name == name for e in self._entries):
            raise ValueError(
                f"duplicate line name {name!r}: line names must be unique in a configuration "
                f"(existing: {[e.name for e in self._entries]})"
            )
        wavelength = _scalar_length(center, f"center of line {name!r}")
        prof = resolve_profile(profile)
        _check_token(redshift, Redshift, "redshift")
        _check_token(flux, Flux, "flux")
        _check_token(tau, Tau, "tau")
        if flux is not None and tau is not None:
            raise TypeError(
                f"line {name!r}: pass either flux (emission) or tau (absorption), not both"
            )
        _check_token(covering_fraction, CoveringFraction, "covering_fraction")
        if covering_fraction is not None:
            if tau is None:
                raise ValueError(
                    f"line {name!r}: covering_fraction applies to absorption lines (tau=...) "
                    "only; an emission line has none"
                )
            _check_unit_interval(covering_fraction, name)
        strength = float(strength)
        if not math.isfinite(strength):
            raise ValueError(f"line {name!r}: strength={strength!r} must be finite")
        slots = prof.param_names()
        fwhms: dict[str, Parameter] = {}
        for key, token in param_kwargs.items():
            if key not in slots:
                raise ValueError(
                    f"line {name!r}: unknown profile parameter {key!r} for {prof!r}; "
                    f"expected {slots}"
                )
            if token is None:
                continue
            want = FWHM if prof.is_velocity(key) else LineShape
            _check_token(token, want, key)
        for slot in slots:
            token = param_kwargs.get(slot)
            if token is None:
                token = (FWHM if prof.is_velocity(slot) else LineShape)(
                    prior=prof.default_prior(slot)
                )
            fwhms[slot] = token
        if redshift is None:
            redshift = Redshift()
        if tau is None and flux is None:
            flux = Flux()
        if zorder is None:
            zorder = 1 if tau is not None else 0
        elif isinstance(zorder, bool) or not isinstance(zorder, (int, np.integer)):
            raise TypeError(f"line {name!r}: zorder={zorder!r} must be an int")

        entry = LineEntry(
            name,
            wavelength,
            prof,
            redshift,
            fwhms,
            flux,
            tau,
            strength,
            int(zorder),
            covering_fraction,
        )
        self._register(entry)
        self._entries.append(entry)

    def add_lines(
        self,
        name: str | Sequence[str],
        centers: u.Quantity,
        *,
        profile: str | Profile = "gaussian",
        redshift=None,
        flux=None,
        tau=None,
        strength=1.0,
        zorder: int | None = None,
        covering_fraction=None,
        **param_kwargs,
    ) -> None:
        """Add several lines at once (e.g. a multiplet sharing one ``Flux`` token).

        A string ``name`` gives line names ``f"{name}_{value:g}"`` from each centre's value in
        its own unit; a sequence gives the names explicitly. Every other argument is a scalar
        shared by all lines or a list of length 1 or ``len(centers)``.
        """
        centers = as_quantity(centers, "centers")
        if not isinstance(centers, u.Quantity):
            raise TypeError(
                f"centers={centers!r} must be a length Quantity array (e.g. [6549, 6585] * u.AA)"
            )
        values = np.atleast_1d(centers.value)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"centers={centers!r} must be a non-empty 1-D Quantity")
        n = values.size
        if isinstance(name, str):
            names = [f"{name}_{v:g}" for v in values]
        else:
            names = list(name)
            if len(names) != n:
                raise ValueError(
                    f"{len(names)} names given for {n} centres; give one name per centre or a "
                    "single base name"
                )

        def per_line(value, what):
            if isinstance(value, (list, tuple)):
                if len(value) == 1:
                    return [value[0]] * n
                if len(value) != n:
                    raise ValueError(
                        f"{what} has {len(value)} entries for {n} lines; give 1 or {n}"
                    )
                return list(value)
            if isinstance(value, np.ndarray) and value.ndim == 1:
                return per_line(list(value), what)
            return [value] * n

        redshifts = per_line(redshift, "redshift")
        fluxes = per_line(flux, "flux")
        taus = per_line(tau, "tau")
        strengths = per_line(strength, "strength")
        coverings = per_line(covering_fraction, "covering_fraction")
        kwargs_per_line = {k: per_line(v, k) for k, v in param_kwargs.items()}
        for i in range(n):
            self.add_line(
                names[i],
                centers[i] if centers.ndim else centers,
                profile=profile,
                redshift=redshifts[i],
                flux=fluxes[i],
                tau=taus[i],
                strength=strengths[i],
                zorder=zorder,
                covering_fraction=coverings[i],
                **{k: v[i] for k, v in kwargs_per_line.items()},
            )

    def _register(self, entry: LineEntry) -> None:
        self._registry.register(entry.redshift, "z", entry.name)
        for slot, token in entry.fwhms.items():
            self._registry.register(token, slot, entry.name)
        if entry.flux is not None:
            self._registry.register(entry.flux, "flux", entry.name)
        if entry.tau is not None:
            self._registry.register(entry.tau, "tau", entry.name)
        if entry.covering is not None:
            self._registry.register(entry.covering, "cf", entry.name)

    def _subset(self, names: Iterable[str]) -> LineConfiguration:
        """A new configuration with the named lines (same tokens and site names)."""
        keep = set(names)
        new = LineConfiguration()
        for entry in self._entries:
            if entry.name in keep:
                new._register(entry)
                new._entries.append(entry)
        return new

    def merge(self, other: LineConfiguration, *, strict: bool = True) -> LineConfiguration:
        """A new configuration with the lines of ``self`` followed by those of ``other``.

        Tokens are matched by site name, as in unite. With ``strict=True`` any site name used in
        both configurations raises ``ValueError`` (even when it is the same token). With
        ``strict=False`` a site name in both is one parameter: ``other``'s lines use ``self``'s
        token (with its prior); the two tokens must be of the same class (else ``TypeError``).
        Line names must differ in either mode (``ValueError``). Neither configuration is
        changed.
        """
        if not isinstance(other, LineConfiguration):
            raise TypeError(
                f"cannot merge a LineConfiguration with {other!r} ({type(other).__name__}); "
                "pass a LineConfiguration"
            )
        mine, theirs = self.tokens(), other.tokens()
        # amplitudes first, then redshifts, then profile slots: the order unite reports them
        rank = {Flux: 0, Tau: 1, Redshift: 2}
        shared = sorted(
            (name for name in theirs if name in mine),
            key=lambda name: rank.get(type(theirs[name]), 3),
        )
        if strict and shared:
            raise ValueError(
                f"Token name collision: {shared[0]!r} exists in both configs. Use strict=False "
                "to merge same-typed tokens."
            )
        for name in shared:
            if type(mine[name]) is not type(theirs[name]):
                raise TypeError(
                    f"Token name {name!r} has type {type(mine[name]).__name__} in self but "
                    f"{type(theirs[name]).__name__} in other."
                )
        swap = {id(theirs[name]): mine[name] for name in shared}

        def own(token):
            return None if token is None else swap.get(id(token), token)

        new = self._subset(e.name for e in self._entries)
        for entry in other._entries:
            if entry.name in new.names:
                raise ValueError(
                    f"duplicate line name {entry.name!r}: line names must be unique in a "
                    f"configuration (existing: {new.names}); rename one, e.g. "
                    f"'{entry.name}_narrow' / '{entry.name}_broad'"
                )
            entry = replace(
                entry,
                redshift=own(entry.redshift),
                fwhms={slot: own(token) for slot, token in entry.fwhms.items()},
                flux=own(entry.flux),
                tau=own(entry.tau),
                covering=own(entry.covering),
            )
            new._register(entry)
            new._entries.append(entry)
        return new

    def __add__(self, other: LineConfiguration) -> LineConfiguration:
        """``self.merge(other)`` in strict mode."""
        if not isinstance(other, LineConfiguration):
            return NotImplemented
        return self.merge(other, strict=True)

    # ---- access -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def __getitem__(self, key: int | str) -> LineEntry:
        if isinstance(key, str):
            for entry in self._entries:
                if entry.name == key:
                    return entry
            raise KeyError(f"no line named {key!r}; lines are {[e.name for e in self]}")
        return self._entries[key]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._entries]

    @property
    def centers(self) -> u.Quantity:
        """Rest wavelengths of all lines, in the unit of the first line."""
        if not self._entries:
            return np.array([]) * u.AA
        unit = self._entries[0].wavelength.unit
        return u.Quantity([e.wavelength.to_value(unit) for e in self._entries], unit)

    @property
    def wavelengths(self) -> list[u.Quantity]:
        return [e.wavelength for e in self._entries]

    def tokens(self) -> dict[str, Parameter]:
        """Site name → token for every line token, in registration order."""
        out: dict[str, Parameter] = {}
        for entry in self._entries:
            tokens = (entry.redshift, *entry.fwhms.values(), entry.flux, entry.tau, entry.covering)
            for token in tokens:
                if token is not None:
                    out.setdefault(token.name, token)
        return out

    def __repr__(self) -> str:
        rows = [
            (
                "Name",
                "Wavelength",
                "Profile",
                "Redshift",
                "Params",
                "Flux/Tau",
                "zorder",
                "Strength",
            )
        ]
        for e in self._entries:
            amp = e.flux.name if e.flux is not None else f"tau:{e.tau.name}"
            if e.covering is not None:
                amp += f" cf:{e.covering.name}"
            rows.append(
                (
                    e.name,
                    f"{e.wavelength.value:g} {e.wavelength.unit}",
                    type(e.profile).__name__,
                    e.redshift.name,
                    ", ".join(t.name for t in e.fwhms.values()),
                    amp,
                    str(e.zorder),
                    f"{e.strength:g}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        priors = [f"  {name}: {tok.prior!r}" for name, tok in self.tokens().items()]
        return "LineConfiguration\n" + "\n".join(lines) + "\nPriors:\n" + "\n".join(priors)


def _check_unit_interval(token: CoveringFraction, line: str) -> None:
    """A covering fraction's prior must stay within [0, 1] (its numeric bounds or value)."""
    from unite_stan.prior import Fixed, literal_value

    prior = token.prior
    if isinstance(prior, Fixed):
        ends = {"value": prior.value}
    else:
        ends = {"low": prior.low, "high": prior.high}
    for what, bound in ends.items():
        value = literal_value(bound)  # None for an expression of other tokens
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(
                f"line {line!r}: covering fraction prior {prior!r} has {what} {value!r} outside "
                "[0, 1]; a covering fraction lies in [0, 1]"
            )


def _scalar_length(value, what: str) -> u.Quantity:
    if not isinstance(value, u.Quantity):
        raise TypeError(f"{what}={value!r} must be a length Quantity (e.g. 6563 * u.AA)")
    if not value.isscalar:
        raise ValueError(f"{what}={value!r} must be a scalar Quantity")
    value.to(u.AA)  # raises UnitConversionError for non-length units
    if not np.isfinite(value.value) or value.value <= 0:
        raise ValueError(f"{what}={value!r} must be a positive finite wavelength")
    return value
