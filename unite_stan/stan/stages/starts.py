"""Stage ``starts``: where the chains and the pilot's optimiser start.

Random points uniform in (-2, 2) on the unconstrained scale (Stan's and unite's default), with
the user's start values (``init_strategy`` over the priors' ``init``) put in where given: the
chains start there when the pilot is off. Checked before anything compiles: a start value must
name a sampled site and lie inside its prior.

The pilot's optimiser starts from the same points with one change: a line flux not given by the
user starts inside ``(-FLUX_START, FLUX_START)`` (in units of the spectra's ``line_scale``, the
largest line flux ``compute_scales`` estimates, so every line's flux is below about 1) where
its prior allows, not anywhere in its prior. From a flux many times the data's, the optimiser
widens every line to its upper FWHM bound and stops there, far from the mode (20 lines with a
``Uniform(0, 5)`` flux prior: log density -9690 at the bound against 7066 at the mode).

And a redshift not given by the user starts in a different stratum of its prior at each start
(a Latin hypercube: with k starts, one in each k-th of the prior's range, in random order, at
a random place within the middle 80 % of its stratum). The chains' draws (-2 < u < 2) cover the
middle 76 % of a bounded prior only, and a redshift prior wide enough to move a line onto its
neighbour (unite's default, +-0.0025, puts Ha within reach of [NII]) has a local mode wherever
a line sits on the wrong feature: from four random starts the optimiser missed a true redshift
near the prior's edge in 7 of 400 simulated spectra (``benchmarks/coverage.py``), each then
sampled in the wrong mode by both chains.
"""

from __future__ import annotations

import numpy as np

from unite_stan.line.config import Flux, Redshift
from unite_stan.stan.coordinates import LOGIT, site_kind, to_value
from unite_stan.stan.run import unconstrain
from unite_stan.stan.stages.state import FitState

__all__ = ["FLUX_START", "MIN_STARTS", "draw_starts", "stage"]

#: The pilot's optimiser starts from at least this many points.
MIN_STARTS = 4

#: The pilot's optimiser starts line fluxes inside (-FLUX_START, FLUX_START) (line_scale units).
FLUX_START = 1.0


def explicit_values(args, given) -> dict:
    """The start values of the configuration's tokens (``init=``) updated with ``given`` (site
    -> value), which must name sampled sites only (``ValueError`` naming the others)."""
    free = args.free_sites
    unknown = sorted(set(given) - set(free))
    if unknown:
        raise ValueError(
            f"init values given for {unknown}, which are not sampled sites; sampled sites "
            f"are {free}"
        )
    return {**args.init_values, **given}


def random_draw(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One start's random numbers for ``n`` sites: ``u`` uniform in (-2, 2) and the flux
    fractions, log-uniform over (0.01, 1) (see :func:`_point`)."""
    u0 = rng.uniform(-2.0, 2.0, size=n)
    fractions = np.exp(rng.uniform(np.log(0.01), 0.0, size=n))
    return u0, fractions


def draw_starts(args, rng, n: int, explicit: dict):
    """``n`` starts: ``(points, starts, stratified)``, the chains' start coordinates (unite's
    draws), the pilot's (small fluxes, redshifts in a Latin hypercube over their priors) and the
    redshift sites so spread."""
    draws = [random_draw(rng, len(args.free_sites)) for _ in range(n)]
    spread, stratified = _stratified_redshifts(args, [u0 for u0, _ in draws], explicit, rng)
    points, starts = [], []
    for (u0, fractions), u_start in zip(draws, spread, strict=True):
        points.append(_point(args, u0, fractions, explicit, small_fluxes=False))
        starts.append(_point(args, u_start, fractions, explicit, small_fluxes=True))
    return points, starts, stratified


def stage(state: FitState) -> FitState:
    free = state.program.free_sites
    explicit = explicit_values(state.args, dict(state.settings.init_values))
    chains = state.sampler.num_chains
    points, starts, stratified = draw_starts(
        state.args, state.rng, max(chains, MIN_STARTS), explicit
    )
    return state.update(
        starts=tuple(starts),
        loc=np.zeros(len(free)),
        chol=np.eye(len(free)),
        inits=tuple(np.array(u) for u in points[:chains]),
    ).note(
        "starts",
        user_values=sorted(explicit),
        chain_starts="random points, uniform in (-2, 2) on the unconstrained scale"
        + (f", with the start values given for {sorted(explicit)}" if explicit else ""),
        stratified_redshifts=stratified,
    )


def _stratified_redshifts(args, draws, explicit, rng) -> tuple[list[np.ndarray], list[str]]:
    """The pilot's start coordinates: ``draws`` (one ``u`` per start) with each redshift site
    not in ``explicit`` and sampled on the logistic scale moved to a Latin hypercube over its
    prior: with k starts, start j in stratum ``order[j]`` of k, at a uniform place within the
    middle 80 % of it (``order`` a random permutation of range(k), one per site). Returns the
    coordinates and the sites moved."""
    graph = args.prior_graph
    k = len(draws)
    out = [np.array(u, dtype=float) for u in draws]
    moved = []
    for i, name in enumerate(graph.free_sites):
        if (
            name in explicit
            or not isinstance(graph.tokens[name], Redshift)
            or site_kind(graph, name) != LOGIT
        ):
            continue
        fraction = (rng.permutation(k) + rng.uniform(0.1, 0.9, size=k)) / k
        for u, f in zip(out, fraction, strict=True):
            u[i] = np.log(f / (1.0 - f))
        moved.append(name)
    return out, moved


def _point(args, u, fractions, explicit, *, small_fluxes: bool) -> np.ndarray:
    """The sampler's coordinates of the start drawn as ``u`` (uniform in (-2, 2)): each site's
    value is ``u`` on unite's logistic scale (on the slope scale for a slope), the user's value
    where given, and with ``small_fluxes`` a line flux's is ``a + (b - a) * fraction`` instead
    (its own entry of ``fractions``, log-uniform over two decades), ``(a, b)`` its prior's
    bounds clipped to ``(-FLUX_START, FLUX_START)`` taken from the bound nearest zero (where
    that interval is empty, the flux keeps its draw). Bounds that depend on other sites are
    resolved in dependency order."""
    graph = args.prior_graph
    index = {name: i for i, name in enumerate(graph.free_sites)}

    def value(name, prior, evaluate):
        if name in explicit:
            return float(explicit[name])
        i = index[name]
        low, high = float(evaluate(prior.low)), float(evaluate(prior.high))
        a, b = max(low, -FLUX_START), min(high, FLUX_START)
        if small_fluxes and isinstance(graph.tokens[name], Flux) and a < b:
            nearest = a if a > 0 else (b if b < 0 else 0.0)
            far = b if abs(b) >= abs(a) else a
            return nearest + (far - nearest) * fractions[i]
        # the coordinate of the site's prior (never FLUX: that one is chosen after the pilot)
        return float(to_value(site_kind(graph, name), u[i], low, high))

    values = graph.fold(value)
    return unconstrain(args, {name: values[name] for name in graph.free_sites})
