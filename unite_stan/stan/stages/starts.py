"""Stage ``starts``: where the chains and the pilot's optimiser start.

Random points uniform in (-2, 2) on the unconstrained scale (Stan's default), with the user's
start values (``init_strategy`` over the priors' ``init``) put in where given. Checked before
anything compiles: a start value must name a sampled site and lie inside its prior.
"""

from __future__ import annotations

import numpy as np

from unite_stan.stan.run import constrain, unconstrain
from unite_stan.stan.stages.state import FitState

__all__ = ["MIN_STARTS", "stage"]

#: The pilot's optimiser starts from at least this many points.
MIN_STARTS = 4


def stage(state: FitState) -> FitState:
    free = state.program.free_sites
    explicit = dict(state.args.init_values)
    given = dict(state.settings.init_values)
    unknown = sorted(set(given) - set(free))
    if unknown:
        raise ValueError(
            f"init values given for {unknown}, which are not sampled sites; sampled sites "
            f"are {free}"
        )
    explicit.update(given)
    starts = []
    for _ in range(max(state.sampler.num_chains, MIN_STARTS)):
        u0 = state.rng.uniform(-2.0, 2.0, size=len(free))
        if explicit:
            u0 = unconstrain(state.args, {**constrain(state.args, u0), **explicit})
        starts.append(u0)
    chains = state.sampler.num_chains
    return state.update(
        starts=tuple(starts),
        loc=np.zeros(len(free)),
        chol=np.eye(len(free)),
        inits=tuple(np.array(u) for u in starts[:chains]),
    ).note(
        "starts",
        user_values=sorted(explicit),
        chain_starts="random points, uniform in (-2, 2) on the unconstrained scale"
        + (f", with the start values given for {sorted(explicit)}" if explicit else ""),
    )
