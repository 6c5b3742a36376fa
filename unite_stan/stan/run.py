"""Run NUTS on a rendered program: compile (cached), pilot, sample, convert to named draws.

Shared by every backend: only compile/log-density/sample calls go through the backend adapter.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from unite_stan.compute import resolve_site_values
from unite_stan.draws import Draws, as_draws
from unite_stan.prior import Fixed, TruncatedNormal, Uniform
from unite_stan.stan.coordinates import (
    coordinate_kind,
    log_prob_offset,
    to_unconstrained,
    to_value,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["constrain", "draws_to_dataset", "raw_to_draws", "run_nuts", "unconstrain"]

SAMPLE_STATS = {
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}


def unconstrain(args, values: dict[str, float]) -> np.ndarray:
    """The sampler's unconstrained coordinates of free sites: unite's (logit of the position in
    the bounds), except the slope ``tan(angle)`` for a ``Uniform(-pi/2, pi/2)`` prior (see
    :mod:`unite_stan.stan.coordinates`).

    ``values`` must hold every free site; bounds that are expressions are resolved from it.
    """
    context = {}
    out = []
    for name in args.dependency_order:
        prior = args.all_priors[name]
        token = args.name_to_token[name]
        if isinstance(prior, Fixed):
            context[token] = float(prior.resolved_value(context))
            continue
        value = float(values[name])
        context[token] = value
        if isinstance(prior, (Uniform, TruncatedNormal)):
            low, high = prior.low.evaluate(context), prior.high.evaluate(context)
        else:  # pragma: no cover
            raise TypeError(f"unsupported prior {prior!r}")
        if not low < value < high:
            raise ValueError(
                f"start value {value:g} of {name!r} is outside its prior bounds ({low:g}, {high:g})"
            )
        out.append(to_unconstrained(coordinate_kind(prior), value, low, high))
    return np.array(out)


def run_nuts(
    program,
    args,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int,
    seed: int,
    progress: bool,
    init_values: dict | None,
    backend: str,
    adapt_delta: float | None,
    max_treedepth: int,
    parallel_chains: int | None,
    pilot: bool,
    metric: str = "diag_e",
    threads_per_chain: int | None = None,
) -> dict[str, np.ndarray]:
    """Compile, pilot and sample; fills ``args.program``, ``args.dataset``, ``args.run_info``.

    ``args.dataset`` is given the run's :class:`~unite_stan.draws.Draws`; the
    ``xarray.Dataset`` is built from them when it is first read.
    """
    from unite_stan.diagnostics import warn_convergence
    from unite_stan.stan.backends import get_backend
    from unite_stan.stan.pilot import dispersed_inits, laplace_check, laplace_pilot

    for what, v in (
        ("num_warmup", num_warmup),
        ("num_samples", num_samples),
        ("num_chains", num_chains),
    ):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, np.integer))
            or v < (0 if what == "num_warmup" else 1)
        ):
            raise ValueError(f"{what}={v!r} must be a positive integer")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")

    if not program.free_sites:
        raise ValueError(
            "nothing to sample: every parameter of this model is Fixed; free at least one "
            "(e.g. a line flux) or evaluate the model with unite_stan.compute.evaluate_model"
        )
    threads = choose_threads(program.data, num_chains, parallel_chains, threads_per_chain)
    program = program.with_blocks(likelihood_blocks(program.data, threads))
    engine = get_backend(backend)
    t0 = time.perf_counter()
    compiled = engine.compile(program.code, progress=progress)
    compile_seconds = time.perf_counter() - t0
    n_free = len(program.free_sites)
    rng = np.random.default_rng(seed)

    explicit = dict(args.init_values)
    if init_values is not None and not isinstance(init_values, Mapping):
        raise TypeError(
            f"init_strategy={init_values!r}: unite_stan takes a dict of start values "
            "{site name: value in the parameter's units}; NumPyro init strategies do not apply "
            "to Stan"
        )
    if init_values:
        unknown = sorted(set(init_values) - set(program.free_sites))
        if unknown:
            raise ValueError(
                f"init values given for {unknown}, which are not sampled sites; sampled sites "
                f"are {program.free_sites}"
            )
        explicit.update({k: float(v) for k, v in init_values.items()})

    starts = []
    for _ in range(max(num_chains, 4)):
        u0 = rng.uniform(-2.0, 2.0, size=n_free)
        if explicit:
            u0 = unconstrain(args, {**constrain(args, u0), **explicit})
        starts.append(u0)

    pilot_info = {"used": False}
    loc, chol = np.zeros(n_free), np.eye(n_free)
    t1 = time.perf_counter()
    if pilot and n_free > 0:
        density = engine.log_density(compiled, program.data)
        result = laplace_pilot(density, starts[:4])
        loc, chol = result.loc, result.chol
        pilot_info = {
            "used": result.kind != "identity",
            "kind": result.kind,
            "message": result.message,
            "mode_log_density": result.mode_log_density,
            "n_evaluations": result.n_evaluations,
            "seconds": result.seconds,
        }
        if result.kind == "identity":
            loc = np.zeros(n_free)
        xi_inits = (
            dispersed_inits(result, num_chains, rng)
            if result.kind != "identity" and not explicit
            else [_to_xi(loc, chol, u0) for u0 in starts[:num_chains]]
        )
        check_sd, other_modes = np.inf, 0
        if result.kind != "identity":
            check_sd = laplace_check(density, result, rng)
            other_modes = result.other_modes()
        pilot_info.update({"laplace_check_sd": check_sd, "other_modes": other_modes})
        if check_sd <= LAPLACE_CHECK_MAX and other_modes == 0 and not explicit:
            refine_info = {
                "refined": False,
                "refine_message": f"Laplace check sd {check_sd:.2f} <= {LAPLACE_CHECK_MAX}: "
                "the Laplace map is kept and chains start from its draws",
            }
        else:
            loc, chol, xi_inits, refine_info = refine_map(
                engine,
                compiled,
                program,
                loc,
                chol,
                xi_inits,
                seed=seed,
                adapt_delta=adapt_delta if adapt_delta is not None else 0.8,
                max_treedepth=max_treedepth,
                parallel_chains=parallel_chains,
                threads_per_chain=threads,
            )
        pilot_info.update(refine_info)
    else:
        xi_inits = [starts[c].copy() for c in range(num_chains)]
    pilot_seconds = time.perf_counter() - t1

    run_program = program.with_coordinates(loc, chol)
    main_program, window_info = run_program, {"line_windows": "prior"}
    if pilot_info["used"] and program.windows is not None:
        narrow = posterior_windows(program, args, loc, chol)
        prior_edges = int(np.sum(run_program.data["line_win_len"]))
        if int(np.sum(narrow[1])) < prior_edges:
            main_program = run_program.with_windows(*narrow)
            window_info = {"line_windows": "posterior"}
        window_info.update(
            {"line_window_edges": int(np.sum(narrow[1])), "line_window_edges_prior": prior_edges}
        )
    # pixels carrying only a Linear continuum summed through their statistics (exact)
    main_program = main_program.with_continuum_statistics()
    inits = [{"xi": np.asarray(x, dtype=float)} for x in xi_inits]
    # adapt_delta=None: Stan's 0.8, raised step by step while the run has divergences.
    ladder = ADAPT_DELTA_LADDER if adapt_delta is None else (float(adapt_delta),)

    def sample(prog):
        for target in ladder:
            raw = engine.sample(
                compiled,
                prog.data,
                num_warmup=int(num_warmup),
                num_samples=int(num_samples),
                num_chains=int(num_chains),
                seed=int(seed),
                inits=inits,
                adapt_delta=target,
                max_treedepth=max_treedepth,
                parallel_chains=parallel_chains,
                threads_per_chain=threads,
                progress=progress,
                metric=metric,
            )
            if raw.column("divergent__").sum() == 0:
                break
        return raw, target

    raw, adapt_delta = sample(main_program)
    draws = raw_to_draws(raw, main_program, args)
    if window_info["line_windows"] == "posterior" and not draws_within_windows(
        args, draws, main_program.data, program.windows
    ):
        # a draw's line came within WINDOW_CHECK_MARGIN profile sd of a narrowed window's
        # edge: the narrowing is not safe for this posterior; repeat on the prior's windows
        window_info["line_windows"] = "prior (posterior windows failed their check)"
        main_program = run_program.with_continuum_statistics()
        raw, adapt_delta = sample(main_program)
        draws = raw_to_draws(raw, main_program, args)
    draws.attrs.update(
        {
            "compile_seconds": compile_seconds,
            "pilot_seconds": pilot_seconds,
            "pilot": str(pilot_info.get("kind", "off")),
            "pilot_message": str(pilot_info.get("message", "")),
            "pilot_refined": bool(pilot_info.get("refined", False)),
            "pilot_check_sd": float(pilot_info.get("laplace_check_sd", np.nan)),
            "max_treedepth": int(max_treedepth),
            "metric": metric,
            "adapt_delta": float(adapt_delta),
            "adapt_delta_tries": ladder.index(adapt_delta) + 1,
            "threads_per_chain": int(threads),
            "likelihood_blocks": int(run_program.data["N_block"]),
            "build_record": str(getattr(compiled.record, "artifact", "")),
            "line_windows": window_info["line_windows"],
            "line_window_edges": int(np.sum(main_program.data["line_win_len"])),
            "continuum_statistics_pixels": int(np.sum(main_program.data.get("region_stat_n", 0))),
        }
    )
    args.program = main_program
    args.dataset = draws  # the xarray.Dataset is built on first read
    args.run_info = {"pilot": pilot_info, "build_record": compiled.record, "windows": window_info}
    warn_convergence(draws, list(program.free_sites))

    samples = {name: draws[name].reshape(-1) for name in program.free_sites}
    samples["log_prob"] = draws["log_prob"].reshape(-1)
    # summed over spectra skipping NaN, as xarray's sum does
    samples["log_likelihood"] = np.nansum(draws["log_likelihood"], axis=-1).reshape(-1)
    return samples


#: Automatic threading needs this many pixels (all spectra) and at least THREAD_MIN_THREADS
#: cores per chain left over by the chains running at once. The threaded path evaluates the
#: likelihood in a function called by reduce_sum, where stanc's optimiser cannot inline it or
#: use its struct-of-arrays autodiff types: per thread it costs 2.3-3.2x the serial path, and
#: two threads scale by 1.1-1.7x (measured from 414 to 20000 pixels, benchmarks/threads.py),
#: so three threads per chain only break even; it pays from four on (never on a 2-core
#: machine).
THREAD_MIN_PIXELS, THREAD_MIN_THREADS = 4000, 4
#: Smallest block of pixels worth a reduce_sum task, and blocks per thread (load balance).
BLOCK_MIN_PIXELS, BLOCKS_PER_THREAD = 100, 2


def choose_threads(
    data: dict, num_chains: int, parallel_chains: int | None, threads_per_chain: int | None
) -> int:
    """Threads per chain: the user's choice (checked against the cores), else automatic.

    Automatic: the cores left over by the chains running at once, when there are at least
    :data:`THREAD_MIN_THREADS` of them per chain and the likelihood has at least
    :data:`THREAD_MIN_PIXELS` pixels; otherwise one.
    """
    from unite_stan.stan.backends.base import (
        available_cores,
        check_threads,
        default_parallel_chains,
    )

    if threads_per_chain is not None:
        check_threads(threads_per_chain, parallel_chains, num_chains)
        return int(threads_per_chain)
    if int(data["N_pix"]) < THREAD_MIN_PIXELS:
        return 1
    at_once = min(num_chains, parallel_chains or default_parallel_chains(num_chains))
    threads = available_cores() // at_once
    return threads if threads >= THREAD_MIN_THREADS else 1


def likelihood_blocks(data: dict, threads: int) -> list[int]:
    """Pixel blocks per spectrum for ``threads`` threads per chain (one block when unthreaded)."""
    n_pix = [int(n) for n in data["spec_n_pix"]]
    if threads <= 1:
        return [1] * len(n_pix)
    return [max(1, min(BLOCKS_PER_THREAD * threads, n // BLOCK_MIN_PIXELS)) for n in n_pix]


#: adapt_delta values tried in turn, while divergences remain, when the user sets none.
ADAPT_DELTA_LADDER = (0.8, 0.95, 0.99)

#: Length of the short NUTS run that refines the Laplace map (warmup, draws per chain).
#: 75 + 75 against 150 + 150, seeds 0-2 (2026-12-02, warm cache): min bulk ESS per second of
#: dozen_lines 1002 -> 1278 (mean), low_snr 2170 -> 2375; broad_blended (seed 0) bulk ESS
#: 549 -> 724, R-hat 1.0095 -> 1.0035, divergences at adapt_delta 0.99 6 -> 4.
REFINE_WARMUP, REFINE_DRAWS = 75, 75
#: The short run is skipped when the Laplace map passes its check: the standard deviation of
#: the log importance weights of 32 of its draws (pilot.laplace_check) at most this, and no
#: other optimum found by the starts. Measured (benchmarks/): 0.19 on the tutorial's Fit 1,
#: 0.25-0.28 on broad_narrow and two_resolutions; refining those lowered ESS per second by
#: 12-30 %. 1.2-17 on low_snr, dozen_lines and broad_blended, which keep it.
LAPLACE_CHECK_MAX = 1.0


def refine_map(
    engine,
    compiled,
    program,
    loc,
    chol,
    xi_inits,
    *,
    seed,
    adapt_delta,
    max_treedepth,
    parallel_chains,
    threads_per_chain=1,
):
    """Re-whiten with the covariance of a short NUTS run in the Laplace coordinates.

    The Laplace approximation describes the posterior at its mode; along a curved or flat
    degeneracy (a broad line trading flux with its neighbours and the redshift) the posterior
    can be several times wider than the mode's curvature says, and a diagonal metric cannot
    repair a mis-scaled direction that is not axis-aligned. A short run (``REFINE_WARMUP`` +
    ``REFINE_DRAWS`` iterations per chain) measures the actual covariance, shrunk towards the
    Laplace map, and the main run starts from the short run's last draws, so chains start
    dispersed over the posterior rather than at the mode (and in different modes if there are
    several). Returns ``(loc, chol, xi_inits, info)``.
    """
    d = loc.size
    short = engine.sample(
        compiled,
        program.with_coordinates(loc, chol).data,
        num_warmup=REFINE_WARMUP,
        num_samples=REFINE_DRAWS,
        num_chains=len(xi_inits),
        seed=(int(seed) + 7919) % 2**32,
        inits=[{"xi": np.asarray(x, dtype=float)} for x in xi_inits],
        adapt_delta=adapt_delta,
        max_treedepth=max_treedepth,
        parallel_chains=parallel_chains,
        threads_per_chain=threads_per_chain,
        progress=False,
    )
    cols = [short.columns.index(f"xi.{k + 1}") for k in range(d)]
    xi = short.values[:, :, cols]
    flat = xi.reshape(-1, d)
    mean = flat.mean(axis=0)
    cov = np.atleast_2d(np.cov(flat, rowvar=False))
    shrink = _shrinkage_to_identity(xi, mean, cov)
    cov = (1.0 - shrink) * cov + shrink * np.eye(d)
    try:
        factor = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return loc, chol, xi_inits, {"refined": False, "refine_message": "covariance not PD"}
    eig = np.linalg.eigvalsh(cov)
    new_inits = [np.linalg.solve(factor, xi[c, -1] - mean) for c in range(xi.shape[0])]
    info = {
        "refined": True,
        "refine_shrinkage": shrink,
        "refine_variance_range": (float(eig[0]), float(eig[-1])),
        "refine_divergences": int(short.values[:, :, short.columns.index("divergent__")].sum()),
    }
    return loc + chol @ mean, chol @ factor, new_inits, info


def _shrinkage_to_identity(xi: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """Ledoit-Wolf weight of the identity (the Laplace map's prediction) in the covariance
    estimate from autocorrelated draws ``xi`` (chains, draws, d).

    The weight is the estimated squared error of ``cov`` over its squared distance from the
    identity: near 1 when the draws cannot tell the covariance from the identity, near 0 when
    the difference is clear. The error uses the effective sample size (the smallest bulk ESS
    over coordinates), not the number of draws, since NUTS draws are autocorrelated.
    """
    from unite_stan.diagnostics import ess_bulk

    d = cov.shape[0]
    flat = xi.reshape(-1, d) - mean
    n = flat.shape[0]
    n_eff = max(2.0, min(min(ess_bulk(xi[:, :, k]) for k in range(d)), n))
    distance = float(np.sum((cov - np.eye(d)) ** 2))
    outer = flat[:, :, None] * flat[:, None, :]
    spread = float(np.sum((outer - cov) ** 2)) / n / n_eff
    if not distance > 0:
        return 1.0
    return float(min(1.0, spread / distance))


#: The main run's line windows cover the pilot's approximation out to this many standard
#: deviations of every unconstrained coordinate (they are never wider than the prior's).
#: The check on the draws, not this radius, is what makes the narrowing safe.
WINDOW_RADIUS = 8.0
#: After the run, the draws' lines must lie inside the windows with at most this many fewer
#: profile standard deviations to spare than the windows are built with (7 of 8 for a
#: Gaussian: beyond 7 sigma lies 1.3e-12 of the line's flux); otherwise the run is repeated
#: on the prior's windows.
WINDOW_CHECK_MARGIN = 1.0


def posterior_windows(program, args, loc, chol, radius: float = WINDOW_RADIUS):
    """Line windows (start, length) for every site value within ``radius`` standard
    deviations of the pilot's map ``u = loc + chol @ xi``, ``xi`` ~ N(0, I).

    A line's profile is evaluated on a window of pixel edges; the prior's windows hold for any
    value the priors allow (a redshift prior of ±0.01 at Hα spans ±66 Å), while the posterior
    usually pins the centre to a fraction of the line width. Narrower windows make each
    gradient cheaper; :func:`draws_within_windows` checks them against the draws.
    """
    from unite_stan.stan.data import line_windows
    from unite_stan.stan.ranges import site_ranges

    sd = np.sqrt(np.sum(np.asarray(chol) ** 2, axis=1))
    free_u = {
        name: (float(loc[k] - radius * sd[k]), float(loc[k] + radius * sd[k]))
        for k, name in enumerate(program.free_sites)
    }
    # the box's site ranges lie within the prior's, so these windows within the prior's
    return line_windows(args, site_ranges(args, free_u), program.windows)


def draws_within_windows(args, ds: Draws | xr.Dataset, data: dict, windows) -> bool:
    """Whether every draw's lines fit the windows of ``data`` with at most
    ``WINDOW_CHECK_MARGIN`` fewer profile standard deviations to spare than the windows are
    built with.

    Conservative: the windows needed by the box of the draws' ranges (per site, min to max,
    NaN skipped) must lie inside. Where ``data`` holds the prior's windows this always holds.
    """
    from unite_stan.stan.data import line_windows, windows_contain

    draws = as_draws(ds)
    ranges = {
        site: (float(np.nanmin(draws[site])), float(np.nanmax(draws[site])))
        for site in args.dependency_order
    }
    needed = line_windows(args, ranges, windows, -WINDOW_CHECK_MARGIN)
    used = (data["line_win_start"], data["line_win_len"])
    return bool(np.all(windows_contain(used, needed)))


def constrain(args, u_free: np.ndarray) -> dict[str, float]:
    """Free-site values from the sampler's unconstrained coordinates (``unconstrain``'s inverse)."""
    values: dict[str, float] = {}
    context = {}
    k = 0
    for name in args.dependency_order:
        prior = args.all_priors[name]
        token = args.name_to_token[name]
        if isinstance(prior, Fixed):
            context[token] = float(prior.resolved_value(context))
            continue
        low, high = prior.low.evaluate(context), prior.high.evaluate(context)
        values[name] = float(to_value(coordinate_kind(prior), u_free[k], low, high))
        context[token] = values[name]
        k += 1
    return values


def _to_xi(loc: np.ndarray, chol: np.ndarray, u0: np.ndarray) -> np.ndarray:
    return np.linalg.solve(chol, u0 - loc)


def draws_to_dataset(raw, program, args) -> xr.Dataset:
    """Stan output → ``xarray.Dataset`` with dims (chain, draw), variables named by site.

    The dataset of :func:`raw_to_draws`, which describes its variables and attributes.
    """
    return raw_to_draws(raw, program, args).to_dataset()


def raw_to_draws(raw, program, args) -> Draws:
    """Stan output → :class:`~unite_stan.draws.Draws` with dims (chain, draw), variables
    named by site.

    Every site of ``args.dependency_order`` (Fixed ones resolved per draw), ``lp__`` (Stan's
    target, in the program's coordinates), ``log_prob`` (unite's log joint on its unconstrained
    scale), ``log_likelihood`` (chain, draw, spectrum) and the sampler statistics of
    ``SAMPLE_STATS``; attributes name the backend, program hash, seed, timings and the free and
    fixed parameters.
    """
    columns = {c: k for k, c in enumerate(raw.columns)}
    n_chain, n_draw = raw.values.shape[:2]
    coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    data_vars = {}

    def col(name):
        return raw.values[:, :, columns[name]]

    samples = {}
    for site in program.free_sites:
        samples[site] = col(program.name_map.ident(site)).reshape(-1)
    values = resolve_site_values(samples, args)
    for site in args.dependency_order:
        data_vars[site] = (("chain", "draw"), values[site].reshape(n_chain, n_draw))
    data_vars["lp__"] = (("chain", "draw"), col("lp__"))
    # unite's log_prob: lp__ carries the Jacobian of the program's coordinates
    offset = log_prob_offset(args, values).reshape(n_chain, n_draw)
    data_vars["log_prob"] = (("chain", "draw"), col("lp__") + offset)
    n_spec = len(args.spectra)
    loglik = np.stack([col(f"log_lik_spec.{s + 1}") for s in range(n_spec)], axis=-1)
    data_vars["log_likelihood"] = (("chain", "draw", "spectrum"), loglik)
    for stan_name, name in SAMPLE_STATS.items():
        if stan_name in columns:
            v = col(stan_name)
            if name == "diverging":
                v = v.astype(bool)
            elif name in ("tree_depth", "n_steps"):
                v = v.astype(int)
            data_vars[name] = (("chain", "draw"), v)
    coords["spectrum"] = [s.name for s in args.spectra]
    return Draws(
        data_vars,
        coords,
        {
            "backend": raw.backend,
            "program_hash": program.code_hash,
            "seed": int(raw.seed),
            "warmup_seconds": float(np.max(raw.warmup_seconds)),
            "sampling_seconds": float(np.max(raw.sampling_seconds)),
            "free_parameters": list(program.free_sites),
            "fixed_parameters": list(program.fixed_sites),
        },
    )
