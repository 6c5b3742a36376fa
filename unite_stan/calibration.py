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
    "familywise_coverage_test",
    "interval_covers",
    "rank_band",
    "rank_coverage",
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


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}: must lie strictly between 0 and 1")


def _integer_ranks(ranks, n_ranks: int) -> np.ndarray:
    """``ranks`` as an integer array, checked to lie in ``0..n_ranks``."""
    ranks = np.asarray(ranks)
    if ranks.size and (
        not np.issubdtype(ranks.dtype, np.integer) or ranks.min() < 0 or ranks.max() > n_ranks
    ):
        raise ValueError(f"ranks must be integers in 0..{n_ranks}")
    return ranks


def interval_covers(draws, truth: float, level: float) -> bool:
    """Whether ``truth`` lies in the central ``level`` interval of ``draws`` (inclusive ends).

    The interval is between the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles (numpy's
    linear interpolation).

    Raises
    ------
    ValueError
        ``level`` outside (0, 1).
    """
    _check_level(level)
    low, high = np.quantile(np.asarray(draws, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return bool(low <= truth <= high)


def rank_coverage(ranks, level: float, n_ranks: int = 99) -> float:
    """The coverage of central ``level`` intervals, from SBC ranks alone.

    A rank ``r`` of ``0..L`` (:func:`sbc_rank`) says the truth lies between the ``r``-th and
    ``(r + 1)``-th of ``L`` posterior draws: in ``[r, r + 1) / (L + 1)`` of the posterior's
    distribution function. Each rank counts with the part of that cell inside the central
    interval ``[(1 - level) / 2, (1 + level) / 2]`` (for ``L = 99`` and 95 %: ranks 3-96 fully,
    2 and 97 by half), so for a calibrated method (uniform ranks) the expected coverage is
    exactly ``level``. Unlike :func:`interval_covers` it needs no draws, only the ranks, so it
    gives the coverage of any subset of a study's fits (by status, S/N...).

    Raises
    ------
    ValueError
        If ``level`` is outside (0, 1), ``ranks`` is empty or a rank lies outside
        ``0..n_ranks``.
    """
    _check_level(level)
    ranks = _integer_ranks(ranks, n_ranks)
    if ranks.size == 0:
        raise ValueError("no ranks given")
    cells = n_ranks + 1
    # rounded: (1 - 0.68) / 2 * 100 is 15.999999999999998 in floating point
    low, high = (round((1.0 - level) / 2 * cells, 9), round((1.0 + level) / 2 * cells, 9))
    values = np.arange(cells)
    weight = np.clip(np.minimum(values + 1, high) - np.maximum(values, low), 0.0, 1.0)
    return float(weight[ranks].mean())


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


def familywise_coverage_test(
    ranks, coverage, *, n_ranks: int = 99, n_sigma: float = 2.0, n_boot: int = 10_000, seed: int = 0
) -> dict:
    """Whether a study's coverage checks, taken together, are what a calibrated method gives.

    A study checks ``K`` coverages (parameters × levels), each against its own ``n_sigma``
    binomial band (:func:`coverage_band`). A calibrated method puts each check outside its
    band with probability about 4.6 % at 2 sigma, so some of ``K`` checks fall outside more
    often than not when ``K`` is large, and the checks are dependent: a parameter's 68 % and
    95 % checks count the same fits, and the parameters of one fit are correlated. This test
    gives the distribution, for a calibrated method with the study's own dependence between
    parameters, of (a) the number of checks outside their bands and (b) the largest
    ``|z| = |coverage - q| / sqrt(q (1 - q) / n)`` over the checks, and the p-values of the
    study's values under it.

    The null distribution resamples the study's fits (Westfall and Young's resampling for a
    maximum statistic): each parameter's ranks, spread uniformly within their rank value (one
    spread per fit), are replaced by their order among the fits, ``u = (order + 1/2) / n``,
    which makes every parameter's margin exactly uniform (calibrated) while keeping how the
    parameters of one fit move together (the empirical copula); ``n`` fits are then drawn with
    replacement ``n_boot`` times, and a draw's check of level ``q`` counts the fits with
    ``|u - 1/2| <= q / 2``.

    Parameters
    ----------
    ranks : mapping of str to sequence of int
        Each parameter's SBC ranks (:func:`sbc_rank`, ``0..n_ranks``), one per fit, the same
        fits in the same order for every parameter.
    coverage : mapping of str to mapping of float to float
        Each parameter's measured coverage by level, e.g. ``{"z": {0.68: 0.66, 0.95: 0.94}}``
        (the fraction of fits whose central ``q`` interval holds the truth); its keys are the
        levels checked. Every parameter of ``ranks`` needs an entry, and no other.
    n_ranks : int
        ``L`` of the ranks.
    n_sigma : float
        The checks' band, as in :func:`coverage_band`.
    n_boot : int
        Resampled studies.
    seed : int
        Seed of the spread within rank values and of the resampling (same seed, same result).

    Returns
    -------
    dict
        ``fits``, ``checks`` (``K``), ``outside`` (the checks outside their bands, as
        ``[parameter, level, z]``), ``expected_outside`` (mean number outside for a calibrated
        method with this dependence), ``p_outside`` (probability of at least as many outside),
        ``max_abs_z`` and ``p_max_z`` (probability of a largest ``|z|`` at least as large:
        the family-wise p-value; below 0.05, the checks together say the method is not
        calibrated at the 5 % level), ``n_boot`` and ``seed``.

    Raises
    ------
    ValueError
        If ``ranks`` and ``coverage`` name different parameters, the parameters have
        different numbers of fits, fewer than 2 fits, a rank outside ``0..n_ranks``, a level
        outside (0, 1), or ``n_boot < 1``.
    """
    names = list(ranks)
    if not names:
        raise ValueError("ranks is empty: give each parameter's SBC ranks")
    if set(names) != set(coverage):
        raise ValueError(
            f"ranks has parameters {sorted(names)} but coverage has {sorted(coverage)}: "
            "they must name the same parameters"
        )
    lengths = {name: len(ranks[name]) for name in names}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every parameter needs one rank per fit; got {lengths}")
    n = lengths[names[0]]
    if n < 2:
        raise ValueError(f"{n} fit(s): the test needs at least 2")
    if n_boot < 1:
        raise ValueError(f"n_boot={n_boot!r}: must be at least 1")
    table = _integer_ranks(np.column_stack([ranks[name] for name in names]), n_ranks)
    checks = []
    for j, name in enumerate(names):
        for level, measured in coverage[name].items():
            q = float(level)
            if not 0.0 < q < 1.0:
                raise ValueError(f"coverage[{name!r}] level {level!r}: must lie in (0, 1)")
            z = (float(measured) - q) / math.sqrt(q * (1.0 - q) / n)
            checks.append((j, name, q, z))
    rng = np.random.default_rng(seed)
    # one spread per fit, shared by its parameters: it only orders the fits that share a rank
    # value, and a parameter given twice must give the same check twice
    spread = table + rng.uniform(size=(n, 1))
    u = (np.argsort(np.argsort(spread, axis=0, kind="stable"), axis=0) + 0.5) / n
    columns = np.array([j for j, *_ in checks])
    half = np.array([q / 2 for _, _, q, _ in checks])
    sigma = np.array([math.sqrt(q * (1.0 - q) / n) for _, _, q, _ in checks])
    nominal = 2 * half
    inside = np.abs(u[:, columns] - 0.5) <= half  # (fits, checks)
    outside_boot = np.empty(n_boot, dtype=int)
    max_z_boot = np.empty(n_boot)
    block = max(1, 2_000_000 // max(n * len(checks), 1))
    for start in range(0, n_boot, block):
        stop = min(start + block, n_boot)
        picks = rng.integers(0, n, size=(stop - start, n))
        fractions = inside[picks].mean(axis=1)  # (draws, checks)
        z = np.abs(fractions - nominal) / sigma
        outside_boot[start:stop] = (z > n_sigma).sum(axis=1)
        max_z_boot[start:stop] = z.max(axis=1)
    observed = [[name, q, z] for _, name, q, z in checks if abs(z) > n_sigma]
    max_abs_z = max(abs(z) for *_, z in checks)
    return {
        "fits": n,
        "checks": len(checks),
        "outside": observed,
        "expected_outside": float(outside_boot.mean()),
        "p_outside": float((1 + np.sum(outside_boot >= len(observed))) / (n_boot + 1)),
        "max_abs_z": float(max_abs_z),
        "p_max_z": float((1 + np.sum(max_z_boot >= max_abs_z - 1e-12)) / (n_boot + 1)),
        "n_boot": int(n_boot),
        "seed": int(seed),
    }
