"""The sampler's unconstrained coordinates of a model's free sites, and back.

unite's coordinates: the logit of a value's position within its prior bounds, except the slope
``tan(angle)`` for a ``Uniform(-pi/2, pi/2)`` prior (see :mod:`unite_stan.stan.coordinates`).
The fit itself runs as named stages: :mod:`unite_stan.stan.stages`.
"""

from __future__ import annotations

import numpy as np

from unite_stan.prior import Fixed, TruncatedNormal, Uniform
from unite_stan.stan.coordinates import coordinate_kind, to_unconstrained, to_value

__all__ = ["constrain", "unconstrain"]


def unconstrain(args, values: dict[str, float]) -> np.ndarray:
    """The sampler's unconstrained coordinates of free sites: unite's (logit of the position in
    the bounds), except the slope ``tan(angle)`` for a ``Uniform(-pi/2, pi/2)`` prior (see
    :mod:`unite_stan.stan.coordinates`).

    ``values`` must hold every free site; bounds that are expressions are resolved from it.
    """
    context = {}
    out = []
    for name in args.dependency_order:
        prior = args.all_priors[name]
        token = args.name_to_token[name]
        if isinstance(prior, Fixed):
            context[token] = float(prior.resolved_value(context))
            continue
        value = float(values[name])
        context[token] = value
        if isinstance(prior, (Uniform, TruncatedNormal)):
            low, high = prior.low.evaluate(context), prior.high.evaluate(context)
        else:  # pragma: no cover
            raise TypeError(f"unsupported prior {prior!r}")
        if not low < value < high:
            raise ValueError(
                f"start value {value:g} of {name!r} is outside its prior bounds ({low:g}, {high:g})"
            )
        out.append(to_unconstrained(coordinate_kind(prior), value, low, high))
    return np.array(out)


def constrain(args, u_free: np.ndarray) -> dict[str, float]:
    """Free-site values from the sampler's unconstrained coordinates (``unconstrain``'s inverse)."""
    values: dict[str, float] = {}
    context = {}
    k = 0
    for name in args.dependency_order:
        prior = args.all_priors[name]
        token = args.name_to_token[name]
        if isinstance(prior, Fixed):
            context[token] = float(prior.resolved_value(context))
            continue
        low, high = prior.low.evaluate(context), prior.high.evaluate(context)
        values[name] = float(to_value(coordinate_kind(prior), u_free[k], low, high))
        context[token] = values[name]
        k += 1
    return values
