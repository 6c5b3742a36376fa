"""Stage ``window_check``: the draws must fit the narrowed line windows; otherwise the main run
is repeated on the prior's windows.

A draw's line that came within ``WINDOW_CHECK_MARGIN`` profile standard deviations of a
narrowed window's edge means the narrowing was not safe for this posterior.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from unite_stan.draws import Draws, as_draws
from unite_stan.stan.stages.sample import run_main
from unite_stan.stan.stages.state import FitState

__all__ = ["WINDOW_CHECK_MARGIN", "draws_within_windows", "stage"]

#: After the run, the draws' lines must lie inside the windows with at most this many fewer
#: profile standard deviations to spare than the windows are built with (7 of 8 for a
#: Gaussian: beyond 7 sigma lies 1.3e-12 of the line's flux); otherwise the run is repeated
#: on the prior's windows.
WINDOW_CHECK_MARGIN = 1.0


def stage(state: FitState) -> FitState:
    if state.layout.windows is None or draws_within_windows(
        state.args, state.draws, state.main.data, state.program.windows
    ):
        return state.note("window_check", passed=True)
    prior = state.update(layout=dataclasses.replace(state.layout, windows=None))
    return run_main(prior, "window_check").note(
        "window_check",
        passed=False,
        line_windows="prior (posterior windows failed their check)",
        summary="a draw came near a narrowed line window's edge: sampled again on the "
        "prior's windows",
    )


def draws_within_windows(args, ds: Draws, data: dict, windows) -> bool:
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
