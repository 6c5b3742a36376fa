"""The :class:`Disperser` base class: a wavelength unit, a resolution curve, a dispersion curve
and three calibration tokens."""

from __future__ import annotations

from abc import ABC, abstractmethod

import astropy.units as u
import numpy as np

from unite_stan._registry import Registry
from unite_stan.instrument.tokens import CALIBRATION_SLOTS, FluxScale, PixOffset, RScale
from unite_stan.prior import Fixed, Parameter

# the tokens are importable from here too, as in unite
__all__ = [
    "DISPERSERS",
    "Disperser",
    "FluxScale",
    "PixOffset",
    "RScale",
    "TabulatedCurves",
    "check_positive_finite",
]

#: Every concrete disperser class, by class name (the ``type:`` of configuration files).
DISPERSERS = Registry("disperser")


def as_length_unit(unit, what: str = "unit") -> u.UnitBase:
    """``unit`` as an astropy unit, checked to be a length.

    Raises
    ------
    TypeError
        If ``unit`` is neither a unit nor a unit string.
    astropy.units.UnitConversionError
        If the unit is not a length.
    """
    if isinstance(unit, u.Quantity) or not isinstance(unit, (str, u.UnitBase)):
        raise TypeError(
            f"{what}={unit!r} ({type(unit).__name__}) must be an astropy length unit such as "
            "u.AA or u.micron"
        )
    parsed = u.Unit(unit)
    if not parsed.is_equivalent(u.m):
        raise u.UnitConversionError(
            f"{what}={parsed!s} is not a length unit; use a wavelength unit such as u.AA or "
            "u.micron"
        )
    return parsed


def check_positive_finite(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr``, checked to hold positive, finite values only (a resolution or dispersion).

    Raises
    ------
    ValueError
        Naming ``what`` and the first five bad values with their indices.
    """
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
    if bad.size:
        raise ValueError(
            f"{what} must be positive and finite; bad values {arr[bad[:5]].tolist()} at "
            f"indices {bad[:5].tolist()}"
        )
    return arr


def _calibration_token(token: Parameter | None, slot: str) -> Parameter:
    cls = CALIBRATION_SLOTS[slot]
    if token is None:
        # A private token per disperser: every disperser always has all three parameters,
        # so they appear (as constants) in tables and freeze dictionaries.
        return cls(prior=Fixed(cls._default_prior.resolved_value({})))
    if not isinstance(token, cls):
        raise TypeError(
            f"{slot}={token!r} must be a {cls.__name__} token (or None for Fixed "
            f"{cls._default_prior.resolved_value({}):g}), not {type(token).__name__}"
        )
    if token.label is not None and not token.has_name:
        token.name = f"{slot}_{token.label}"
    return token


class Disperser(ABC):
    """A spectrograph configuration: resolving power and dispersion as functions of wavelength.

    Parameters
    ----------
    unit : astropy.units.Unit or str
        Wavelength unit in which :meth:`R` and :meth:`dlam_dpix` take and return values; also
        the unit in which spectra taken with this disperser are stored.
    name : str, optional
        Label of the disperser; it names the calibration parameters (``r_scale_{name}``) and
        must be non-empty and unique within a :class:`~unite_stan.spectrum.Spectra`.
    r_scale, flux_scale, pix_offset : RScale, FluxScale, PixOffset, optional
        Calibration tokens. ``None`` gives a private token fixed at 1, 1 and 0 respectively.
        Sharing one token instance between dispersers shares the parameter.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        DISPERSERS.add(cls)

    def __init__(
        self,
        unit,
        *,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        if not isinstance(name, str):
            raise TypeError(f"name={name!r} ({type(name).__name__}) must be a string")
        self._unit = as_length_unit(unit)
        self._name = name
        self._r_scale = _calibration_token(r_scale, "r_scale")
        self._flux_scale = _calibration_token(flux_scale, "flux_scale")
        self._pix_offset = _calibration_token(pix_offset, "pix_offset")

    @property
    def unit(self) -> u.UnitBase:
        """Wavelength unit of :meth:`R`, :meth:`dlam_dpix` and of the spectra."""
        return self._unit

    @property
    def name(self) -> str:
        """Disperser label (may be empty until used in a ``Spectra``, which rejects that).

        Settable, as in unite; a ``Spectra`` built afterwards names the calibration sites after
        the new name.
        """
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"name={value!r} ({type(value).__name__}) must be a string")
        self._name = value

    # The calibration tokens are settable, as in unite: a token of the slot's class, or None
    # for a private token fixed at the default.

    @property
    def r_scale(self) -> Parameter:
        """The :class:`~unite_stan.instrument.RScale` token (settable)."""
        return self._r_scale

    @r_scale.setter
    def r_scale(self, token: Parameter | None) -> None:
        self._r_scale = _calibration_token(token, "r_scale")

    @property
    def flux_scale(self) -> Parameter:
        """The :class:`~unite_stan.instrument.FluxScale` token (settable)."""
        return self._flux_scale

    @flux_scale.setter
    def flux_scale(self, token: Parameter | None) -> None:
        self._flux_scale = _calibration_token(token, "flux_scale")

    @property
    def pix_offset(self) -> Parameter:
        """The :class:`~unite_stan.instrument.PixOffset` token (settable)."""
        return self._pix_offset

    @pix_offset.setter
    def pix_offset(self, token: Parameter | None) -> None:
        self._pix_offset = _calibration_token(token, "pix_offset")

    @property
    def calibration_tokens(self) -> dict[str, Parameter]:
        """Slot name → token, in the order ``r_scale``, ``flux_scale``, ``pix_offset``."""
        return {slot: getattr(self, slot) for slot in CALIBRATION_SLOTS}

    @property
    def has_calibration_params(self) -> bool:
        """Whether any calibration token is sampled (its prior is not ``Fixed``)."""
        return any(not isinstance(t.prior, Fixed) for t in self.calibration_tokens.values())

    @abstractmethod
    def R(self, wavelength: np.ndarray) -> np.ndarray:
        """Resolving power λ/Δλ_FWHM at ``wavelength`` (floats in :attr:`unit`)."""

    @abstractmethod
    def dlam_dpix(self, wavelength: np.ndarray) -> np.ndarray:
        """Dispersion (wavelength per pixel, in :attr:`unit`) at ``wavelength``."""

    # ---- files ----------------------------------------------------------------------------

    def _yaml_fields(self) -> dict:
        """The fields of the disperser's entry in a configuration file, besides ``type``,
        ``name`` and the calibration sites (NIRSpec: ``grating``, ``r_source``).

        Raises
        ------
        TypeError
            For dispersers that cannot be written: as in unite, only the NIRSpec gratings
            and ``SDSSDisperser`` are serialisable (the others hold user callables or arrays).
        """
        raise TypeError(
            f"{type(self).__name__} (disperser {self._name!r}) cannot be written to a "
            "configuration file: only NIRSpec gratings and SDSSDisperser are serialisable"
        )

    @classmethod
    def _from_yaml_fields(
        cls,
        fields: dict,
        *,
        name: str,
        r_scale: Parameter,
        flux_scale: Parameter,
        pix_offset: Parameter,
    ) -> Disperser:
        """The disperser an entry describes: ``fields`` as :meth:`_yaml_fields` returns them."""
        return cls(
            **fields, name=name, r_scale=r_scale, flux_scale=flux_scale, pix_offset=pix_offset
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, unit={self._unit!s})"

    def __str__(self) -> str:
        lines = [repr(self)]
        for slot, token in self.calibration_tokens.items():
            site = token.name if token.has_name else "(unnamed)"
            lines.append(f"  {slot}: {site} {token.prior!r}")
        return "\n".join(lines)


class TabulatedCurves:
    """Mixin for dispersers whose resolution and dispersion are tabulated: ``_grid`` (the
    wavelengths, in the disperser's unit), ``_resolution`` and ``_dispersion``, interpolated
    linearly and held constant beyond the ends."""

    _grid: np.ndarray
    _resolution: np.ndarray
    _dispersion: np.ndarray

    def R(self, wavelength):
        return np.interp(np.asarray(wavelength, dtype=float), self._grid, self._resolution)

    def dlam_dpix(self, wavelength):
        return np.interp(np.asarray(wavelength, dtype=float), self._grid, self._dispersion)
