"""Stage ``pilot``: the Laplace approximation at the posterior mode, whose map whitens the
sampling coordinates (see :mod:`unite_stan.stan.pilot`), the check of how well it describes
the posterior, and where the chains start.

The optimiser runs from every start (the user's start values put in where given), so user
values shape which optima are found. Distinct optima are compared by their Laplace evidence:
chains start only in modes holding a non-negligible share of the posterior mass (at least
``exp(-MODE_DEPTH)`` of the largest), from draws of their Laplace approximations; comparable
modes each get chains in turn and are reported.
"""

from __future__ import annotations

import numpy as np

from unite_stan.stan.render import Layout
from unite_stan.stan.stages.state import FitState

__all__ = ["MODE_DEPTH", "stage"]

#: Modes whose Laplace evidence is this far (natural log) below the largest hold less than
#: 1 % of its mass; no chain starts there. The AGN scenario of benchmarks/ (broad + narrow
#: Ha) has optima 112 and 265 below its mode (negative narrow Ha, a shifted redshift).
MODE_DEPTH = np.log(100.0)


def stage(state: FitState) -> FitState:
    from unite_stan.stan.pilot import (
        comparable_modes,
        dispersed_inits,
        laplace_check,
        laplace_pilot,
    )

    if not state.settings.pilot:
        return state.note("pilot", used=False, kind="off")
    # the prior's windows (nothing narrowed yet), continuum-only pixels summed through their
    # statistics (exact), so the cost grows with the pixels near lines
    program = state.program_for(Layout(blocks=state.layout.blocks, statistics=True))
    density = state.engine.log_density(state.compiled, program.data)

    def coordinates(loc, chol):
        return state.engine.log_density(state.compiled, program.with_coordinates(loc, chol).data)

    result = laplace_pilot(density, list(state.starts), coordinates=coordinates)
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
        return state.note("pilot", **info, summary=f"Laplace pilot: {result.message}")
    chains = state.sampler.num_chains
    modes = result.modes(density)
    kept = comparable_modes(modes, MODE_DEPTH)
    if len(kept) == 1:
        inits = dispersed_inits(result, chains, state.rng)
        origin = "draws of the Laplace approximation at the mode"
    else:
        # chains in turn over the comparable modes, in the best mode's whitened coordinates
        inits = [
            np.linalg.solve(result.chol, kept[c % len(kept)].draw(state.rng) - result.loc)
            for c in range(chains)
        ]
        origin = f"draws of the Laplace approximations at {len(kept)} comparable modes"
    info["laplace_check_sd"] = laplace_check(density, result, state.rng)
    info["other_modes"] = len(kept) - 1
    info["optima"] = len(modes)
    info["mode_log_evidence"] = [round(m.log_evidence, 2) for m in modes]
    info["chain_starts"] = origin
    info["summary"] = (
        f"Laplace pilot: {result.kind} map at the mode (log density "
        f"{result.mode_log_density:.1f}) from {len(state.starts)} starts, "
        f"{len(modes)} distinct optim{'a' if len(modes) > 1 else 'um'}, "
        f"{len(kept)} holding the posterior mass; check sd {info['laplace_check_sd']:.2f}"
    )
    return state.update(loc=result.loc, chol=result.chol, inits=tuple(inits)).note("pilot", **info)
