"""The range each site can take under its prior (interval arithmetic over bound expressions).

Used to decide, from the priors alone, which pixel edges a line can ever touch: a line's
cumulative profile is evaluated only on that window of edges, so the window must hold for every
parameter value the prior allows. Anything that cannot be bounded becomes ``(-inf, inf)``,
which means "no window". After the pilot, the same arithmetic over the pilot's ranges of the
unconstrained coordinates gives the narrower windows the main run uses (see
:func:`unite_stan.stan.run.posterior_windows`).
"""

from __future__ import annotations

import math

from unite_stan.stan.coordinates import FLUX, SLOPE, site_kind, to_value

__all__ = ["site_ranges"]

Interval = tuple[float, float]


def _logistic(u: float) -> float:
    if u == math.inf:
        return 1.0
    if u == -math.inf:
        return 0.0
    return 0.5 * (1.0 + math.tanh(0.5 * u))


def site_ranges(
    args, free_u: dict[str, Interval] | None = None, scales: dict[str, float] | None = None
) -> dict[str, Interval]:
    """Site name → (lowest, highest) value, in dependency order.

    Without ``free_u``: every value the priors allow
    (:meth:`~unite_stan.prior_graph.PriorGraph.ranges`). ``free_u`` restricts free sites to an
    interval of the sampler's unconstrained coordinate ``u`` (value = low + (high - low) *
    inv_logit(u), or atan(u) and the flux map in the slope and flux coordinates of
    :mod:`unite_stan.stan.coordinates`);
    sites it does not name keep their prior range. ``scales``: the FLUX coordinate's c of the
    line fluxes sampled in it.
    """
    free_u = free_u or {}
    scales = scales or {}
    graph = args.prior_graph

    def restrict(name, prior, low, high):
        if name not in free_u:
            return None
        kind = site_kind(graph, name, scales.get(name, 0.0))
        if kind == SLOPE:
            # the slope coordinate: value = atan(u), bounds are +-pi/2
            return tuple(math.atan(u) for u in free_u[name])
        if not all(math.isfinite(x) for x in (*low, *high)):
            return None
        if kind == FLUX:
            # low = 0; the value rises with v and with high (w (1 - exp(-a / w)) rises with w)
            u_lo, u_hi = free_u[name]
            c = scales[name]
            return (
                float(to_value(FLUX, u_lo, 0.0, high.lo, c)),
                float(to_value(FLUX, u_hi, 0.0, high.hi, c)),
            )
        # low (1 - s) + high s rises with low and high (0 <= s <= 1): extremes at the ends of
        # s's interval, with the matching ends of low's and high's
        s_lo, s_hi = (_logistic(u) for u in free_u[name])
        return (
            min(low.lo * (1 - s) + high.lo * s for s in (s_lo, s_hi)),
            max(low.hi * (1 - s) + high.hi * s for s in (s_lo, s_hi)),
        )

    return args.prior_graph.ranges(restrict)
