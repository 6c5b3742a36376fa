"""The sampler's unconstrained coordinates: logistic, and the slope of Uniform(-pi/2, pi/2)."""

import math

import numpy as np
import pytest

from unite_stan import prior
from unite_stan.stan.coordinates import (
    LOGIT,
    SLOPE,
    coordinate_kind,
    site_log_prob_offset,
    to_unconstrained,
    to_value,
)


def test_only_a_literal_full_range_uniform_is_sampled_as_a_slope():
    assert coordinate_kind(prior.Uniform(-math.pi / 2, math.pi / 2)) == SLOPE
    assert coordinate_kind(prior.Uniform(-np.pi / 2, np.pi / 2)) == SLOPE
    # narrower bounds, other families and bounds that are expressions keep the logistic scale
    assert coordinate_kind(prior.Uniform(-1.5, math.pi / 2)) == LOGIT
    assert coordinate_kind(prior.Uniform(0, 5)) == LOGIT
    assert coordinate_kind(prior.TruncatedNormal(0, 1, -math.pi / 2, math.pi / 2)) == LOGIT
    token = prior.Parameter("t", prior=prior.Uniform(0, 1))
    assert coordinate_kind(prior.Uniform(-math.pi / 2, token + math.pi / 2)) == LOGIT


@pytest.mark.parametrize(
    ("kind", "low", "high"), [(SLOPE, -math.pi / 2, math.pi / 2), (LOGIT, 2.0, 7.0)]
)
def test_maps_are_inverse(kind, low, high):
    for value in np.linspace(low, high, 9)[1:-1]:
        u = to_unconstrained(kind, value, low, high)
        assert to_value(kind, u, low, high) == pytest.approx(value, rel=1e-14, abs=1e-15)


def test_slope_log_prob_offset_exchanges_the_jacobians():
    """log_prob - lp__ = [log prior + log |d angle/du|] on the logistic scale less the same on
    the slope scale, the Jacobians taken by finite differences of the maps."""
    low, high = -math.pi / 2, math.pi / 2

    def log_jacobian(kind, angle, h=1e-6):
        u = to_unconstrained(kind, angle, low, high)
        return math.log(
            (to_value(kind, u + h, low, high) - to_value(kind, u - h, low, high)) / (2 * h)
        )

    for angle in (-1.4, -0.3, 0.0, 0.7, 1.5):
        expected = log_jacobian(LOGIT, angle) - log_jacobian(SLOPE, angle)  # the 1/pi cancels
        assert site_log_prob_offset(SLOPE, angle) == pytest.approx(expected, abs=1e-7)
    assert site_log_prob_offset(LOGIT, 0.3) == 0.0
