"""The unconstrained coordinate in which the sampler sees each free site.

unite samples every bounded prior on the logistic scale, ``value = low + (high - low) s`` with
``s = inv_logit(u)``. unite_stan does the same with one exception: a site whose prior is
``Uniform(-pi/2, pi/2)`` with literal bounds (the default prior of the Linear continuum's
``angle``) is sampled as its slope, ``u = tan(angle)``. The continuum depends on ``tan(angle)``,
so the likelihood is close to Gaussian in ``u``; on the logistic scale the same likelihood rises
into a double-exponential wall wherever the data allow steep slopes (``tan`` of an angle near
``pi/2`` grows like ``exp(u)``), and NUTS needs small steps there and diverges now and then
(``benchmarks/``: the dozen-lines scenario, whose narrow continuum regions leave the slopes loose).

Both maps are bijections onto the prior's support and the prior density is unchanged, so the
posterior is the same. Only Stan's ``lp__`` (which carries the Jacobian of the coordinates the
program uses) differs from unite's ``log_prob``; :func:`log_prob_offset` converts it, and every
reported ``log_prob`` is unite's.
"""

from __future__ import annotations

import math

import numpy as np

from unite_stan.prior import Prior, Uniform, literal_value

__all__ = [
    "LOGIT",
    "SLOPE",
    "coordinate_kind",
    "log_prob_offset",
    "site_log_prob_offset",
    "to_unconstrained",
    "to_value",
]

LOGIT, SLOPE = "logit", "slope"
HALF_PI = math.pi / 2


def coordinate_kind(prior: Prior) -> str:
    """``SLOPE`` for a ``Uniform(-pi/2, pi/2)`` prior with literal bounds, else ``LOGIT``."""
    if (
        isinstance(prior, Uniform)
        and literal_value(prior.low) == -HALF_PI
        and literal_value(prior.high) == HALF_PI
    ):
        return SLOPE
    return LOGIT


def to_value(kind: str, u, low: float, high: float):
    """The site's value from its unconstrained coordinate ``u`` (scalar or array)."""
    if kind == SLOPE:
        return np.arctan(u)
    return low + (high - low) / (1.0 + np.exp(-np.asarray(u, dtype=float)))


def to_unconstrained(kind: str, value: float, low: float, high: float) -> float:
    """The unconstrained coordinate of a value strictly inside ``(low, high)``."""
    if kind == SLOPE:
        return float(np.tan(value))
    s = (value - low) / (high - low)
    return float(np.log(s) - np.log1p(-s))


def site_log_prob_offset(kind: str, value):
    """unite's log prior + log Jacobian of the site less the program's, at ``value``.

    Zero on the logistic scale. For the slope coordinate the program adds
    ``-log(pi) - log(1 + u^2)`` (the uniform density of the angle and ``d angle / du``), unite
    adds ``log(s (1 - s))`` with ``s = (angle + pi/2) / pi``.
    """
    value = np.asarray(value, dtype=float)
    if kind != SLOPE:
        return np.zeros_like(value)
    s = (value + HALF_PI) / math.pi
    # 1 + tan^2 = 1 / cos^2
    return np.log(s) + np.log1p(-s) + math.log(math.pi) - 2.0 * np.log(np.cos(value))


def log_prob_offset(args, values: dict) -> np.ndarray:
    """unite's ``log_prob`` less Stan's ``lp__`` at draws ``values`` (site name -> array).

    Non-zero only where a free site is sampled in the slope coordinate.
    """
    total = np.zeros(np.shape(next(iter(values.values()))))
    for name in args.free_sites:
        kind = coordinate_kind(args.all_priors[name])
        if kind != LOGIT:
            total = total + site_log_prob_offset(kind, values[name])
    return total
