"""The sampler's unconstrained coordinates of a model's free sites, and back.

unite's coordinates: the logit of a value's position within its prior bounds, except the slope
``tan(angle)`` for a ``Uniform(-pi/2, pi/2)`` prior (see :mod:`unite_stan.stan.coordinates`).
The fit itself runs as named stages: :mod:`unite_stan.stan.stages`.
"""

from __future__ import annotations

import numpy as np

from unite_stan.stan.coordinates import site_kind, to_unconstrained, to_value

__all__ = ["constrain", "unconstrain"]


def unconstrain(args, values: dict[str, float], scales: dict | None = None) -> np.ndarray:
    """The sampler's unconstrained coordinates of free sites: unite's (logit of the position in
    the bounds), except the slope ``tan(angle)`` for a ``Uniform(-pi/2, pi/2)`` prior and the
    flux coordinate of the line fluxes in ``scales`` (site -> c; see
    :mod:`unite_stan.stan.coordinates`).

    ``values`` must hold every free site; bounds that are expressions are resolved from it.
    """
    scales = scales or {}
    graph = args.prior_graph
    bounds = graph.bounds(graph.resolve({n: float(values[n]) for n in graph.free_sites}))
    out = []
    for name in graph.free_sites:
        value, (low, high) = float(values[name]), bounds[name]
        if not low < value < high:
            raise ValueError(
                f"start value {value:g} of {name!r} is outside its prior bounds ({low:g}, {high:g})"
            )
        scale = scales.get(name, 0.0)
        kind = site_kind(graph, name, scale)
        out.append(to_unconstrained(kind, value, low, high, scale))
    return np.array(out)


def constrain(args, u_free: np.ndarray, scales: dict | None = None) -> dict[str, float]:
    """Free-site values from the sampler's unconstrained coordinates (``unconstrain``'s inverse)."""
    graph = args.prior_graph
    u = dict(zip(graph.free_sites, u_free, strict=True))
    scales = scales or {}

    def value(name, prior, evaluate):
        low, high = evaluate(prior.low), evaluate(prior.high)
        scale = scales.get(name, 0.0)
        kind = site_kind(graph, name, scale)
        return float(to_value(kind, u[name], low, high, scale))

    values = graph.fold(value)
    return {name: values[name] for name in graph.free_sites}
