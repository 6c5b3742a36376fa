"""Stage ``sample``: the main NUTS run, raising ``adapt_delta`` while divergences remain
(when the user sets none), on the program laid out with the continuum statistics."""

from __future__ import annotations

import dataclasses

import numpy as np

from unite_stan.stan.convert import raw_to_draws
from unite_stan.stan.stages.state import FitState

__all__ = ["run_main", "stage"]


def stage(state: FitState) -> FitState:
    return run_main(state, "sample")


def run_main(state: FitState, name: str) -> FitState:
    """Sample the main run on the state's layout with the continuum statistics; record under
    ``name``. Shared by the stages that (re)run the main sampling."""
    layout = dataclasses.replace(state.layout, statistics=True)
    main = state.program_for(layout)
    inits = [{"xi": np.asarray(x, dtype=float)} for x in state.inits]
    ladder = state.settings.ladder
    tries = 0
    for target in ladder:
        tries += 1
        settings = state.sampler.replace(adapt_delta=target)
        raw = state.engine.sample(state.compiled, main.data, settings, inits=inits)
        divergences = int(raw.column("divergent__").sum())
        if divergences == 0:
            break
    draws = raw_to_draws(raw, main, state.args)
    return state.update(draws=draws, main=main).note(
        name,
        adapt_delta=float(target),
        adapt_delta_tries=tries,
        divergences=divergences,
        continuum_statistics_pixels=int(np.sum(main.data.get("region_stat_n", 0))),
    )
