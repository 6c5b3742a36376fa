"""Stage ``refine``: where the Laplace map fails its check, re-whiten with the covariance of
a short NUTS run in its coordinates.

The Laplace approximation describes the posterior at its mode; along a curved or flat
degeneracy (a broad line trading flux with its neighbours and the redshift) the posterior can
be several times wider than the mode's curvature says, and a diagonal metric cannot repair a
mis-scaled direction that is not axis-aligned. A short run (``REFINE_WARMUP`` +
``REFINE_DRAWS`` iterations per chain) measures the actual covariance, shrunk towards the
Laplace map, and the main run starts from the short run's last draws, so chains start
dispersed over the posterior rather than at the mode (and in different modes if there are
several).
"""

from __future__ import annotations

import numpy as np

from unite_stan.stan.render import Layout
from unite_stan.stan.stages.state import FitState

__all__ = ["LAPLACE_CHECK_MAX", "REFINE_DRAWS", "REFINE_WARMUP", "refine_map", "stage"]

#: Length of the short NUTS run that refines the Laplace map (warmup, draws per chain).
#: 75 + 75 against 150 + 150, seeds 0-2 (2026-12-02, warm cache): min bulk ESS per second of
#: dozen_lines 1002 -> 1278 (mean), low_snr 2170 -> 2375; broad_blended (seed 0) bulk ESS
#: 549 -> 724, R-hat 1.0095 -> 1.0035, divergences at adapt_delta 0.99 6 -> 4.
REFINE_WARMUP, REFINE_DRAWS = 75, 75
#: The short run is skipped when the Laplace map passes its check: the standard deviation of
#: the log importance weights of 32 of its draws (pilot.laplace_check) at most this, and no
#: other optimum found by the starts. Measured (benchmarks/): 0.19 on the tutorial's Fit 1,
#: 0.25-0.28 on broad_narrow and two_resolutions; refining those lowered ESS per second by
#: 12-30 %. 1.2-17 on low_snr, dozen_lines and broad_blended, which keep it.
LAPLACE_CHECK_MAX = 1.0


def stage(state: FitState) -> FitState:
    if not state.settings.pilot:
        return state.note("refine", refined=False, message="pilot off")
    check_sd = state.recorded("pilot", "laplace_check_sd", np.inf)
    other_modes = state.recorded("pilot", "other_modes", 0)
    if check_sd <= LAPLACE_CHECK_MAX and other_modes == 0:
        return state.note(
            "refine",
            refined=False,
            message=f"Laplace check sd {check_sd:.2f} <= {LAPLACE_CHECK_MAX}: the Laplace map "
            "is kept and chains start from its draws",
        )
    # the prior's windows and the continuum statistics, as the pilot
    program = state.program_for(Layout(blocks=state.layout.blocks, statistics=True))
    settings = state.sampler.replace(
        num_warmup=REFINE_WARMUP,
        num_samples=REFINE_DRAWS,
        num_chains=len(state.inits),
        seed=(state.sampler.seed + 7919) % 2**32,
        adapt_delta=state.settings.ladder[0],
        metric="diag_e",
        progress=False,
    )
    loc, chol, inits, info = refine_map(
        state.engine, state.compiled, program.data, state.loc, state.chol, state.inits, settings
    )
    if info["refined"]:
        info["chain_starts"] = "the last draws of the refine run"
    reason = "its check" if check_sd > LAPLACE_CHECK_MAX else "other comparable modes"
    info["summary"] = (
        f"short NUTS run ({REFINE_WARMUP} + {REFINE_DRAWS} per chain) refined the Laplace map "
        f"(needed for {reason}: check sd {check_sd:.2f}, {other_modes} other modes)"
        if info["refined"]
        else f"short NUTS run could not refine the Laplace map: {info['message']}"
    )
    return state.update(loc=loc, chol=chol, inits=tuple(inits)).note("refine", **info)


def refine_map(engine, compiled, data, loc, chol, xi_inits, settings):
    """The short run from ``xi_inits`` on ``data`` (in the coordinates ``loc``, ``chol``):
    ``(loc, chol, xi_inits, info)`` re-whitened by its covariance, shrunk towards the
    identity, with the chains' last draws as the new starts."""
    d = loc.size
    short = engine.sample(
        compiled, data, settings, inits=[{"xi": np.asarray(x, dtype=float)} for x in xi_inits]
    )
    xi = short.xi(d)
    flat = xi.reshape(-1, d)
    mean = flat.mean(axis=0)
    cov = np.atleast_2d(np.cov(flat, rowvar=False))
    shrink = _shrinkage_to_identity(xi, mean, cov)
    cov = (1.0 - shrink) * cov + shrink * np.eye(d)
    try:
        factor = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return loc, chol, xi_inits, {"refined": False, "message": "covariance not PD"}
    eig = np.linalg.eigvalsh(cov)
    new_inits = [np.linalg.solve(factor, xi[c, -1] - mean) for c in range(xi.shape[0])]
    info = {
        "refined": True,
        "shrinkage": shrink,
        "variance_range": (float(eig[0]), float(eig[-1])),
        "divergences": int(short.values[:, :, short.columns.index("divergent__")].sum()),
    }
    return loc + chol @ mean, chol @ factor, new_inits, info


def _shrinkage_to_identity(xi: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """Ledoit-Wolf weight of the identity (the Laplace map's prediction) in the covariance
    estimate from autocorrelated draws ``xi`` (chains, draws, d).

    The weight is the estimated squared error of ``cov`` over its squared distance from the
    identity: near 1 when the draws cannot tell the covariance from the identity, near 0 when
    the difference is clear. The error uses the effective sample size (the smallest bulk ESS
    over coordinates), not the number of draws, since NUTS draws are autocorrelated.
    """
    from unite_stan.diagnostics import ess_bulk

    d = cov.shape[0]
    flat = xi.reshape(-1, d) - mean
    n = flat.shape[0]
    n_eff = max(2.0, min(min(ess_bulk(xi[:, :, k]) for k in range(d)), n))
    distance = float(np.sum((cov - np.eye(d)) ** 2))
    outer = flat[:, :, None] * flat[:, None, :]
    spread = float(np.sum((outer - cov) ** 2)) / n / n_eff
    if not distance > 0:
        return 1.0
    return float(min(1.0, spread / distance))
