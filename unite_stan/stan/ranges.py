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

from unite_stan.prior import Fixed, Parameter, _BinOpExpr, _LiteralLeaf
from unite_stan.stan.coordinates import SLOPE, coordinate_kind

__all__ = ["site_ranges"]

Interval = tuple[float, float]
_FULL: Interval = (-math.inf, math.inf)


def _combine(op: str, a: Interval, b: Interval) -> Interval:
    if op == "+":
        return a[0] + b[0], a[1] + b[1]
    if op == "-":
        return a[0] - b[1], a[1] - b[0]
    if op == "*":
        products = [x * y for x in a for y in b if not (math.isinf(x) or math.isinf(y))]
        if len(products) < 4:
            return _FULL
        return min(products), max(products)
    if b[0] <= 0.0 <= b[1]:  # division by an interval containing zero
        return _FULL
    return _combine("*", a, (1.0 / b[1], 1.0 / b[0]))


def _node_range(node, ranges: dict[Parameter, Interval]) -> Interval:
    if isinstance(node, _LiteralLeaf):
        return node.value, node.value
    if isinstance(node, Parameter):
        return ranges.get(node, _FULL)
    if isinstance(node, _BinOpExpr):
        return _combine(node.op, _node_range(node.left, ranges), _node_range(node.right, ranges))
    return _FULL


def _logistic(u: float) -> float:
    if u == math.inf:
        return 1.0
    if u == -math.inf:
        return 0.0
    return 0.5 * (1.0 + math.tanh(0.5 * u))


def site_ranges(args, free_u: dict[str, Interval] | None = None) -> dict[str, Interval]:
    """Site name → (lowest, highest) value, in dependency order.

    Without ``free_u``: every value the priors allow. ``free_u`` restricts free sites to an
    interval of the sampler's unconstrained coordinate ``u`` (value = low + (high - low) *
    inv_logit(u), or atan(u) in the slope coordinate of :mod:`unite_stan.stan.coordinates`);
    sites it does not name keep their prior range.
    """
    free_u = free_u or {}
    by_token: dict[Parameter, Interval] = {}
    out: dict[str, Interval] = {}
    for name in args.dependency_order:
        prior = args.all_priors[name]
        if isinstance(prior, Fixed):
            r = _node_range(prior.value, by_token)
        else:
            low = _node_range(prior.low, by_token)
            high = _node_range(prior.high, by_token)
            r = (low[0], high[1])
            if name in free_u and coordinate_kind(prior) == SLOPE:
                # the slope coordinate: value = atan(u), bounds are +-pi/2
                r = tuple(math.atan(u) for u in free_u[name])
            elif name in free_u and all(math.isfinite(x) for x in (*low, *high)):
                # low (1 - s) + high s rises with low and high (0 <= s <= 1): extremes at the
                # ends of s's interval, with the matching ends of low's and high's
                s_lo, s_hi = (_logistic(u) for u in free_u[name])
                r = (
                    min(low[0] * (1 - s) + high[0] * s for s in (s_lo, s_hi)),
                    max(low[1] * (1 - s) + high[1] * s for s in (s_lo, s_hi)),
                )
        by_token[args.name_to_token[name]] = r
        out[name] = r
    return out
