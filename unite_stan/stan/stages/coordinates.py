"""Stage ``coordinates``: line fluxes whose posterior reaches zero move to the flux coordinate.

A line flux with a ``Uniform(0, high)`` prior whose pilot mode lies within ``REACH`` of its
posterior standard deviations of zero (a weak line, a broad component compatible with none) is
sampled from here on in the FLUX coordinate of :mod:`unite_stan.stan.coordinates`, with ``c``
its posterior standard deviation from the pilot, instead of on the logistic scale, where its
likelihood rises into a double-exponential wall above the bulk. The pilot's map and the
chains' starts are carried over to the new coordinate: exactly for the starts, linearised at
the mode for the map. Only data change; the program is the same.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from unite_stan.stan.coordinates import FLUX, LOGIT, flux_coordinate_allowed, value_slope
from unite_stan.stan.run import constrain, unconstrain
from unite_stan.stan.stages.state import FitState

__all__ = ["REACH", "stage"]

#: A flux moves to the flux coordinate when its pilot mode is within this many posterior
#: standard deviations of zero.
REACH = 3.0


def stage(state: FitState) -> FitState:
    if not state.recorded("pilot", "used", False):
        return state.note("coordinates", flux_coordinate=[])
    args, free = state.args, list(state.program.free_sites)
    graph = args.prior_graph
    loc, chol = np.asarray(state.loc), np.asarray(state.chol)
    sd_u = np.sqrt(np.sum(chol**2, axis=1))
    mode = constrain(args, loc)
    bounds = graph.bounds(graph.resolve(mode))
    scales = {}
    for k, name in enumerate(free):
        if not flux_coordinate_allowed(graph.priors[name], graph.tokens[name]):
            continue
        low, high = bounds[name]
        # the flux's posterior sd (c): the logistic map's slope times the pilot's sd in u
        sd = sd_u[k] * value_slope(LOGIT, loc[k], low, high)
        if np.isfinite(sd) and sd > 0 and mode[name] - low < REACH * sd:
            scales[name] = float(sd)
    if not scales:
        return state.note("coordinates", flux_coordinate=[])
    new_loc = unconstrain(args, mode, scales)
    # d v / d u at the mode, by the chain rule through the flux's value
    slope = np.ones(len(free))
    for k, name in enumerate(free):
        if name in scales:
            low, high = bounds[name]
            slope[k] = value_slope(LOGIT, loc[k], low, high) / value_slope(
                FLUX, new_loc[k], low, high, scales[name]
            )
    new_chol = slope[:, None] * chol
    inits = []
    for xi in state.inits:
        values = constrain(args, loc + chol @ np.asarray(xi))
        v = unconstrain(args, values, scales)
        inits.append(np.linalg.solve(new_chol, v - new_loc))
    return state.update(
        loc=new_loc,
        chol=new_chol,
        inits=tuple(inits),
        flux_scales=MappingProxyType(scales),
    ).note("coordinates", flux_coordinate=sorted(scales), flux_coordinate_scales=scales)
