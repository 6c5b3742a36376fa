"""The unconstrained coordinate in which the sampler sees each free site.

unite samples every bounded prior on the logistic scale, ``value = low + (high - low) s`` with
``s = inv_logit(u)``. unite_stan does the same with one exception: a site whose component
declares the slope coordinate for it (``ContinuumForm.slot_coordinates``: the Linear
continuum's ``angle``) and whose prior is ``Uniform(-pi/2, pi/2)`` with literal bounds (its
default) is sampled as its slope, ``u = tan(angle)``. The continuum depends on ``tan(angle)``,
so the likelihood is close to Gaussian in ``u``; on the logistic scale the same likelihood rises
into a double-exponential wall wherever the data allow steep slopes (``tan`` of an angle near
``pi/2`` grows like ``exp(u)``), and NUTS needs small steps there and diverges now and then
(``benchmarks/``: the dozen-lines scenario, whose narrow continuum regions leave the slopes loose).

A second exception, chosen after the pilot: a line flux whose prior is ``Uniform(0, high)``
(literal 0; ``high`` a number or an expression) whose posterior reaches zero is sampled in the
``FLUX`` coordinate ``v``, ``value = high (1 - exp(-(c / high) softplus(v)))``, with ``c`` its
posterior scale from the pilot: linear, ``value ~ c v``, over the bulk of the posterior, and
exponential towards 0 (as the logistic scale is) below ``c``. On the logistic scale such a flux
(a weak broad component) has an exponential tail towards 0 and, above its bulk, the likelihood
rises into a double-exponential wall (``value ~ high exp(u)``): NUTS's step size suits one side
only, and it diverges at the wall (``benchmarks/``: broad_blended's broad [NII]). ``c`` is data
(``0`` keeps the logistic scale), so choosing it never changes the program.

A ``TruncatedNormal`` with an open side (``low=-inf`` and/or ``high=inf``) is sampled as NumPyro
samples it: ``value = low + exp(u)`` (``LOWER``), ``value = high - exp(u)`` (``UPPER``) or
``value = u`` (``REAL``, both sides open); the program adds the same Jacobian as unite.

Both maps are bijections onto the prior's support and the prior density is unchanged, so the
posterior is the same. Only Stan's ``lp__`` (which carries the Jacobian of the coordinates the
program uses) differs from unite's ``log_prob``; :func:`log_prob_offset` converts it, and every
reported ``log_prob`` is unite's.
"""

from __future__ import annotations

import math

import numpy as np

from unite_stan.line.config import Flux
from unite_stan.prior import Parameter, Prior, TruncatedNormal, Uniform, literal_value

__all__ = [
    "FLUX",
    "LOGIT",
    "LOWER",
    "REAL",
    "SLOPE",
    "UPPER",
    "coordinate_kind",
    "flux_coordinate_allowed",
    "log_prob_offset",
    "site_kind",
    "site_log_prob_offset",
    "to_unconstrained",
    "to_value",
    "value_slope",
]

LOGIT, SLOPE, FLUX = "logit", "slope", "flux"
LOWER, UPPER, REAL = "lower", "upper", "real"
HALF_PI = math.pi / 2


def coordinate_kind(
    prior: Prior,
    token: Parameter | None = None,
    scale: float = 0.0,
    *,
    declared: str | None = None,
) -> str:
    """``SLOPE`` for a site ``declared`` a slope by its component, with a
    ``Uniform(-pi/2, pi/2)`` prior with literal bounds; ``FLUX`` for a line flux (``token`` a
    :class:`~unite_stan.line.Flux`) with a ``Uniform(0, high)`` prior given a coordinate
    ``scale`` c > 0; ``LOWER``, ``UPPER`` or ``REAL`` for a ``TruncatedNormal`` open on the
    upper, lower or both sides; else ``LOGIT``."""
    if isinstance(prior, TruncatedNormal):
        open_low = literal_value(prior.low) == -math.inf
        open_high = literal_value(prior.high) == math.inf
        if open_low and open_high:
            return REAL
        if open_high:
            return LOWER
        if open_low:
            return UPPER
        return LOGIT
    if not isinstance(prior, Uniform):
        return LOGIT
    low = literal_value(prior.low)
    if declared == SLOPE and low == -HALF_PI and literal_value(prior.high) == HALF_PI:
        return SLOPE
    if flux_coordinate_allowed(prior, token) and scale > 0:
        return FLUX
    return LOGIT


def site_kind(graph, name: str, scale: float = 0.0) -> str:
    """:func:`coordinate_kind` of site ``name`` of a :class:`~unite_stan.prior_graph.PriorGraph`
    (its prior, token and the coordinate its component declares)."""
    return coordinate_kind(
        graph.priors[name], graph.tokens[name], scale, declared=graph.coordinates.get(name)
    )


def flux_coordinate_allowed(prior: Prior, token: Parameter | None) -> bool:
    """Whether the site may be sampled in the FLUX coordinate: a line flux with a
    ``Uniform(0, high)`` prior."""
    return (
        isinstance(token, Flux)
        and isinstance(prior, Uniform)
        and literal_value(prior.low) == 0
        and literal_value(prior.high) != HALF_PI
    )


def _softplus(v):
    return np.logaddexp(0.0, v)


def to_value(kind: str, u, low, high, scale: float = 0.0):
    """The site's value from its unconstrained coordinate ``u`` (scalar or array); ``scale``
    is the FLUX coordinate's c."""
    u = np.asarray(u, dtype=float)
    if kind == SLOPE:
        return np.arctan(u)
    if kind == REAL:
        return u
    if kind == LOWER:
        return low + np.exp(u)
    if kind == UPPER:
        return high - np.exp(u)
    if kind == FLUX:
        width = high - low
        return low - width * np.expm1(-scale / width * _softplus(u))
    return low + (high - low) / (1.0 + np.exp(-u))


def value_slope(kind: str, u, low, high, scale: float = 0.0):
    """``d value / d u`` of :func:`to_value` (scalar or array)."""
    u = np.asarray(u, dtype=float)
    if kind == SLOPE:
        return 1.0 / (1.0 + u * u)
    if kind == REAL:
        return np.ones_like(u)
    if kind in (LOWER, UPPER):
        return np.exp(u) if kind == LOWER else -np.exp(u)
    s = 1.0 / (1.0 + np.exp(-u))
    if kind == FLUX:
        return scale * s * np.exp(-scale / (high - low) * _softplus(u))
    return (high - low) * s * (1.0 - s)


def to_unconstrained(kind: str, value, low, high, scale: float = 0.0):
    """The unconstrained coordinate of a value strictly inside ``(low, high)`` (scalar or
    array); ``scale`` is the FLUX coordinate's c."""
    value = np.asarray(value, dtype=float)
    if kind == SLOPE:
        out = np.tan(value)
    elif kind == REAL:
        out = value
    elif kind == LOWER:
        out = np.log(value - low)
    elif kind == UPPER:
        out = np.log(high - value)
    else:
        s = (value - low) / (high - low)
        if kind == FLUX:
            # softplus(v) = t, so v = log(expm1(t)) = t + log(-expm1(-t))
            t = -(high - low) / scale * np.log1p(-s)
            out = t + np.log(-np.expm1(-t))
        else:
            out = np.log(s) - np.log1p(-s)
    return float(out) if out.ndim == 0 else out


def site_log_prob_offset(kind: str, value, low=None, high=None, scale: float = 0.0):
    """unite's log prior + log Jacobian of the site less the program's, at ``value``.

    Zero on the logistic scale and in the open-sided coordinates of a ``TruncatedNormal``
    (the program's Jacobian is NumPyro's), where unite adds ``log(s (1 - s))`` with
    ``s = (value - low) / (high - low)``. For the slope coordinate the program adds
    ``-log(pi) - log(1 + u^2)`` (the uniform density of the angle and ``d angle / du``); for
    the flux coordinate ``-log(w) + log(c) + log(inv_logit(v)) - (c / w) softplus(v)`` with
    ``w = high - low`` (``low``, ``high``: the bounds at the draws; ``scale``: c).
    """
    value = np.asarray(value, dtype=float)
    if kind == SLOPE:
        s = (value + HALF_PI) / math.pi
        # 1 + tan^2 = 1 / cos^2
        return np.log(s) + np.log1p(-s) + math.log(math.pi) - 2.0 * np.log(np.cos(value))
    if kind == FLUX:
        width = high - low
        s = (value - low) / width
        v = to_unconstrained(FLUX, value, low, high, scale)
        program = -np.log(width) + math.log(scale) - _softplus(-v) - scale / width * _softplus(v)
        return np.log(s) + np.log1p(-s) - program
    return np.zeros_like(value)


def log_prob_offset(args, values: dict, scales: dict | None = None) -> np.ndarray:
    """unite's ``log_prob`` less Stan's ``lp__`` at draws ``values`` (site name -> array);
    ``scales`` gives the FLUX coordinate's c of the sites sampled in it.

    Non-zero only where a free site is sampled in the slope or the flux coordinate.
    """
    graph = args.prior_graph
    scales = scales or {}
    total = np.zeros(np.shape(next(iter(values.values()))))
    bounds = None
    for name in graph.free_sites:
        scale = scales.get(name, 0.0)
        kind = site_kind(graph, name, scale)
        if kind == LOGIT:
            continue
        if kind == FLUX and bounds is None:
            bounds = graph.bounds(graph.resolve({n: values[n] for n in graph.free_sites}))
        low, high = bounds[name] if kind == FLUX else (None, None)
        total = total + site_log_prob_offset(kind, values[name], low, high, scale)
    return total
