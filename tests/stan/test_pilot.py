"""Laplace pilot on analytic densities: exact answers for Gaussians, fallbacks otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from unite_stan.stan.pilot import (
    PilotResult,
    comparable_modes,
    dispersed_inits,
    laplace_check,
    laplace_pilot,
)


def gaussian(mean, covariance):
    precision = np.linalg.inv(covariance)

    def log_density(x):
        r = x - mean
        return -0.5 * r @ precision @ r, -precision @ r

    return log_density


def test_correlated_gaussian_mean_and_covariance():
    mean = np.array([1.5, -2.0])
    covariance = np.array([[2.0, 1.2], [1.2, 1.0]])
    pilot = laplace_pilot(gaussian(mean, covariance), [np.zeros(2), np.full(2, 5.0)])
    assert pilot.kind == "dense" and pilot.message == ""
    np.testing.assert_allclose(pilot.loc, mean, atol=1e-4)
    np.testing.assert_allclose(pilot.chol @ pilot.chol.T, covariance, atol=1e-4)
    assert np.allclose(pilot.chol, np.tril(pilot.chol))
    assert pilot.mode_log_density == pytest.approx(0.0, abs=1e-8)
    assert pilot.n_evaluations > 2 and pilot.seconds >= 0


def test_badly_scaled_gaussian():
    mean = np.array([3e-4, 10.0, -1e3])
    sd = np.array([1e-4, 1.0, 1e2])
    pilot = laplace_pilot(gaussian(mean, np.diag(sd**2)), [np.zeros(3)])
    assert pilot.kind == "dense"
    np.testing.assert_allclose((pilot.loc - mean) / sd, 0.0, atol=1e-4)
    np.testing.assert_allclose(np.diag(pilot.chol) / sd, 1.0, rtol=1e-4)
    np.testing.assert_allclose(pilot.chol - np.diag(np.diag(pilot.chol)), 0.0, atol=1e-12)


def test_tiny_scale_gets_a_matching_finite_difference_step():
    # sd 1e-8 with a quartic term: a step of 1e-5 would measure the quartic, not the curvature.
    mean, sd = np.array([3e-9, 10.0]), np.array([1e-8, 1.0])

    def log_density(x):
        z = (x - mean) / sd
        value = -0.5 * np.sum(z**2) - 0.1 * z[0] ** 4
        gradient = -z / sd - np.array([0.4 * z[0] ** 3 / sd[0], 0.0])
        return value, gradient

    pilot = laplace_pilot(log_density, [np.zeros(2)])
    assert pilot.kind == "dense"
    np.testing.assert_allclose((pilot.loc - mean) / sd, 0.0, atol=1e-4)
    np.testing.assert_allclose(np.diag(pilot.chol) / sd, 1.0, rtol=1e-4)


def test_best_start_wins():
    # Two separated bumps; the start near the higher one must win.
    def log_density(x):
        a = np.exp(-0.5 * (x[0] + 3) ** 2)
        b = 2.0 * np.exp(-0.5 * (x[0] - 3) ** 2)
        value = np.log(a + b)
        gradient = np.array([(-(x[0] + 3) * a - (x[0] - 3) * b) / (a + b)])
        return value, gradient

    pilot = laplace_pilot(log_density, [np.array([-3.5]), np.array([2.5])])
    assert pilot.loc[0] == pytest.approx(3.0, abs=1e-3)


def test_saddle_falls_back_to_diagonal_with_message():
    # Concave in x0, convex in x1 inside |x1| < 3 (outside: no support).
    def log_density(x):
        if abs(x[1]) >= 3:
            return -np.inf, np.full(2, np.nan)
        return -0.5 * x[0] ** 2 + 0.5 * x[1] ** 2, np.array([-x[0], x[1]])

    pilot = laplace_pilot(log_density, [np.array([1.0, 0.5])])
    assert pilot.kind == "diagonal"
    assert "not positive definite" in pilot.message
    assert np.all(np.isfinite(pilot.chol)) and np.all(np.diag(pilot.chol) > 0)


def test_nowhere_finite_falls_back_to_identity_at_first_start():
    start = np.array([1.0, 0.5])
    pilot = laplace_pilot(lambda x: (np.nan, np.zeros(2)), [start, np.zeros(2)])
    assert pilot.kind == "identity"
    np.testing.assert_array_equal(pilot.loc, start)
    np.testing.assert_array_equal(pilot.chol, np.eye(2))
    assert "no point with a finite log density" in pilot.message
    assert pilot.mode_log_density == -np.inf


def test_flat_direction_without_positive_curvature_is_identity():
    pilot = laplace_pilot(lambda x: (0.0, np.zeros(2)), [np.ones(2)])
    assert pilot.kind == "identity"
    assert "no positive diagonal" in pilot.message


@pytest.mark.parametrize(
    ("starts", "match"),
    [
        ([], "starts is empty"),
        ([np.zeros(2), np.zeros(3)], "start 1 has shape"),
        ([np.zeros((2, 2))], "start 0 has shape"),
        ([np.array([np.nan, 0.0])], "start 0 is not finite"),
    ],
)
def test_programmer_errors_raise(starts, match):
    with pytest.raises(ValueError, match=match):
        laplace_pilot(gaussian(np.zeros(2), np.eye(2)), starts)


def test_hessian_step_must_be_positive():
    with pytest.raises(ValueError, match="hessian_step=0"):
        laplace_pilot(gaussian(np.zeros(2), np.eye(2)), [np.zeros(2)], hessian_step=0)


def test_dispersed_inits_follow_the_laplace_approximation():
    mean = np.array([1.0, -1.0])
    covariance = np.array([[4.0, -1.0], [-1.0, 1.0]])
    pilot = laplace_pilot(gaussian(mean, covariance), [np.zeros(2)])
    inits = dispersed_inits(pilot, 4000, np.random.default_rng(3))
    assert len(inits) == 4000 and inits[0].shape == (2,)
    points = np.array([pilot.unwhiten(xi) for xi in inits])
    np.testing.assert_allclose(points.mean(axis=0), mean, atol=0.1)
    np.testing.assert_allclose(np.cov(points.T), covariance, atol=0.25)
    again = dispersed_inits(pilot, 4000, 3)
    np.testing.assert_array_equal(np.array(inits), np.array(again))
    assert all(np.all(xi == 0) for xi in dispersed_inits(pilot, 2, 0, scale=0.0))


def test_dispersed_inits_validate_arguments():
    pilot = PilotResult(np.zeros(1), np.eye(1), "identity", 0.0, 0, 0.0, "")
    with pytest.raises(ValueError, match="n_chains=0"):
        dispersed_inits(pilot, 0, 1)
    with pytest.raises(ValueError, match="scale=-1"):
        dispersed_inits(pilot, 1, 1, scale=-1)


def test_laplace_check_is_zero_for_a_gaussian_and_large_for_a_skewed_density():
    mean = np.array([1.5, -2.0])
    covariance = np.array([[2.0, 1.2], [1.2, 1.0]])
    density = gaussian(mean, covariance)
    pilot = laplace_pilot(density, [np.zeros(2)])
    assert laplace_check(lambda x: density(x)[0], pilot, 1) == pytest.approx(0.0, abs=1e-6)

    # log-normal-like in x[0]: the curvature at the mode says nothing about the long tail
    def skewed(x):
        return -0.5 * x[0] ** 2 - 3.0 * np.exp(-x[0]) - 3.0 * x[0] - 0.5 * x[1] ** 2

    def skewed_grad(x):
        return skewed(x), np.array([-x[0] + 3.0 * np.exp(-x[0]) - 3.0, -x[1]])

    pilot = laplace_pilot(skewed_grad, [np.zeros(2)])
    assert laplace_check(skewed, pilot, 1) > 0.1
    # a density that is -inf somewhere in the bulk fails the check outright
    assert laplace_check(lambda x: -np.inf if x[0] > 0 else density(x)[0], pilot, 1) == np.inf


def two_bumps(weight, width=1.0):
    """log of N(4, I) + weight N(-4, width^2 I) in 2-d, and its gradient."""

    def density(x):
        a, b = x - 4.0, (x + 4.0) / width
        pa, pb = np.exp(-0.5 * a @ a), weight / width**2 * np.exp(-0.5 * b @ b)
        return np.log(pa + pb), -(pa * a + pb * b / width) / (pa + pb)

    return density


def test_modes_weigh_separate_optima_by_their_laplace_evidence():
    # the second bump is three times wider, lower at its peak, and holds half the mass
    density = two_bumps(0.5, width=3.0)
    pilot = laplace_pilot(density, [np.full(2, 3.0), np.full(2, -3.0)])
    np.testing.assert_allclose(pilot.loc, [4.0, 4.0], atol=1e-3)
    modes = pilot.modes(density)
    assert len(modes) == 2
    np.testing.assert_allclose(modes[1].loc, [-4.0, -4.0], atol=1e-3)
    np.testing.assert_allclose(modes[1].chol @ modes[1].chol.T, 9.0 * np.eye(2), atol=1e-3)
    ratio = np.exp(modes[1].log_evidence - modes[0].log_evidence)
    assert ratio == pytest.approx(0.5, rel=1e-3)
    assert len(comparable_modes(modes, np.log(100.0))) == 2
    # one part in a thousand of the mass: no chain should start there
    density = two_bumps(1e-3, width=3.0)
    pilot = laplace_pilot(density, [np.full(2, 3.0), np.full(2, -3.0)])
    modes = pilot.modes(density)
    assert len(modes) == 2 and comparable_modes(modes, np.log(100.0)) == modes[:1]
    # the same optimum reached twice is one mode
    pilot = laplace_pilot(density, [np.full(2, 3.0), np.full(2, 5.0)])
    assert len(pilot.modes(density)) == 1
    rng = np.random.default_rng(2)
    draws = np.array([modes[0].draw(rng) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(axis=0), [4.0, 4.0], atol=0.1)


def test_restart_in_rescaled_coordinates_where_the_optimiser_stopped_short():
    """An optimiser that stops at its start, where the Hessian is not positive definite (a
    heavy-tailed coordinate far out) and scales differ by 1e6: L-BFGS restarts there in
    coordinates scaled by the Hessian's diagonal and reaches the mode; without the
    ``coordinates`` hook the diagonal map at the stopping point is all there is."""
    scale = 1e-6

    def log_density(x):
        a, b = x[0] / scale, x[1]
        value = -0.5 * a * a - 2.0 * np.log1p(b * b)
        return value, np.array([-a / scale, -4.0 * b / (1.0 + b * b)])

    class Stopping:
        def __call__(self, x):
            return log_density(x)

        def maximize(self, points):
            return [(np.array(p, dtype=float), "stopped", 1) for p in points]

    def coordinates(loc, chol):
        def whitened(xi):
            value, gradient = log_density(loc + chol @ xi)
            return value, chol.T @ gradient

        return whitened

    start = np.array([3 * scale, 5.0])
    stuck = laplace_pilot(Stopping(), [start])
    assert stuck.kind == "diagonal" and np.allclose(stuck.loc, start)
    pilot = laplace_pilot(Stopping(), [start], coordinates=coordinates)
    assert pilot.kind == "dense"
    assert abs(pilot.loc[0]) < 1e-3 * scale and abs(pilot.loc[1]) < 1e-3
    np.testing.assert_allclose(np.diag(pilot.chol @ pilot.chol.T), [scale**2, 0.25], rtol=1e-3)
    assert pilot.mode_log_density == pytest.approx(0.0, abs=1e-9)
    assert len(pilot.optima) == 1
