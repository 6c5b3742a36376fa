"""Stage ``pilot``: the Laplace approximation at the posterior mode, whose map whitens the
sampling coordinates (see :mod:`unite_stan.stan.pilot`), and the check of how well it
describes the posterior."""

from __future__ import annotations

import numpy as np

from unite_stan.stan.render import Layout
from unite_stan.stan.stages.state import FitState

__all__ = ["stage"]


def stage(state: FitState) -> FitState:
    from unite_stan.stan.pilot import dispersed_inits, laplace_check, laplace_pilot

    if not state.settings.pilot:
        return state.note("pilot", used=False, kind="off")
    # the prior's windows and every pixel in its block: the layout chosen, nothing narrowed
    program = state.program_for(Layout(blocks=state.layout.blocks))
    density = state.engine.log_density(state.compiled, program.data)
    result = laplace_pilot(density, list(state.starts[:4]))
    info = {
        "used": result.kind != "identity",
        "kind": result.kind,
        "message": result.message,
        "mode_log_density": result.mode_log_density,
        "n_evaluations": result.n_evaluations,
        "seconds": result.seconds,
        "laplace_check_sd": np.inf,
        "other_modes": 0,
    }
    if result.kind == "identity":
        return state.note("pilot", **info)
    chains = state.sampler.num_chains
    if state.explicit:
        inits = [np.linalg.solve(result.chol, u0 - result.loc) for u0 in state.starts[:chains]]
    else:
        inits = dispersed_inits(result, chains, state.rng)
    info["laplace_check_sd"] = laplace_check(density, result, state.rng)
    info["other_modes"] = result.other_modes()
    return state.update(loc=result.loc, chol=result.chol, inits=tuple(inits), pilot=result).note(
        "pilot", **info
    )
