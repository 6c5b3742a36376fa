"""Summary figures of one MCMC run, computed the same way for unite and unite_stan.

Needs only numpy, scipy, astropy and unite_stan's numpy-only modules ``diagnostics`` and
``draws``: where unite_stan is not installed (unite's venv), they are imported from this source
tree without running the package's ``__init__``.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np

_PACKAGE = Path(__file__).resolve().parents[1] / "unite_stan"


def _diagnostics():
    try:
        return importlib.import_module("unite_stan.diagnostics")
    except ModuleNotFoundError as err:
        if err.name != "unite_stan":
            raise
    # A bare package object: its submodules load from the source tree, its __init__ never runs.
    package = types.ModuleType("unite_stan")
    package.__path__ = [str(_PACKAGE)]
    sys.modules["unite_stan"] = package
    return importlib.import_module("unite_stan.diagnostics")


def run_figures(
    draws: dict,
    truth_draws: dict,
    *,
    compile_s: float,
    run_s: float,
    divergences: int,
    leapfrog_mean: float,
) -> dict:
    """``draws``: site -> (chains, draws) for every free site; ``truth_draws``: site ->
    (flat draws in truth units, truth)."""
    diag = _diagnostics()
    bulk = {k: diag.ess_bulk(v) for k, v in draws.items()}
    tail = {k: diag.ess_tail(v) for k, v in draws.items()}
    rhat = {k: diag.rhat(v) for k, v in draws.items()}
    in68 = in95 = 0
    misses = []
    for site, (x, t) in truth_draws.items():
        lo68, hi68 = np.quantile(x, [0.16, 0.84])
        lo95, hi95 = np.quantile(x, [0.025, 0.975])
        in68 += int(lo68 <= t <= hi68)
        ok95 = lo95 <= t <= hi95
        in95 += int(ok95)
        if not ok95:
            misses.append(site)
    min_bulk = float(min(bulk.values()))
    return {
        "compile_s": round(float(compile_s), 2),
        "run_s": round(float(run_s), 2),
        "min_ess_bulk": round(min_bulk, 1),
        "min_ess_tail": round(float(min(tail.values())), 1),
        "ess_per_s": round(min_bulk / run_s, 1) if run_s > 0 else float("nan"),
        "max_rhat": round(float(max(rhat.values())), 4),
        "divergences": int(divergences),
        "leapfrog": round(float(leapfrog_mean), 2),
        "truth_68": f"{in68}/{len(truth_draws)}",
        "truth_95": f"{in95}/{len(truth_draws)}",
        "truth_95_misses": misses,
        "n_free": len(draws),
    }


def truth_pairs(case, flat: dict, line_scale_cgs: float) -> dict:
    out = {}
    for site, (value, kind) in case.truth.items():
        x = np.asarray(flat[site], dtype=float)
        out[site] = (x * line_scale_cgs if kind == "flux" else x, value)
    return out
