"""Dispersers whose resolution and dispersion are tabulated on a wavelength grid that a loader
fills in from the data file (:class:`~unite_stan.instrument.sdss.SDSSDisperser`,
:class:`~unite_stan.instrument.desi.DESIDisperser`)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from unite_stan.instrument.base import Disperser, TabulatedCurves, check_positive_finite

__all__ = ["GridDisperser"]


def _grid_values(values, n: int | None, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or (n is not None and arr.size != n):
        want = "a 1-D array" if n is None else f"one value per wavelength ({n},)"
        raise ValueError(f"{what} has shape {arr.shape}; give {want}")
    return check_positive_finite(arr, what)


class GridDisperser(TabulatedCurves, Disperser):
    """A disperser in Å with R(λ) and dλ/dpix(λ) interpolated linearly on a grid (held
    constant beyond its ends); subclasses start from a placeholder grid."""

    def __init__(self, wavelength, R, dlam_dpix, **kwargs):
        super().__init__(u.AA, **kwargs)
        self.set_grids(wavelength, R, dlam_dpix)

    def set_grids(self, wavelength, R, dlam_dpix=None) -> None:
        """Replace the resolution and dispersion grids (what the loaders do with the file's).

        Parameters
        ----------
        wavelength : array or Quantity
            Strictly increasing grid of at least two wavelengths (Å when not a Quantity).
        R : float or array
            Resolving power λ/Δλ_FWHM, a scalar or one value per wavelength.
        dlam_dpix : float or array, optional
            Dispersion in Å per pixel; default: the gradient of ``wavelength``.

        Raises
        ------
        ValueError
            If the grid is not strictly increasing, has fewer than two points, or a value is
            not positive and finite or has the wrong length.
        """
        if isinstance(wavelength, u.Quantity):
            wavelength = wavelength.to_value(u.AA)
        grid = _grid_values(wavelength, None, "wavelength")
        if grid.size < 2:
            raise ValueError(f"wavelength has {grid.size} value(s); give at least two")
        steps = np.diff(grid)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0])
            raise ValueError(
                f"wavelength must be strictly increasing; wavelength[{i}]={float(grid[i])!r} >= "
                f"wavelength[{i + 1}]={float(grid[i + 1])!r}"
            )
        n = grid.size
        R = np.broadcast_to(np.asarray(R, dtype=float), (n,)) if np.ndim(R) == 0 else R
        dlam = np.gradient(grid) if dlam_dpix is None else dlam_dpix
        dlam = np.broadcast_to(np.asarray(dlam, dtype=float), (n,)) if np.ndim(dlam) == 0 else dlam
        self._grid = grid
        self._resolution = _grid_values(R, n, "R")
        self._dispersion = _grid_values(dlam, n, "dlam_dpix")

    @property
    def wavelength(self) -> np.ndarray:
        """The grid on which :meth:`R` and :meth:`dlam_dpix` are tabulated (Å)."""
        return self._grid.copy()
