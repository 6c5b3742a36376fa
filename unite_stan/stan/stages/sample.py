"""Stage ``sample``: the main NUTS run, raising ``adapt_delta`` while divergences remain
(when the user sets none), on the program laid out with the continuum statistics."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from unite_stan.progress import report
from unite_stan.stan.convert import raw_to_draws
from unite_stan.stan.stages.state import FitState

__all__ = ["RETRY_WARMUP", "run_main", "stage", "warm_retry"]

#: Warmup iterations of a retry at a higher adapt_delta (step size only; see warm_retry).
RETRY_WARMUP = 150


def stage(state: FitState) -> FitState:
    return run_main(state, "sample")


def run_main(state: FitState, name: str) -> FitState:
    """Sample the main run on the state's layout with the continuum statistics; record under
    ``name`` (with each try's seconds). Shared by the stages that (re)run the main sampling.

    A run with divergent transitions is repeated at the next ``adapt_delta`` of the ladder
    (when the user set none), from its warmed-up state (:func:`warm_retry`).
    """
    layout = dataclasses.replace(state.layout, statistics=True)
    main = state.program_for(layout)
    inits = [{"xi": np.asarray(x, dtype=float)} for x in state.inits]
    settings = state.sampler
    seconds = []
    for tries, target in enumerate(state.settings.ladder, start=1):
        settings = settings.replace(adapt_delta=target)
        start = time.perf_counter()
        raw = state.engine.sample(state.compiled, main.data, settings, inits=inits)
        seconds.append(round(time.perf_counter() - start, 3))
        divergences = int(raw.column("divergent__").sum())
        if divergences == 0:
            break
        if tries < len(state.settings.ladder):
            report(
                "sample",
                f"{divergences} divergent transitions at adapt_delta={target}: sampling again "
                f"at adapt_delta={state.settings.ladder[tries]}",
            )
            main, inits, settings = warm_retry(main, raw, settings)
    draws = raw_to_draws(raw, main, state.args)
    return state.update(draws=draws, main=main).note(
        name,
        adapt_delta=float(target),
        adapt_delta_tries=tries,
        retry_metric=settings.metric if tries > 1 else None,
        retry_warmup=settings.num_warmup if tries > 1 else None,
        try_seconds=seconds,
        divergences=divergences,
        continuum_statistics_pixels=int(np.sum(main.data.get("region_stat_n", 0))),
    )


def warm_retry(main, raw, settings):
    """What a retry at a higher ``adapt_delta`` starts from: the warmed-up state of the run
    that diverged, not a fresh warmup.

    The run's adapted diagonal metric (averaged over chains) is folded into the coordinates
    (``u = loc + chol diag(sqrt(m)) xi``, data only), so the retry samples with the unit metric
    and adapts only its step size, over ``RETRY_WARMUP`` iterations, from the run's last
    draws. Returns ``(program, inits, settings)``; a run with another metric, or whose warmup
    is already this short, is retried as it was.
    """
    last = raw.xi(len(main.free_sites))[:, -1]
    if settings.metric != "diag_e" or settings.num_warmup <= RETRY_WARMUP:
        return main, [{"xi": x} for x in last], settings
    scale = np.sqrt(np.mean(raw.inv_metric, axis=0))
    program = main.with_coordinates(
        main.data["coord_loc"], np.asarray(main.data["coord_chol"]) * scale[None, :]
    )
    inits = [{"xi": x / scale} for x in last]
    return program, inits, settings.replace(metric="unit_e", num_warmup=RETRY_WARMUP)
