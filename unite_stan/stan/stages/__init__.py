"""A fit as a sequence of named stages, shared by every backend.

Each stage is a module with a ``stage(state) -> state`` function over
:class:`~unite_stan.stan.stages.state.FitState`; :data:`STAGES` fixes their order:

``layout``
    threads per chain and the likelihood's pixel blocks;
``starts``
    start points, with the user's start values (checked before anything compiles);
``compile``
    the backend builds the program (cached);
``pilot``
    the Laplace approximation at the mode, and its check;
``coordinates``
    line fluxes whose posterior reaches zero move to the flux coordinate;
``refine``
    a short NUTS run re-whitens the map where the check fails;
``windows``
    line windows narrowed to the pilot's posterior;
``sample``
    the main NUTS run (``adapt_delta`` raised while divergences remain);
``window_check``
    the draws must fit the narrowed windows, else the run repeats on the prior's.

A new stage (another pilot, simulation-based calibration, Pathfinder starts) is one module
and one entry here. Only the backend's compile, log density and sample calls differ between
backends. :func:`run_fit` returns a :class:`~unite_stan.stan.stages.state.FitResult`;
``ModelBuilder.fit`` attaches it to ``args``.
"""

from __future__ import annotations

import time

import numpy as np

from unite_stan.stan.settings import FitSettings
from unite_stan.stan.stages import (
    compile,
    coordinates,
    layout,
    pilot,
    refine,
    sample,
    starts,
    window_check,
    windows,
)
from unite_stan.stan.stages.state import FitResult, FitState

__all__ = ["STAGES", "FitResult", "FitState", "run_fit", "run_stages"]

#: The stages of a fit, in order: (name, function).
STAGES = tuple(
    (module.__name__.rsplit(".", 1)[-1], module.stage)
    for module in (
        layout,
        starts,
        compile,
        pilot,
        coordinates,
        refine,
        windows,
        sample,
        window_check,
    )
)


def run_stages(state: FitState, stages=STAGES) -> FitState:
    """Run ``stages`` in turn from ``state``, timing each; one line per stage is logged."""
    from unite_stan._blas import one_blas_thread
    from unite_stan.stan.stages.report import report

    seconds = dict(state.seconds)
    # the stages' numpy/scipy calls are small and Stan's threads hold the cores (_blas.py)
    with one_blas_thread():
        for name, function in stages:
            start = time.perf_counter()
            state = function(state)
            seconds[name] = time.perf_counter() - start
            state = state.update(seconds=seconds.copy())
            report(name, state)
    return state


def run_fit(program, args, settings: FitSettings) -> FitResult:
    """Fit ``program`` (rendered from ``args``) with ``settings``: run :data:`STAGES` and
    collect the result."""
    if not program.free_sites:
        raise ValueError(
            "nothing to sample: every parameter of this model is Fixed; free at least one "
            "(e.g. a line flux) or evaluate the model with unite_stan.compute.evaluate_model"
        )
    state = FitState(
        program=program,
        args=args,
        settings=settings,
        rng=np.random.default_rng(settings.sampler.seed),
        sampler=settings.sampler,
    )
    return result_of(run_stages(state))


def result_of(state: FitState) -> FitResult:
    """The :class:`FitResult` of a finished state: the draws with the run's attributes,
    the stages' records, unite's flat samples; warns on poor convergence."""
    from unite_stan.diagnostics import convergence_statistics, warn_convergence

    draws, main = state.draws, state.main
    last = "window_check" if state.recorded("window_check", "passed") is False else "sample"
    pilot_info = dict(state.info.get("pilot", {}))
    for key, value in state.info.get("refine", {}).items():
        pilot_info["refined" if key == "refined" else f"refine_{key}"] = value
    window_info = dict(state.info.get("windows", {}))
    if last == "window_check":
        window_info["line_windows"] = state.recorded("window_check", "line_windows")
    record = state.compiled.record
    draws.attrs.update(
        {
            "pilot": str(pilot_info.get("kind", "off")),
            "pilot_message": str(pilot_info.get("message", "")),
            "pilot_refined": bool(pilot_info.get("refined", False)),
            "pilot_check_sd": float(pilot_info.get("laplace_check_sd", np.nan)),
            "pilot_chi2_per_pixel": float(pilot_info.get("chi2_per_pixel", np.nan)),
            "pilot_restarts": int(pilot_info.get("restarts", 0)),
            "max_treedepth": state.sampler.max_treedepth,
            "metric": state.sampler.metric,
            "adapt_delta": state.recorded(last, "adapt_delta"),
            "adapt_delta_tries": state.recorded(last, "adapt_delta_tries"),
            "chain_adapt_delta": state.recorded(last, "chain_adapt_delta"),
            "threads_per_chain": state.sampler.threads_per_chain,
            "likelihood_blocks": state.recorded("layout", "likelihood_blocks"),
            "build_record": str(getattr(record, "artifact", "")),
            "line_windows": window_info["line_windows"],
            "line_window_edges": int(np.sum(main.data["line_win_len"])),
            "continuum_statistics_pixels": state.recorded(last, "continuum_statistics_pixels"),
            **{f"{name}_seconds": float(s) for name, s in state.seconds.items()},
        }
    )
    starts = next(
        state.recorded(name, "chain_starts")
        for name in ("refine", "pilot", "starts")
        if state.recorded(name, "chain_starts")
    )
    draws.attrs["chain_starts"] = starts
    free = list(state.program.free_sites)
    convergence = convergence_statistics(draws, free)
    warn_convergence(
        draws,
        free,
        context=f"The chains started from {starts} (stages: {', '.join(state.info)}).",
        statistics=convergence,
    )
    samples = {name: draws[name].reshape(-1) for name in state.program.free_sites}
    samples["log_prob"] = draws["log_prob"].reshape(-1)
    # summed over spectra skipping NaN, as xarray's sum does
    samples["log_likelihood"] = np.nansum(draws["log_likelihood"], axis=-1).reshape(-1)
    run_info = {
        "pilot": pilot_info,
        "build_record": record,
        "windows": window_info,
        "stages": {name: dict(info) for name, info in state.info.items()},
        "seconds": dict(state.seconds),
        "convergence": convergence,
    }
    return FitResult(program=main, draws=draws, run_info=run_info, samples=samples)
