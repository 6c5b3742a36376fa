"""Simulation-based calibration: draws from a model's prior, spectra simulated from them, and
the statistics that say whether posteriors fitted to such spectra are calibrated.

A posterior is calibrated when, over truths drawn from the prior and data simulated from the
likelihood, each central ``q`` interval holds the truth in a fraction ``q`` of the fits, and
the rank of the truth among ``L`` (nearly independent) posterior draws is uniform on
``0..L`` (Talts et al. 2018, arXiv:1804.06788). ``benchmarks/coverage.py`` runs the study
through :func:`unite_stan.batch.fit_many` (docs/calibration.md).

The simulator uses the package's own forward model (:func:`unite_stan.compute.evaluate_model`:
pixel-averaged lines and continua, in each spectrum's flux unit) and each spectrum's per-pixel
errors, so the simulated data follow the likelihood the fit uses. Priors whose bounds are
expressions of other sites (``Uniform(fwhm_narrow, 5000)``) are drawn in dependency order, as
the program defines them.
"""

from __future__ import annotations

import math

import numpy as np

from unite_stan.prior import TruncatedNormal, Uniform

__all__ = [
    "coverage_band",
    "draw_prior",
    "interval_covers",
    "rank_band",
    "sbc_rank",
    "simulate_fluxes",
    "uniformity_pvalue",
]


def draw_prior(args, rng: np.random.Generator) -> dict[str, float]:
    """One draw of every site (sampled and ``Fixed``) from the model's prior.

    Parameters
    ----------
    args : ModelArgs
        From ``ModelBuilder.build()`` (its ``prior_graph``); values are in the model's sampled
        units (fluxes in ``line_scale``, continuum scales in ``continuum_scale``).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        Site name -> value, in dependency order.

    Raises
    ------
    TypeError
        For a prior this module cannot draw from (only ``Uniform``, ``TruncatedNormal`` and
        ``Fixed`` exist).
    """
    from scipy.stats import truncnorm

    def draw(name, prior, evaluate):
        if isinstance(prior, Uniform):
            return float(rng.uniform(float(evaluate(prior.low)), float(evaluate(prior.high))))
        if isinstance(prior, TruncatedNormal):
            loc, scale = float(evaluate(prior.loc)), prior.scale
            a = (float(evaluate(prior.low)) - loc) / scale
            b = (float(evaluate(prior.high)) - loc) / scale
            return float(truncnorm.rvs(a, b, loc=loc, scale=scale, random_state=rng))
        raise TypeError(f"site {name!r}: cannot draw from a {type(prior).__name__} prior")

    values = args.prior_graph.fold(draw)
    return {name: float(v) for name, v in values.items()}


def simulate_fluxes(args, values, rng: np.random.Generator) -> list[np.ndarray]:
    """Each fitted spectrum's fluxes at the site ``values``, plus Gaussian noise.

    The model is :func:`~unite_stan.compute.evaluate_model`'s total (pixel averages, each
    spectrum's flux unit) on the pixels the fit uses (``args.spectra``, trimmed); the noise of
    each pixel has the spectrum's ``scaled_error`` as its standard deviation, the likelihood's.

    Parameters
    ----------
    args : ModelArgs
    values : mapping
        At least every sampled site (e.g. :func:`draw_prior`'s result).
    rng : numpy.random.Generator

    Returns
    -------
    list of ndarray
        One array per spectrum of ``args.spectra``, its fitted pixels in order.
    """
    from unite_stan.compute import evaluate_model

    samples = {name: np.array([values[name]], dtype=float) for name in args.free_sites}
    out = []
    for prediction in evaluate_model(samples, args):
        model = prediction.total[0]
        out.append(model + rng.normal(0.0, 1.0, model.size) * prediction.scaled_error)
    return out


def sbc_rank(draws, truth: float, n_ranks: int = 99) -> int:
    """Rank of ``truth`` among ``n_ranks`` draws thinned evenly from ``draws``.

    The rank is the number of thinned draws below the truth, in ``0..n_ranks``; under a
    calibrated posterior it is uniform there. Thinning (every ``len(draws) // n_ranks``-th
    draw) makes draws of a Markov chain nearly independent, which the uniformity needs.

    Parameters
    ----------
    draws : array_like
        Posterior draws of one parameter (chains concatenated).
    truth : float
    n_ranks : int
        ``L``, the number of draws kept (``len(draws) >= n_ranks``).

    Raises
    ------
    ValueError
        Fewer draws than ``n_ranks``, or ``n_ranks < 1``.
    """
    draws = np.asarray(draws, dtype=float).ravel()
    if isinstance(n_ranks, bool) or int(n_ranks) != n_ranks or n_ranks < 1:
        raise ValueError(f"n_ranks={n_ranks!r}: must be an integer >= 1")
    if draws.size < n_ranks:
        raise ValueError(f"{draws.size} draws cannot be thinned to n_ranks={n_ranks}")
    step = draws.size // n_ranks
    kept = draws[: step * n_ranks : step]
    return int(np.sum(kept < truth))


def interval_covers(draws, truth: float, level: float) -> bool:
    """Whether ``truth`` lies in the central ``level`` interval of ``draws`` (inclusive ends).

    The interval is between the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles (numpy's
    linear interpolation).

    Raises
    ------
    ValueError
        ``level`` outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}: must lie strictly between 0 and 1")
    low, high = np.quantile(np.asarray(draws, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return bool(low <= truth <= high)


def coverage_band(level: float, n: int, n_sigma: float = 2.0) -> tuple[float, float]:
    """Nominal ``level`` plus and minus ``n_sigma`` binomial standard deviations
    ``sqrt(level (1 - level) / n)``: where the coverage of ``n`` calibrated fits falls
    (about 95 % of the time for ``n_sigma = 2``)."""
    if n < 1:
        raise ValueError(f"n={n!r}: need at least one fit")
    sigma = math.sqrt(level * (1.0 - level) / n)
    return level - n_sigma * sigma, level + n_sigma * sigma


def _histogram(ranks, n_ranks: int, n_bins: int) -> np.ndarray:
    """Counts of ranks ``0..n_ranks`` in ``n_bins`` bins of equal numbers of rank values."""
    if (n_ranks + 1) % n_bins:
        raise ValueError(
            f"n_bins={n_bins} must divide the {n_ranks + 1} rank values 0..{n_ranks} evenly"
        )
    ranks = np.asarray(ranks, dtype=int)
    if ranks.size and (ranks.min() < 0 or ranks.max() > n_ranks):
        raise ValueError(f"ranks must lie in 0..{n_ranks}; got {ranks.min()}..{ranks.max()}")
    return np.bincount(ranks // ((n_ranks + 1) // n_bins), minlength=n_bins)


def rank_band(n: int, n_bins: int, level: float = 0.99) -> tuple[int, int]:
    """The central ``level`` interval of one bin's count, ``Binomial(n, 1/n_bins)``, for
    ``n`` uniform ranks in ``n_bins`` bins (the grey band of an SBC histogram)."""
    from scipy.stats import binom

    tail = (1.0 - level) / 2
    return int(binom.ppf(tail, n, 1.0 / n_bins)), int(binom.ppf(1.0 - tail, n, 1.0 / n_bins))


def uniformity_pvalue(ranks, n_ranks: int = 99, n_bins: int = 10) -> tuple[np.ndarray, float]:
    """The rank histogram and the chi-square p-value of its uniformity.

    Parameters
    ----------
    ranks : array_like of int
        Ranks in ``0..n_ranks`` (:func:`sbc_rank`).
    n_ranks : int
        ``L``.
    n_bins : int
        Must divide the ``n_ranks + 1`` rank values evenly (so every bin is equally likely).

    Returns
    -------
    (counts, p_value)
        ``p_value`` of ``sum((counts - n/n_bins)^2 / (n/n_bins))`` under chi-square with
        ``n_bins - 1`` degrees of freedom.
    """
    from scipy.stats import chi2

    counts = _histogram(ranks, n_ranks, n_bins)
    expected = counts.sum() / n_bins
    if expected == 0:
        raise ValueError("no ranks given")
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return counts, float(chi2.sf(statistic, n_bins - 1))
