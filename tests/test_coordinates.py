"""The sampler's unconstrained coordinates: logistic, the slope of Uniform(-pi/2, pi/2), and
the flux coordinate of a line flux with a Uniform(0, high) prior."""

import math

import numpy as np
import pytest

from unite_stan import line, prior
from unite_stan.stan.coordinates import (
    FLUX,
    LOGIT,
    SLOPE,
    coordinate_kind,
    flux_coordinate_allowed,
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


def test_flux_coordinate_only_for_a_line_flux_from_zero_given_a_scale():
    flux = line.Flux(prior=prior.Uniform(0, 5))
    assert coordinate_kind(flux.prior, flux, 0.01) == FLUX
    # no scale (before the pilot chooses one): the logistic scale
    assert coordinate_kind(flux.prior, flux) == LOGIT
    assert flux_coordinate_allowed(flux.prior, flux)
    # unite's default narrow-flux prior U(-3, 3), other tokens, other families: logistic
    signed = line.Flux(prior=prior.Uniform(-3, 3))
    assert not flux_coordinate_allowed(signed.prior, signed)
    assert coordinate_kind(signed.prior, signed, 0.01) == LOGIT
    width = line.FWHM("w", prior=prior.Uniform(0, 500))
    assert coordinate_kind(width.prior, width, 0.01) == LOGIT
    normal = prior.TruncatedNormal(1, 1, 0, 5)
    assert coordinate_kind(normal, line.Flux(prior=normal), 0.01) == LOGIT
    # an upper bound from another flux keeps the coordinate
    other = line.Flux(prior=prior.Uniform(0, flux * 3))
    assert coordinate_kind(other.prior, other, 0.01) == FLUX


@pytest.mark.parametrize(("high", "scale"), [(5.0, 0.01), (3.0, 0.5), (10.0, 1e-4)])
def test_flux_map_is_inverse_and_linear_above_its_scale(high, scale):
    for value in (1e-6, 1e-3, 0.02, 0.7, 2.9):
        v = to_unconstrained(FLUX, value, 0.0, high, scale)
        assert to_value(FLUX, v, 0.0, high, scale) == pytest.approx(value, rel=1e-10)
    # well above c and below high the value is c v: the likelihood keeps its shape
    v = np.array([20.0, 40.0])
    values = to_value(FLUX, v, 0.0, 1e9, scale)
    np.testing.assert_allclose(np.diff(values) / np.diff(v), scale, rtol=1e-6)
    # the ends of the support
    assert to_value(FLUX, -800.0, 0.0, high, scale) == 0.0
    assert to_value(FLUX, 1e12, 0.0, high, scale) == pytest.approx(high)


def test_flux_log_prob_offset_exchanges_the_jacobians():
    """unite's log prior + log Jacobian (logistic) less the program's (flux coordinate), the
    Jacobians by finite differences of the maps."""
    low, high, scale = 0.0, 5.0, 0.02

    def log_jacobian(kind, value, h=1e-6):
        c = scale if kind == FLUX else 0.0
        u = to_unconstrained(kind, value, low, high, c)
        return math.log(
            (to_value(kind, u + h, low, high, c) - to_value(kind, u - h, low, high, c)) / (2 * h)
        )

    for value in (1e-4, 0.01, 0.3, 2.0, 4.9):
        expected = log_jacobian(LOGIT, value) - log_jacobian(FLUX, value)  # 1/w cancels
        offset = site_log_prob_offset(FLUX, value, low, high, scale)
        assert offset == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("kind", "low", "high", "scale"),
    [(LOGIT, 2.0, 7.0, 0.0), (SLOPE, -math.pi / 2, math.pi / 2, 0.0), (FLUX, 0.0, 5.0, 0.02)],
)
def test_value_slope_is_the_maps_derivative(kind, low, high, scale):
    from unite_stan.stan.coordinates import value_slope

    for u in (-3.0, -0.4, 0.0, 1.3, 6.0):
        h = 1e-6
        numeric = (
            to_value(kind, u + h, low, high, scale) - to_value(kind, u - h, low, high, scale)
        ) / (2 * h)
        assert value_slope(kind, u, low, high, scale) == pytest.approx(numeric, rel=1e-6)
