"""unite's convolution mode: a fine grid per spectrum and its banded LSF kernel (spec §3.11).

In ``integration_mode='convolution'`` the model is computed without the LSF on a grid of
``n_super`` cells per pixel, attenuated there by the absorbers (``F exp(-tau phi)`` with the
intrinsic profile, which the analytic mode approximates by the LSF-convolved one), convolved
with the wavelength-dependent Gaussian LSF over ``2H + 1`` neighbouring cells (weights
``exp(-(x_w - x_j)^2 / (2 sigma_j^2))`` of the *output* cell's sigma, normalised by their sum;
beyond the ends of the spectrum the grid continues with its end spacing and the model and
sigma repeat their end values) and averaged over each pixel's cells.

The Stan program and the numpy model (tables) both use :func:`fine_grid` and :func:`kernel`,
so the two agree by construction. Unlike unite, which evaluates each component at the cells'
centres, both evaluate the average of each component over each cell (antiderivative or
cumulative differences): for a component much wider than a cell the two differ by
``f'' h^2 / 24``; for a line narrower than a cell, or of zero width (unite: NaN), the average
keeps its whole flux, so the result tends to the LSF alone as the width goes to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from unite_stan.constants import FWHM_TO_SIGMA

__all__ = [
    "FineGrid",
    "convolve",
    "default_half_width",
    "fine_grid",
    "kernel",
    "pixel_kernel",
    "pixel_means",
]

#: the intrinsic model's stand-in for "no LSF": an LSF FWHM this fraction of the smallest cell,
#: far below anything a cell resolves (the profile chunks divide by their total width)
INTRINSIC_LSF_FRACTION = 1e-4


@dataclass(frozen=True)
class FineGrid:
    """The fine grid of one spectrum (canonical unit).

    Attributes
    ----------
    edges : numpy.ndarray
        Fine edges: every interval between the spectrum's (compacted) edges split into
        ``n_super`` equal cells, gap intervals too (their cells are not kept).
    cells : numpy.ndarray
        0-based index, among the fine intervals, of each kept cell: ``n_super`` per pixel, in
        pixel order.
    centres : numpy.ndarray
        Centres of the kept cells.
    """

    edges: np.ndarray
    cells: np.ndarray
    centres: np.ndarray


def fine_grid(edges: np.ndarray, pixel_interval: np.ndarray, n_super: int) -> FineGrid:
    """Fine grid of a spectrum from its edges and the 0-based interval of each pixel."""
    edges = np.asarray(edges, dtype=float)
    k = np.arange(n_super) / n_super
    fine = (edges[:-1, None] + k[None, :] * np.diff(edges)[:, None]).ravel()
    fine = np.append(fine, edges[-1])
    cells = (np.asarray(pixel_interval)[:, None] * n_super + np.arange(n_super)[None, :]).ravel()
    centres = 0.5 * (fine[cells] + fine[cells + 1])
    return FineGrid(fine, cells, centres)


def default_half_width(sigma_max: float, min_pixel_width: float, n_super: int) -> int:
    """unite's kernel half-width in cells: ``max(1, ceil(4 sigma_max n_super / dlam_min))``."""
    return max(1, math.ceil(4.0 * sigma_max * n_super / min_pixel_width))


def kernel(centres: np.ndarray, resolution: np.ndarray, half_width: int) -> np.ndarray:
    """``log w`` of the banded LSF kernel at ``r_scale = 1``: shape (cells, 2H + 1), column
    ``d`` for the neighbour ``j + d - H`` (extended beyond the ends with the end spacing).

    The weight of a neighbour is ``exp(r_scale^2 log w)``, since the LSF's sigma is
    ``x / (R r_scale) FWHM_TO_SIGMA``; the convolved value is the weighted mean.
    """
    x = np.asarray(centres, dtype=float)
    n, h = x.size, int(half_width)
    if n < 2:
        left = right = 1.0
    else:
        left, right = x[1] - x[0], x[-1] - x[-2]
    extended = np.concatenate(
        [x[0] - left * np.arange(h, 0, -1), x, x[-1] + right * np.arange(1, h + 1)]
    )
    sigma = x / np.asarray(resolution, dtype=float) * FWHM_TO_SIGMA
    offsets = np.arange(2 * h + 1)
    neighbours = extended[np.arange(n)[:, None] + offsets[None, :]]
    return -0.5 * ((neighbours - x[:, None]) / sigma[:, None]) ** 2


def convolve(values: np.ndarray, log_w: np.ndarray, r_scale) -> np.ndarray:
    """Banded convolution of ``values`` (..., cells) with the kernel ``log_w`` at ``r_scale``
    (broadcast against the leading axes), the ends repeated beyond the grid."""
    values = np.asarray(values, dtype=float)
    n, width = log_w.shape
    h = (width - 1) // 2
    padded = np.concatenate(
        [np.repeat(values[..., :1], h, axis=-1), values, np.repeat(values[..., -1:], h, axis=-1)],
        axis=-1,
    )
    r2 = np.asarray(r_scale, dtype=float) ** 2
    out, norm = 0.0, 0.0
    for d in range(width):
        w = np.exp(r2 * log_w[:, d])
        out = out + w * padded[..., d : d + n]
        norm = norm + w
    return out / norm


def pixel_means(cell_values: np.ndarray, n_super: int) -> np.ndarray:
    """Mean over each pixel's ``n_super`` consecutive cells (last axis)."""
    shape = cell_values.shape[:-1] + (cell_values.shape[-1] // n_super, n_super)
    return cell_values.reshape(shape).mean(axis=-1)


def pixel_kernel(log_w: np.ndarray, r_scale: float, n_super: int) -> np.ndarray:
    """The kernel at a fixed ``r_scale`` folded with the pixel means: shape (pixels,
    n_super + 2H), row ``p`` the weights of the extended cells ``p n_super`` ... ``p n_super +
    n_super + 2H - 1`` (0-based) in pixel ``p``'s value. A pixel then costs n_super + 2H
    products instead of n_super (2H + 1)."""
    w = np.exp(float(r_scale) ** 2 * log_w)
    w /= w.sum(axis=1, keepdims=True)
    n_cells, width = w.shape
    n_pix = n_cells // n_super
    out = np.zeros((n_pix, n_super + width - 1))
    for k in range(n_super):
        out[:, k : k + width] += w[k::n_super] / n_super
    return out
