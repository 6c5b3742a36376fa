"""Dispersers defined by user callables (:class:`GenericDisperser`) or by a pixel grid with a
resolution per pixel (:class:`SimpleDisperser`)."""

from __future__ import annotations

from collections.abc import Callable

import astropy.units as u
import numpy as np

from unite_stan._units import as_quantity
from unite_stan.constants import C_KMS
from unite_stan.instrument.base import Disperser, TabulatedCurves, check_positive_finite
from unite_stan.prior import Parameter

__all__ = ["GenericDisperser", "SimpleDisperser"]


def _as_float_array(values, wavelength: np.ndarray) -> np.ndarray:
    """Float array with the shape of ``wavelength`` (a scalar result is broadcast)."""
    return np.array(np.broadcast_to(np.asarray(values, dtype=float), np.shape(wavelength)))


class GenericDisperser(Disperser):
    """A disperser whose resolution and dispersion are given as functions.

    Parameters
    ----------
    R_func : callable
        ``R_func(wavelength) -> R``, taking and returning numpy arrays (wavelengths in ``unit``).
    dlam_dpix_func : callable
        ``dlam_dpix_func(wavelength) -> dλ/dpix`` in ``unit`` per pixel.
    unit : astropy.units.Unit or str
        Wavelength unit of both functions.
    name, r_scale, flux_scale, pix_offset
        As for :class:`~unite_stan.instrument.base.Disperser`.

    Examples
    --------
    >>> import astropy.units as u
    >>> d = GenericDisperser(lambda w: 1000 + 0 * w, lambda w: 0 * w + 2.0, u.AA, name='grism')
    >>> float(d.R(5000.0))
    1000.0
    """

    def __init__(
        self,
        R_func: Callable[[np.ndarray], np.ndarray],
        dlam_dpix_func: Callable[[np.ndarray], np.ndarray],
        unit,
        *,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        for what, func in (("R_func", R_func), ("dlam_dpix_func", dlam_dpix_func)):
            if not callable(func):
                raise TypeError(
                    f"{what}={func!r} must be a callable taking and returning numpy arrays"
                )
        super().__init__(
            unit, name=name, r_scale=r_scale, flux_scale=flux_scale, pix_offset=pix_offset
        )
        self._R_func = R_func
        self._dlam_dpix_func = dlam_dpix_func

    def R(self, wavelength):
        wavelength = np.asarray(wavelength, dtype=float)
        return _as_float_array(self._R_func(wavelength), wavelength)

    def dlam_dpix(self, wavelength):
        wavelength = np.asarray(wavelength, dtype=float)
        return _as_float_array(self._dlam_dpix_func(wavelength), wavelength)


def _per_pixel(values, n: int, what: str) -> np.ndarray:
    """A scalar or an array of ``n`` values as an array of ``n`` positive finite floats."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(
            f"{what} has shape {arr.shape}; give a scalar or one value per wavelength ({n},)"
        )
    return check_positive_finite(arr, what)


def _quantity_value(value, unit: u.UnitBase, what: str, example: str) -> np.ndarray:
    value = as_quantity(value, what)
    if not isinstance(value, u.Quantity):
        raise TypeError(f"{what}={value!r} must be a Quantity (e.g. {example})")
    return value.to_value(unit)


class SimpleDisperser(TabulatedCurves, Disperser):
    """A disperser defined on a grid of pixel centres with a resolution per pixel.

    Exactly one of ``R``, ``dlam`` or ``dvel`` gives the resolution; each may be a scalar or one
    value per grid point. Between grid points the resolution is interpolated linearly and held
    constant beyond the ends; the dispersion is the gradient of the grid.

    Parameters
    ----------
    wavelength : Quantity
        Pixel-centre wavelengths (1-D, strictly increasing, at least two); their unit becomes the
        disperser's unit.
    R : float or array, optional
        Resolving power λ/Δλ_FWHM.
    dlam : Quantity, optional
        LSF FWHM in wavelength (``R = λ / dlam``).
    dvel : Quantity, optional
        LSF FWHM in velocity (``R = c / dvel``).
    name, r_scale, flux_scale, pix_offset
        As for :class:`~unite_stan.instrument.base.Disperser`.

    Examples
    --------
    >>> import astropy.units as u, numpy as np
    >>> wl = np.linspace(6200, 6800, 600) * u.AA
    >>> d = SimpleDisperser(wl, R=1200.0, name='grism')
    >>> float(d.R(6563.0))
    1200.0
    """

    def __init__(
        self,
        wavelength: u.Quantity,
        *,
        R=None,
        dlam: u.Quantity | None = None,
        dvel: u.Quantity | None = None,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        wavelength = as_quantity(wavelength, "wavelength")
        if not isinstance(wavelength, u.Quantity):
            raise TypeError(
                f"wavelength ({type(wavelength).__name__}) must be a length Quantity (e.g. "
                "wl * u.AA) or a table column with a length unit"
            )
        super().__init__(
            wavelength.unit,
            name=name,
            r_scale=r_scale,
            flux_scale=flux_scale,
            pix_offset=pix_offset,
        )
        grid = np.asarray(wavelength.value, dtype=float)
        if grid.ndim != 1 or grid.size < 2:
            raise ValueError(
                f"wavelength has shape {grid.shape}; give a 1-D grid of at least two pixel centres"
            )
        if not np.all(np.isfinite(grid)):
            raise ValueError("wavelength contains NaN or infinite values; all must be finite")
        steps = np.diff(grid)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0])
            raise ValueError(
                f"wavelength must be strictly increasing; wavelength[{i}]={float(grid[i])!r} >= "
                f"wavelength[{i + 1}]={float(grid[i + 1])!r}"
            )

        given = [k for k, v in (("R", R), ("dlam", dlam), ("dvel", dvel)) if v is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(f"SimpleDisperser needs exactly one of R, dlam or dvel (got {got})")
        n = grid.size
        if R is not None:
            if isinstance(R, u.Quantity):
                R = R.to_value(u.dimensionless_unscaled)
            resolution = _per_pixel(R, n, "R")
        elif dlam is not None:
            fwhm = _per_pixel(_quantity_value(dlam, self.unit, "dlam", "2.5 * u.AA"), n, "dlam")
            resolution = grid / fwhm
        else:
            fwhm = _per_pixel(
                _quantity_value(dvel, u.km / u.s, "dvel", "250 * u.km / u.s"), n, "dvel"
            )
            resolution = C_KMS / fwhm
        self._grid = grid
        self._resolution = resolution
        self._dispersion = np.gradient(grid)

    @property
    def wavelength(self) -> np.ndarray:
        """The pixel-centre grid (floats in :attr:`unit`)."""
        return self._grid.copy()
