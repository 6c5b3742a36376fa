"""Build a :class:`~unite_stan.spectrum.Spectrum` from arrays of pixel edges or centres.

A boolean ``mask`` (True = bad pixel) is applied first, so bad values (NaN flux, zero errors)
under the mask never reach the validation of :class:`Spectrum`.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from unite_stan._units import as_quantity
from unite_stan.instrument.base import Disperser
from unite_stan.spectrum.spectrum import Spectrum, length_values

__all__ = ["from_arrays", "from_centers", "from_edges"]


def _apply_mask(mask, arrays: dict[str, u.Quantity]) -> dict[str, u.Quantity]:
    if mask is None:
        return arrays
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(
            f"mask has dtype {mask.dtype}; it must be boolean (True marks a pixel to drop)"
        )
    lengths = {k: np.shape(v) for k, v in arrays.items()}
    n = next(iter(lengths.values()))
    if mask.shape != n:
        raise ValueError(
            f"mask has shape {mask.shape}, but the arrays have shapes {lengths}; give one "
            "boolean per pixel"
        )
    if mask.all():
        raise ValueError("mask drops every pixel; at least one pixel must remain")
    return {k: v[~mask] for k, v in arrays.items()}


def _check_lengths(arrays: dict[str, u.Quantity]) -> None:
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    if any(len(s) != 1 for s in shapes.values()):
        raise ValueError(f"arrays must be 1-D; got shapes {shapes}")
    if len(set(shapes.values())) != 1:
        raise ValueError(
            f"array lengths differ: { {k: s[0] for k, s in shapes.items()} }; all must have "
            "the same length"
        )


def midpoint_edges(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel edges at midpoints between neighbouring ``centres`` (at least two), the outer two
    half an end spacing out: ``(low, high)``, so that neighbouring pixels share an edge."""
    mids = 0.5 * (centres[1:] + centres[:-1])
    low = np.concatenate([[centres[0] - (mids[0] - centres[0])], mids])
    high = np.concatenate([mids, [centres[-1] + (centres[-1] - mids[-1])]])
    return low, high


def _edges_from_centers(center: u.Quantity) -> tuple[u.Quantity, u.Quantity]:
    """Edges at midpoints between neighbouring centres; outer edges half an end spacing out."""
    values = length_values(center, center.unit, "center")
    if values.size < 2:
        raise ValueError(
            f"center has {values.size} unmasked pixel(s); deriving edges from centres needs at "
            "least two (use from_edges for a single pixel)"
        )
    low, high = midpoint_edges(values)
    return low * center.unit, high * center.unit


def from_arrays(
    *,
    low: u.Quantity | None = None,
    high: u.Quantity | None = None,
    center: u.Quantity | None = None,
    flux: u.Quantity,
    error: u.Quantity,
    disperser: Disperser,
    mask=None,
    name: str = "",
) -> Spectrum:
    """A spectrum from pixel edges (``low`` and ``high``) or pixel centres (``center``).

    Parameters
    ----------
    low, high : Quantity, optional
        Pixel edges (1-D length Quantities).
    center : Quantity, optional
        Pixel centres; edges are placed at midpoints between neighbours and half an end
        spacing beyond the first and last centre, so pixels share edges.
    flux, error : Quantity
        f_λ flux and 1σ error.
    disperser : Disperser
        The instrument.
    mask : array of bool, optional
        True marks a pixel to drop; applied before anything else (with ``center``, before the
        edges are derived, so a dropped pixel's range is absorbed by its neighbours).
    name : str, optional
        Defaults to ``disperser.name``.

    Raises
    ------
    ValueError
        If not exactly one of (``low`` and ``high``) or ``center`` is given, the lengths differ,
        or the remaining pixels fail the checks of :class:`Spectrum`.
    """
    edges_given = low is not None or high is not None
    if edges_given == (center is not None) or (edges_given and (low is None or high is None)):
        given = [k for k, v in (("low", low), ("high", high), ("center", center)) if v is not None]
        raise ValueError(
            f"give either low and high (pixel edges) or center (pixel centres); got "
            f"{given or 'none of them'}"
        )
    arrays = {"low": low, "high": high} if edges_given else {"center": center}
    arrays |= {"flux": flux, "error": error}
    arrays = {what: as_quantity(value, what) for what, value in arrays.items()}
    for what, value in arrays.items():
        if not isinstance(value, u.Quantity):
            raise TypeError(f"{what} must be a Quantity with units, not {type(value).__name__}")
    _check_lengths(arrays)
    arrays = _apply_mask(mask, arrays)
    if not edges_given:
        arrays["low"], arrays["high"] = _edges_from_centers(arrays.pop("center"))
    return Spectrum(
        arrays["low"], arrays["high"], arrays["flux"], arrays["error"], disperser, name=name
    )


def from_edges(
    low: u.Quantity,
    high: u.Quantity,
    flux: u.Quantity,
    error: u.Quantity,
    disperser: Disperser,
    *,
    mask=None,
    name: str = "",
) -> Spectrum:
    """A spectrum from pixel edges; see :func:`from_arrays`.

    Examples
    --------
    >>> import astropy.units as u, numpy as np
    >>> from unite_stan.instrument.generic import SimpleDisperser
    >>> wl = np.linspace(6200.0, 6800.0, 600)
    >>> grism = SimpleDisperser(wl * u.AA, R=1200.0, name='grism')
    >>> f = np.ones(600) * u.erg / u.s / u.cm**2 / u.AA
    >>> spec = from_edges((wl - 0.5) * u.AA, (wl + 0.5) * u.AA, f, 0.1 * f, grism)
    >>> spec.name, spec.npix
    ('grism', 600)
    """
    return from_arrays(
        low=low, high=high, flux=flux, error=error, disperser=disperser, mask=mask, name=name
    )


def from_centers(
    center: u.Quantity,
    flux: u.Quantity,
    error: u.Quantity,
    disperser: Disperser,
    *,
    mask=None,
    name: str = "",
) -> Spectrum:
    """A spectrum from pixel centres; see :func:`from_arrays`."""
    return from_arrays(
        center=center, flux=flux, error=error, disperser=disperser, mask=mask, name=name
    )
