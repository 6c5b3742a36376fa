"""Convergence diagnostics for MCMC draws: rank-normalised R-hat and effective sample sizes.

Implemented from Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
Analysis 16, 667-718, with Stan's effective-sample-size estimator (FFT autocovariances combined
across chains, truncated by Geyer's initial monotone sequence).

The array functions take draws shaped ``(chains, draws)``; a 1-D array is one chain. They
return ``nan`` where a statistic is undefined: constant or non-finite draws, or fewer than four
draws per chain. The dataset functions take an ``xarray.Dataset`` whose data variables have
dimensions ``('chain', 'draw', ...)``, or the same draws as a :class:`~unite_stan.draws.Draws`
(what a fit keeps before ``args.dataset`` is first read); xarray is never imported here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table
from scipy.fft import next_fast_len
from scipy.special import ndtri

from unite_stan.draws import Draws, as_draws

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "SAMPLER_VARIABLES",
    "check_convergence",
    "chi2_and_pixels",
    "chi2_per_pixel",
    "ess_basic",
    "ess_bulk",
    "ess_tail",
    "mcse_mean",
    "rhat",
    "summary",
    "warn_convergence",
]

SAMPLER_VARIABLES = frozenset(
    {"diverging", "tree_depth", "acceptance_rate", "step_size", "n_steps", "energy"}
)
"""Per-transition sampler statistics (as named by ``unite_stan.stan.run``): not parameters."""

_MIN_DRAWS = 4
_TAIL_PROBS = (0.05, 0.95)
_SUMMARY_QUANTILES = (0.05, 0.5, 0.95)


def rhat(x) -> float:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat.

    The bulk version compares rank-normalised split chains and detects chains that sit at
    different locations; the folded version does the same for ``|x - median(x)|`` and detects
    chains with different spreads (Vehtari et al. 2021, section 4.2).

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (draws,)
        Draws of one scalar quantity.

    Returns
    -------
    float
        R-hat; values above 1.01 indicate that the chains have not mixed.
    """
    split = _split_chains(_as_chains(x))
    if split is None:
        return np.nan
    bulk = _rhat_basic(_rank_normalise(split))
    folded = _rhat_basic(_rank_normalise(np.abs(split - np.median(split))))
    return float(max(bulk, folded))


def ess_bulk(x) -> float:
    """Bulk effective sample size: the ESS of the rank-normalised split chains.

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (draws,)
        Draws of one scalar quantity.

    Returns
    -------
    float
        Effective number of independent draws for estimates of the centre of the distribution.
    """
    split = _split_chains(_as_chains(x))
    return np.nan if split is None else _ess(_rank_normalise(split))


def ess_tail(x) -> float:
    """Tail effective sample size: the smaller ESS of the 5 % and 95 % quantile estimates.

    Each quantile's ESS is the ESS of the split-chain indicator ``x <= quantile``.

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (draws,)
        Draws of one scalar quantity.

    Returns
    -------
    float
        Effective number of independent draws for the tails (e.g. 90 % intervals).
    """
    draws = _as_chains(x)
    split = _split_chains(draws)
    if split is None:
        return np.nan
    quantiles = np.quantile(draws, _TAIL_PROBS)
    return min(_ess((split <= q).astype(float)) for q in quantiles)


def ess_basic(x) -> float:
    """Effective sample size of the split chains without rank normalisation.

    This is the ESS that governs the Monte Carlo error of the posterior mean; unlike
    :func:`ess_bulk` it is unreliable when the distribution has heavy tails.

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (draws,)
        Draws of one scalar quantity.

    Returns
    -------
    float
        Effective number of independent draws.
    """
    split = _split_chains(_as_chains(x))
    return np.nan if split is None else _ess(split)


def mcse_mean(x) -> float:
    """Monte Carlo standard error of the posterior mean, ``sd / sqrt(ess_basic)``.

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (draws,)
        Draws of one scalar quantity.

    Returns
    -------
    float
        Standard error of ``mean(x)`` as an estimate of the posterior mean.
    """
    draws = _as_chains(x)
    return float(np.std(draws, ddof=1) / np.sqrt(ess_basic(draws)))


def summary(ds: xr.Dataset | Draws, var_names: Iterable[str] | None = None) -> Table:
    """Posterior summary with convergence diagnostics, one row per scalar quantity.

    Parameters
    ----------
    ds : xarray.Dataset or Draws
        Draws; each selected variable has dimensions ``('chain', 'draw', ...)``. Variables with
        extra dimensions give one row per element, named ``name[i]`` (or by coordinate value).
    var_names : iterable of str, optional
        Variables to summarise. Default: ``ds.attrs['free_parameters']`` if present, else every
        variable with chain and draw dimensions except the sampler statistics listed in
        ``SAMPLER_VARIABLES``.

    Returns
    -------
    astropy.table.Table
        Columns ``name, mean, sd, q5, q50, q95, r_hat, ess_bulk, ess_tail``. Constant quantities
        (e.g. fixed parameters) have ``nan`` R-hat and ESS.
    """
    names, rows = [], []
    for label, draws in _scalar_draws(ds, var_names):
        names.append(label)
        rows.append(
            (
                np.mean(draws),
                np.std(draws, ddof=1),
                *np.quantile(draws, _SUMMARY_QUANTILES),
                rhat(draws),
                ess_bulk(draws),
                ess_tail(draws),
            )
        )
    stats = np.array(rows, dtype=float).reshape(len(rows), 8)
    columns = ["mean", "sd", "q5", "q50", "q95", "r_hat", "ess_bulk", "ess_tail"]
    table = Table([np.array(names, dtype=str)], names=["name"])
    for i, column in enumerate(columns):
        table[column] = stats[:, i]
    return table


def check_convergence(
    ds: xr.Dataset | Draws,
    var_names: Iterable[str] | None = None,
    *,
    rhat_max: float = 1.01,
    min_ess_per_chain: float = 100,
    statistics: dict | None = None,
) -> list[str]:
    """List the convergence problems of a run, one human-readable sentence each.

    Checks every scalar quantity's R-hat and bulk and tail ESS, and, when the dataset holds
    them, divergent transitions (boolean variable ``diverging``) and transitions that hit the
    maximum tree depth (variable ``tree_depth`` compared with the attribute ``max_treedepth`` of
    the dataset or of that variable).

    Parameters
    ----------
    ds : xarray.Dataset or Draws
        Draws with dimensions ``('chain', 'draw', ...)``.
    var_names : iterable of str, optional
        Variables to check; default as in :func:`summary`.
    rhat_max : float, optional
        Largest acceptable R-hat.
    min_ess_per_chain : float, optional
        Smallest acceptable bulk and tail ESS per chain; the threshold is this times the
        number of chains.
    statistics : dict, optional
        :func:`convergence_statistics` of the same draws and ``var_names``, when already
        computed (a fit keeps them in ``args.run_info['convergence']``).

    Returns
    -------
    list of str
        Problems found; empty if none.
    """
    ds = as_draws(ds)
    if statistics is None:
        statistics = convergence_statistics(ds, var_names)
    n_chains = ds.sizes["chain"]
    min_ess = min_ess_per_chain * n_chains
    ess_rule = f"should be >= {min_ess:g}, i.e. {min_ess_per_chain:g} per chain for {n_chains}"
    problems = []
    for label, stats in statistics.items():
        if stats["non_finite"]:
            problems.append(
                f"{label} has {stats['non_finite']} non-finite draws out of {stats['size']}"
            )
            continue
        if stats["rhat"] > rhat_max:
            problems.append(f"R-hat of {label} is {stats['rhat']:.4f} (should be <= {rhat_max:g})")
        for kind in ("bulk", "tail"):
            ess = stats[f"ess_{kind}"]
            if ess < min_ess:
                problems.append(f"{kind} ESS of {label} is {ess:.0f} ({ess_rule} chains)")
    problems.extend(_sampler_problems(ds))
    return problems


def convergence_statistics(
    ds: xr.Dataset | Draws, var_names: Iterable[str] | None = None
) -> dict[str, dict]:
    """R-hat and bulk and tail ESS of every scalar quantity, as :func:`check_convergence`
    judges them.

    Parameters
    ----------
    ds : xarray.Dataset or Draws
        Draws with dimensions ``('chain', 'draw', ...)``.
    var_names : iterable of str, optional
        Variables to include; default as in :func:`summary`.

    Returns
    -------
    dict
        Label (``name`` or ``name[index]``) → ``{'rhat', 'ess_bulk', 'ess_tail',
        'non_finite', 'size'}``; a quantity with non-finite draws has NaN statistics.
    """
    out = {}
    for label, draws in _scalar_draws(ds, var_names):
        n_bad = int(np.count_nonzero(~np.isfinite(draws)))
        stats = {"non_finite": n_bad, "size": int(draws.size)}
        if n_bad:
            stats.update(rhat=np.nan, ess_bulk=np.nan, ess_tail=np.nan)
        else:
            stats.update(rhat=rhat(draws), ess_bulk=ess_bulk(draws), ess_tail=ess_tail(draws))
        out[label] = stats
    return out


def chi2_per_pixel(values: dict, args) -> float:
    """chi^2 per fitted pixel of the model at one point against the data.

    ``values`` maps each sampled site of ``args`` (a fit's or ``build()``'s ``ModelArgs``) to
    one value in its sampled units (e.g. posterior medians). Returns the mean of ``((flux -
    model) / error)^2`` over the pixels the likelihood uses (inside a continuum region, with a
    finite positive error; the error as the likelihood scales it), all spectra together:
    about ``1 +- sqrt(2 / N)`` for ``N`` pixels when the model describes the data and the
    errors are right, far above where a fit sits in a wrong mode. ``nan`` without pixels.
    """
    total, count = chi2_and_pixels(values, args)
    return total / count if count else float("nan")


def chi2_and_pixels(values: dict, args) -> tuple[float, int]:
    """chi^2 of the model at one point and the number of pixels it sums over (see
    :func:`chi2_per_pixel`)."""
    from unite_stan.compute import evaluate_model

    point = {name: np.array([float(values[name])]) for name in args.free_sites}
    total, count = 0.0, 0
    for prediction in evaluate_model(point, args):
        error = np.asarray(prediction.scaled_error, dtype=float)
        keep = np.asarray(prediction.in_region, dtype=bool) & np.isfinite(error) & (error > 0)
        residual = (prediction.observed_flux[keep] - prediction.total[0, keep]) / error[keep]
        total += float(np.sum(residual * residual))
        count += int(keep.sum())
    return total, count


def warn_convergence(
    ds: xr.Dataset | Draws,
    var_names: Iterable[str] | None = None,
    *,
    context: str = "",
    **thresholds,
) -> list[str]:
    """Issue one ``UserWarning`` listing every problem found by :func:`check_convergence`.

    Parameters
    ----------
    ds : xarray.Dataset or Draws
        Draws with dimensions ``('chain', 'draw', ...)``.
    var_names : iterable of str, optional
        Variables to check; default as in :func:`summary`.
    context : str, optional
        A last line for the warning (e.g. where the chains started).
    **thresholds
        ``rhat_max``, ``min_ess_per_chain`` and ``statistics``, passed to
        :func:`check_convergence`.

    Returns
    -------
    list of str
        The problems (empty, and no warning issued, if none).
    """
    problems = check_convergence(ds, var_names, **thresholds)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        warnings.warn(
            f"the MCMC run shows {len(problems)} convergence problem(s):\n{listing}"
            + (f"\n{context}" if context else ""),
            UserWarning,
            stacklevel=2,
        )
    return problems


def _as_chains(x) -> np.ndarray:
    draws = np.asarray(x, dtype=float)
    if draws.ndim == 1:
        return draws[np.newaxis, :]
    if draws.ndim != 2:
        raise ValueError(
            f"draws must have shape (chains, draws) or (draws,), got shape {draws.shape}"
        )
    return draws


def _split_chains(draws: np.ndarray) -> np.ndarray | None:
    """Halve every chain (dropping the middle draw of odd lengths), or None if undefined."""
    n_draws = draws.shape[1]
    if n_draws < _MIN_DRAWS or not np.all(np.isfinite(draws)) or np.ptp(draws) == 0:
        return None
    half = n_draws // 2
    return np.concatenate([draws[:, :half], draws[:, n_draws - half :]], axis=0)


def _rank_normalise(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks, with Blom's offset (Vehtari et al. 2021, eq. 14)."""
    ranks = _average_ranks(draws.ravel()).reshape(draws.shape)
    return ndtri((ranks - 3 / 8) / (draws.size + 1 / 4))


def _rhat_basic(chains: np.ndarray) -> float:
    n_draws = chains.shape[1]
    between = n_draws * np.var(chains.mean(axis=1), ddof=1)
    within = np.mean(np.var(chains, axis=1, ddof=1))
    if within == 0:
        return np.nan
    var_plus = (n_draws - 1) / n_draws * within + between / n_draws
    return float(np.sqrt(var_plus / within))


def _autocovariance(chains: np.ndarray) -> np.ndarray:
    """Biased (divided by n) autocovariance of each chain at lags 0..n-1, via FFT."""
    n_draws = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    # zero-padding to >= 2n turns the FFT's circular correlation into the linear one
    size = next_fast_len(2 * n_draws)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n_draws] / n_draws


def _ess(chains: np.ndarray) -> float:
    """Stan's multi-chain effective sample size of already split chains."""
    n_chains, n_draws = chains.shape
    n_total = n_chains * n_draws
    acov = _autocovariance(chains).mean(axis=0)
    within = acov[0] * n_draws / (n_draws - 1)
    var_plus = within * (n_draws - 1) / n_draws
    if n_chains > 1:
        var_plus += np.var(chains.mean(axis=1), ddof=1)
    if not var_plus > 0:
        return np.nan

    def rho(lag):
        return 1 - (within - acov[lag]) / var_plus

    rho_hat = np.zeros(n_draws)
    rho_even, rho_odd = 1.0, rho(1)
    rho_hat[:2] = rho_even, rho_odd
    # Geyer's initial positive sequence: sum pairs (even lag, odd lag) while a pair's sum stays
    # positive; as in Stan, the last lags of the chain are never read
    last = 0  # even lag of the last pair read
    while last < n_draws - 4 and rho_even + rho_odd > 0:
        last += 2
        rho_even, rho_odd = rho(last), rho(last + 1)
        if rho_even + rho_odd >= 0:
            rho_hat[last : last + 2] = rho_even, rho_odd
    # the even-lag autocorrelation of the pair that ended the sequence enters with weight one,
    # which reduces the variance of the estimate for antithetic chains
    if rho_even > 0:
        rho_hat[last] = rho_even
    # initial monotone sequence: pair sums may not increase with the lag
    for lag in range(2, last - 1, 2):
        previous = rho_hat[lag - 2] + rho_hat[lag - 1]
        if rho_hat[lag] + rho_hat[lag + 1] > previous:
            rho_hat[lag : lag + 2] = previous / 2
    tau = -1 + 2 * rho_hat[:last].sum() + rho_hat[last]
    # cap at n log10(n), Stan's bound for strongly antithetic chains
    return float(n_total / max(tau, 1 / np.log10(n_total)))


def _default_var_names(ds: Draws, *, scalar_only: bool = False) -> list[str]:
    """The parameters to report: ``ds.attrs['free_parameters']``, else every draw variable.

    With ``scalar_only``, fall back only to non-constant variables with exactly the
    dimensions (chain, draw), as wanted for plots.
    """
    listed = ds.attrs.get("free_parameters")
    if listed is not None:
        return [listed] if isinstance(listed, str) else [str(name) for name in listed]
    names = []
    for name in ds.variables:
        if name in SAMPLER_VARIABLES or not {"chain", "draw"} <= set(ds.dims(name)):
            continue
        values = ds[name]
        if scalar_only and (values.ndim != 2 or np.all(values == values.flat[0])):
            continue
        names.append(str(name))
    return names


def _scalar_draws(
    ds: xr.Dataset | Draws, var_names: Iterable[str] | None = None, *, scalar_only: bool = False
) -> list[tuple[str, np.ndarray]]:
    """``(label, draws of shape (chain, draw))`` for every element of the selected variables."""
    ds = as_draws(ds)
    if var_names is None:
        var_names = _default_var_names(ds, scalar_only=scalar_only)
    elif isinstance(var_names, str):
        var_names = [var_names]
    out = []
    for name in var_names:
        if name not in ds.variables:
            raise ValueError(
                f"variable {name!r} is not in the dataset; available: {sorted(ds.variables)}"
            )
        dims = ds.dims(name)
        if not {"chain", "draw"} <= set(dims):
            raise ValueError(
                f"variable {name!r} has dimensions {dims}; expected ('chain', 'draw', ...)"
            )
        extra = [dim for dim in dims if dim not in ("chain", "draw")]
        order = [dims.index(dim) for dim in ("chain", "draw", *extra)]
        values = np.transpose(ds[name], order)
        for index in np.ndindex(*values.shape[2:]):
            out.append((_element_label(ds, name, extra, index), values[(..., *index)]))
    return out


def _element_label(ds: Draws, name: str, dims: Sequence[str], index: tuple) -> str:
    if not index:
        return name
    labels = [
        str(ds[dim][i]) if dim in ds.coords else str(i) for dim, i in zip(dims, index, strict=True)
    ]
    return f"{name}[{','.join(labels)}]"


def _sampler_problems(ds: Draws) -> list[str]:
    problems = []
    if "diverging" in ds:
        diverging = ds["diverging"].astype(bool)
        n_div = int(diverging.sum())
        if n_div:
            problems.append(
                f"{n_div} of {diverging.size} transitions ({n_div / diverging.size:.1%}) were "
                "divergent; the posterior estimates may be biased"
            )
    if "tree_depth" in ds:
        depth = ds["tree_depth"]
        max_depth = ds.attrs.get("max_treedepth", ds.var_attrs("tree_depth").get("max_treedepth"))
        if max_depth is not None:
            n_hit = int(np.count_nonzero(depth >= max_depth))
            if n_hit:
                problems.append(
                    f"{n_hit} of {depth.size} transitions hit the maximum tree depth of "
                    f"{max_depth}; sampling was inefficient"
                )
    return problems


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank (``scipy.stats.rankdata``'s
    'average' method, without importing scipy.stats, which costs half a second)."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # start index of each run of equal values, and the average rank of the run
    new_run = np.concatenate(([True], sorted_x[1:] != sorted_x[:-1]))
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], x.size)
    run_rank = 0.5 * (starts + 1 + ends)
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks
