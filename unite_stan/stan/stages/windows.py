"""Stage ``windows``: narrow each line's window of pixel edges to what the pilot's posterior
approximation can reach.

A line's profile is evaluated on a window of pixel edges; the prior's windows hold for any
value the priors allow (a redshift prior of ±0.01 at Hα spans ±66 Å), while the posterior
usually pins the centre to a fraction of the line width. Narrower windows make each gradient
cheaper; the ``window_check`` stage checks them against the draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from unite_stan.stan.stages.state import FitState

__all__ = ["WINDOW_RADIUS", "posterior_windows", "stage"]

#: The main run's line windows cover the pilot's approximation out to this many standard
#: deviations of every unconstrained coordinate (they are never wider than the prior's).
#: The check on the draws, not this radius, is what makes the narrowing safe.
WINDOW_RADIUS = 8.0


def stage(state: FitState) -> FitState:
    program = state.program
    if not state.recorded("pilot", "used", False) or program.windows is None:
        return state.note("windows", line_windows="prior")
    narrow = posterior_windows(
        program, state.args, state.loc, state.chol, scales=dict(state.flux_scales)
    )
    prior_edges = int(np.sum(program.data["line_win_len"]))
    info = {"line_window_edges": int(np.sum(narrow[1])), "line_window_edges_prior": prior_edges}
    if int(np.sum(narrow[1])) >= prior_edges:
        return state.note("windows", line_windows="prior", **info)
    layout = dataclasses.replace(state.layout, windows=narrow)
    return state.update(layout=layout).note("windows", line_windows="posterior", **info)


def posterior_windows(program, args, loc, chol, radius: float = WINDOW_RADIUS, scales=None):
    """Line windows (start, length) for every site value within ``radius`` standard
    deviations of the pilot's map ``u = loc + chol @ xi``, ``xi`` ~ N(0, I); ``scales``: the
    FLUX coordinate's c of the line fluxes sampled in it."""
    from unite_stan.stan.data import line_windows
    from unite_stan.stan.ranges import site_ranges

    sd = np.sqrt(np.sum(np.asarray(chol) ** 2, axis=1))
    free_u = {
        name: (float(loc[k] - radius * sd[k]), float(loc[k] + radius * sd[k]))
        for k, name in enumerate(program.free_sites)
    }
    # the box's site ranges lie within the prior's, so these windows within the prior's
    return line_windows(args, site_ranges(args, free_u, scales), program.windows)
