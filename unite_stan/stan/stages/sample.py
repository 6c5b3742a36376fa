"""Stage ``sample``: the main NUTS run, raising ``adapt_delta`` while divergences remain
(when the user sets none), on the program laid out with the continuum statistics."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from unite_stan.progress import report
from unite_stan.stan.convert import raw_to_draws
from unite_stan.stan.stages.state import FitState

__all__ = ["run_main", "stage"]


def stage(state: FitState) -> FitState:
    return run_main(state, "sample")


def run_main(state: FitState, name: str) -> FitState:
    """Sample the main run on the state's layout with the continuum statistics; record under
    ``name`` (with each try's seconds). Shared by the stages that (re)run the main sampling.

    A run with divergent transitions is repeated at the next ``adapt_delta`` of the ladder
    (when the user set none), from the same starts.
    """
    layout = dataclasses.replace(state.layout, statistics=True)
    main = state.program_for(layout)
    inits = [{"xi": np.asarray(x, dtype=float)} for x in state.inits]
    seconds = []
    for tries, target in enumerate(state.settings.ladder, start=1):
        settings = state.sampler.replace(adapt_delta=target)
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
    draws = raw_to_draws(raw, main, state.args)
    return state.update(draws=draws, main=main).note(
        name,
        adapt_delta=float(target),
        adapt_delta_tries=tries,
        try_seconds=seconds,
        divergences=divergences,
        continuum_statistics_pixels=int(np.sum(main.data.get("region_stat_n", 0))),
    )
