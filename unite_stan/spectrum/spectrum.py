""":class:`Spectrum`: one observed 1-D spectrum (pixel edges, f_λ flux and errors) taken with a
disperser."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from unite_stan._units import as_quantity
from unite_stan.instrument.base import Disperser

__all__ = ["Spectrum"]

#: reference f_λ unit: flux and errors must be convertible to it
F_LAMBDA = u.erg / u.s / u.cm**2 / u.AA


def _values(array: np.ndarray) -> np.ndarray:
    """A read-only float64 1-D copy."""
    out = np.array(array, dtype=np.float64)
    out.flags.writeable = False
    return out


def _indices(bad: np.ndarray, limit: int = 10) -> str:
    idx = np.flatnonzero(bad)
    more = f" (and {idx.size - limit} more)" if idx.size > limit else ""
    return f"{idx[:limit].tolist()}{more}"


def length_values(value, unit: u.UnitBase, what: str) -> np.ndarray:
    """Values of a 1-D length Quantity in ``unit``.

    Raises
    ------
    TypeError
        If ``value`` is not a Quantity.
    astropy.units.UnitConversionError
        If its unit is not a length.
    ValueError
        If it is not one-dimensional.
    """
    value = as_quantity(value, what)
    if not isinstance(value, u.Quantity):
        raise TypeError(
            f"{what} must be a length Quantity (e.g. wl * u.AA), not {type(value).__name__}"
        )
    if not value.unit.is_equivalent(u.m):
        raise u.UnitConversionError(
            f"{what} has unit {value.unit!s}, which is not a length; give wavelengths in a "
            "length unit such as u.AA or u.micron"
        )
    values = np.asarray(value.to_value(unit), dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{what} has shape {values.shape}; it must be 1-D")
    return values


def flux_values(value, unit: u.UnitBase | None, what: str) -> tuple[np.ndarray, u.UnitBase]:
    """Values of a 1-D f_λ Quantity in ``unit`` (its own unit when ``unit`` is None).

    Raises
    ------
    TypeError
        If ``value`` is not a Quantity.
    astropy.units.UnitConversionError
        If its unit is not a flux density per unit wavelength (f_ν is refused).
    ValueError
        If it is not one-dimensional.
    """
    value = as_quantity(value, what)
    if not isinstance(value, u.Quantity):
        raise TypeError(
            f"{what} must be an f_lambda Quantity (e.g. values * u.erg / u.s / u.cm**2 / u.AA), "
            f"not {type(value).__name__}"
        )
    if not value.unit.is_equivalent(F_LAMBDA):
        raise u.UnitConversionError(
            f"{what} has unit {value.unit!s}, which is not a flux density per unit wavelength "
            f"(f_lambda, convertible to {F_LAMBDA!s}); convert f_nu first, e.g. "
            "flux.to(u.erg / u.s / u.cm**2 / u.AA, u.spectral_density(wavelength))"
        )
    target = value.unit if unit is None else unit
    values = np.asarray(value.to_value(target), dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{what} has shape {values.shape}; it must be 1-D")
    return values, target


def _edge_topology(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges and keep mask: neighbours share an edge only when ``high[i] == low[i+1]``."""
    # Interleave (low_i, high_i) and drop each low edge that coincides with the previous high.
    own_low = np.concatenate([[True], high[:-1] != low[1:]])
    emitted = np.column_stack([own_low, np.ones_like(own_low)]).ravel()
    edges = np.column_stack([low, high]).ravel()[emitted]
    # An interval ending on a high edge is a pixel; one ending on a low edge is a gap.
    ends_on_high = np.tile([False, True], low.size)[emitted]
    return _values(edges), ends_on_high[1:]


class Spectrum:
    """One observed spectrum: pixel edges, f_λ flux and 1σ errors, and the disperser used.

    Masked or bad pixels must be removed before construction (the loaders
    :func:`~unite_stan.spectrum.from_edges` and friends do it with ``mask=``).

    Parameters
    ----------
    low, high : Quantity
        Lower and upper pixel edges (1-D length Quantities of equal length); stored as floats in
        the disperser's unit. ``low`` must be strictly increasing and ``high > low`` pixel by
        pixel.
    flux, error : Quantity
        Flux density per unit wavelength (f_λ) and its 1σ error, same length as ``low``.
        ``flux`` must be finite and ``error`` finite and positive. The error is converted to the
        flux unit, which may carry a scale (e.g. ``1e-17 erg / (s cm2 Angstrom)``).
    disperser : Disperser
        Resolution, dispersion and calibration tokens of the instrument.
    name : str, optional
        Defaults to ``disperser.name``.

    Notes
    -----
    Neighbouring pixels share an edge only when ``high[i] == low[i + 1]`` exactly; otherwise
    the interval between them is kept in :attr:`edges` as a gap (``keep_mask`` False), so the
    edge grid is ``npix + n_gaps + 1`` long.
    """

    def __init__(
        self,
        low: u.Quantity,
        high: u.Quantity,
        flux: u.Quantity,
        error: u.Quantity,
        disperser: Disperser,
        *,
        name: str = "",
    ):
        if not isinstance(disperser, Disperser):
            raise TypeError(
                f"disperser={disperser!r} ({type(disperser).__name__}) is not a Disperser; use "
                "e.g. SimpleDisperser from unite_stan.instrument.generic"
            )
        if not isinstance(name, str):
            raise TypeError(f"name={name!r} ({type(name).__name__}) must be a string")
        unit = disperser.unit
        low_v = length_values(low, unit, "low")
        high_v = length_values(high, unit, "high")
        flux_v, flux_unit = flux_values(flux, None, "flux")
        error_v, _ = flux_values(error, flux_unit, "error")
        lengths = {"low": low_v.size, "high": high_v.size, "flux": flux_v.size}
        lengths["error"] = error_v.size
        if len(set(lengths.values())) != 1:
            raise ValueError(f"array lengths differ: {lengths}; all must have the same length")
        if low_v.size == 0:
            raise ValueError("the spectrum has no pixels; give at least one")
        _check_pixels(low_v, high_v, flux_v, error_v)

        self._disperser = disperser
        self._name = name or disperser.name
        self._unit = unit
        self._flux_unit = flux_unit
        self._low = _values(low_v)
        self._high = _values(high_v)
        self._flux = _values(flux_v)
        self._error = _values(error_v)
        self._edges, self._keep_mask = _edge_topology(self._low, self._high)
        self._error_scale: float | np.ndarray = 1.0
        self.scale_diagnostic = None

    # ---- data ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The spectrum's name (settable, as in unite)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"name={value!r} ({type(value).__name__}) must be a string")
        self._name = value

    @property
    def disperser(self) -> Disperser:
        """The disperser (settable, as in unite).

        Assigning a disperser with another wavelength unit converts the stored pixel edges to
        it, so :attr:`unit` stays the disperser's. The name is kept.
        """
        return self._disperser

    @disperser.setter
    def disperser(self, value: Disperser) -> None:
        if not isinstance(value, Disperser):
            raise TypeError(
                f"disperser={value!r} ({type(value).__name__}) is not a Disperser; use e.g. "
                "SimpleDisperser from unite_stan.instrument.generic"
            )
        if value.unit != self._unit:
            factor = float((1.0 * self._unit).to_value(value.unit))
            self._low = _values(self._low * factor)
            self._high = _values(self._high * factor)
            self._edges, self._keep_mask = _edge_topology(self._low, self._high)
            self._unit = value.unit
        self._disperser = value

    @property
    def unit(self) -> u.UnitBase:
        """Wavelength unit (the disperser's)."""
        return self._unit

    @property
    def flux_unit(self) -> u.UnitBase:
        """Unit of :attr:`flux` and :attr:`error`."""
        return self._flux_unit

    @property
    def low(self) -> np.ndarray:
        """Lower pixel edges (floats in :attr:`unit`)."""
        return self._low

    @property
    def high(self) -> np.ndarray:
        """Upper pixel edges (floats in :attr:`unit`)."""
        return self._high

    @property
    def wavelength(self) -> np.ndarray:
        """Pixel centres ``(low + high) / 2``."""
        return 0.5 * (self._low + self._high)

    @property
    def flux(self) -> np.ndarray:
        """Flux values (floats in :attr:`flux_unit`)."""
        return self._flux

    @property
    def error(self) -> np.ndarray:
        """1σ errors (floats in :attr:`flux_unit`)."""
        return self._error

    @property
    def npix(self) -> int:
        return self._low.size

    @property
    def wavelength_range(self) -> tuple[float, float]:
        """``(low[0], high[-1])``."""
        return float(self._low[0]), float(self._high[-1])

    # ---- errors -------------------------------------------------------------------------

    @property
    def error_scale(self) -> float | np.ndarray:
        """Factor applied to :attr:`error` in the likelihood (scalar or one per pixel, > 0)."""
        return self._error_scale

    @error_scale.setter
    def error_scale(self, value) -> None:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            scale: float | np.ndarray = float(arr)
        elif arr.shape == (self.npix,):
            scale = _values(arr)
        else:
            raise ValueError(
                f"error_scale has shape {arr.shape}; give a scalar or one value per pixel "
                f"({self.npix},)"
            )
        bad = ~(np.isfinite(arr) & (arr > 0))
        if np.any(bad):
            where = "" if arr.ndim == 0 else f" at pixel indices {_indices(bad)}"
            raise ValueError(
                f"error_scale must be finite and > 0; got {arr[bad].ravel()[:5].tolist()}{where}"
            )
        self._error_scale = scale

    @property
    def scaled_error(self) -> np.ndarray:
        """``error · error_scale``."""
        return self._error * self._error_scale

    # ---- pixel grid topology ------------------------------------------------------------

    @property
    def edges(self) -> np.ndarray:
        """All interval edges: pixels and the gaps between non-touching pixels."""
        return self._edges

    @property
    def keep_mask(self) -> np.ndarray:
        """For each interval of :attr:`edges`: True for a pixel, False for a gap."""
        return self._keep_mask

    @property
    def pixel_idx(self) -> np.ndarray:
        """Index of each pixel's interval in :attr:`edges` (``npix`` integers)."""
        return np.flatnonzero(self._keep_mask)

    @property
    def midpoints(self) -> np.ndarray:
        """Midpoints of all intervals of :attr:`edges` (pixels and gaps)."""
        return 0.5 * (self._edges[1:] + self._edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        """Widths of all intervals of :attr:`edges` (pixels and gaps)."""
        return np.diff(self._edges)

    # ---- coverage -----------------------------------------------------------------------

    def covers(self, lo: float, hi: float) -> bool:
        """Whether any pixel overlaps the open interval ``(lo, hi)`` (floats in :attr:`unit`)."""
        return bool(np.any((self._high > lo) & (self._low < hi)))

    def pixel_mask(self, lo: float, hi: float) -> np.ndarray:
        """Pixels lying strictly inside ``(lo, hi)``: ``low > lo`` and ``high < hi``."""
        return (self._low > lo) & (self._high < hi)

    def _select(self, keep: np.ndarray) -> Spectrum:
        """A new spectrum with the pixels where ``keep`` is True (same disperser and name).

        Per-pixel error scales follow their pixels; :attr:`scale_diagnostic` is not carried over.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.npix,):
            raise ValueError(f"keep has shape {keep.shape}; expected ({self.npix},)")
        new = Spectrum(
            self._low[keep] * self._unit,
            self._high[keep] * self._unit,
            self._flux[keep] * self._flux_unit,
            self._error[keep] * self._flux_unit,
            self._disperser,
            name=self._name,
        )
        scale = self._error_scale
        new.error_scale = scale[keep] if isinstance(scale, np.ndarray) else scale
        return new

    @property
    def has_calibration_priors(self) -> bool:
        """Whether the disperser has any sampled calibration token."""
        return self._disperser.has_calibration_params

    # ---- specutils ----------------------------------------------------------------------

    @classmethod
    def from_specutils(cls, spec1d, disperser: Disperser, *, name: str = "") -> Spectrum:
        """A spectrum from a specutils (≥ 2.0) ``Spectrum`` (an addition of unite_stan).

        The pixel edges are ``spec1d.spectral_axis.bin_edges`` (a frequency or energy axis is
        converted to the disperser's wavelength unit and reversed); pixels where
        ``spec1d.mask`` is True are dropped; the error comes from the uncertainty
        (``StdDevUncertainty``, ``VarianceUncertainty`` or ``InverseVariance``). f_ν flux is
        converted to erg s⁻¹ cm⁻² per disperser wavelength unit at the pixel centres.

        Parameters
        ----------
        spec1d : specutils.Spectrum
            A 1-D spectrum with an uncertainty.
        disperser : Disperser
            The instrument.
        name : str, optional
            Defaults to ``disperser.name``.

        Raises
        ------
        ImportError
            If specutils ≥ 2.0 is not installed (``pip install 'unite-stan[specutils]'``).
        ValueError
            If the flux is not 1-D or there is no uncertainty.
        """
        from unite_stan.spectrum._specutils import from_specutils

        return from_specutils(spec1d, disperser, name=name)

    def to_specutils(self):
        """This spectrum as a specutils (≥ 2.0) ``Spectrum`` (an addition of unite_stan).

        The spectral axis holds the pixel edges in :attr:`unit`; a gap between pixels becomes a
        masked pixel (flux NaN), so :meth:`from_specutils` gives back the same pixels. The
        uncertainty is the unscaled :attr:`error` as ``StdDevUncertainty``; ``meta['name']``
        holds :attr:`name`.

        Raises
        ------
        ImportError
            If specutils ≥ 2.0 is not installed.
        """
        from unite_stan.spectrum._specutils import to_specutils

        return to_specutils(self)

    def __repr__(self) -> str:
        lo, hi = self.wavelength_range
        return (
            f"Spectrum(name={self._name!r}, npix={self.npix}, range=[{lo:g}, {hi:g}] "
            f"{self._unit!s}, flux_unit={self._flux_unit!s})"
        )

    def __str__(self) -> str:
        lines = [repr(self), f"  disperser: {self._disperser!r}"]
        for slot, token in self._disperser.calibration_tokens.items():
            site = token.name if token.has_name else "(unnamed)"
            lines.append(f"  {slot}: {site} {token.prior!r}")
        return "\n".join(lines)


def _check_pixels(low: np.ndarray, high: np.ndarray, flux: np.ndarray, error: np.ndarray):
    for what, arr in (("low", low), ("high", high)):
        bad = ~np.isfinite(arr)
        if np.any(bad):
            raise ValueError(
                f"{what} has non-finite wavelengths at pixel indices {_indices(bad)}; all edges "
                "must be finite"
            )
    step = np.diff(low) <= 0
    if np.any(step):
        i = int(np.flatnonzero(step)[0])
        raise ValueError(
            f"low must be strictly increasing, but low[{i}]={float(low[i])!r} >= "
            f"low[{i + 1}]={float(low[i + 1])!r} (pixels at indices {_indices(step)} are out of "
            "order); sort the pixels by wavelength"
        )
    empty = high <= low
    if np.any(empty):
        i = int(np.flatnonzero(empty)[0])
        raise ValueError(
            f"every pixel needs high > low, but pixel {i} has low={float(low[i])!r}, "
            f"high={float(high[i])!r} (bad pixel indices {_indices(empty)})"
        )
    bad_flux = ~np.isfinite(flux)
    if np.any(bad_flux):
        raise ValueError(
            f"flux has NaN or infinite values at pixel indices {_indices(bad_flux)}; flux must "
            "be finite (drop bad pixels with mask=... in from_edges/from_centers/from_arrays)"
        )
    bad_error = ~(np.isfinite(error) & (error > 0))
    if np.any(bad_error):
        values = error[bad_error][:5].tolist()
        raise ValueError(
            f"error must be finite and > 0, but has {values} at pixel indices "
            f"{_indices(bad_error)} (drop bad pixels with mask=...)"
        )
