"""fit_continuum_form: linear least squares (Linear, Polynomial) and Gauss–Newton (PowerLaw)."""

import math

import numpy as np
import pytest

from unite_stan.continuum.fit import ContinuumFitResult, fit_continuum_form
from unite_stan.continuum.library import Linear, Polynomial, PowerLaw

WL = np.linspace(6400.0, 6900.0, 200)
NW = 6650.0
ERR = np.full(WL.size, 1e-18)


def test_linear_recovers_scale_and_angle_exactly():
    flux = 2e-16 + 4e-19 * (WL - NW)
    result = fit_continuum_form(Linear(), WL, flux, ERR, NW, 6400.0, 6900.0)
    assert isinstance(result, ContinuumFitResult)
    assert result.params["scale"] == pytest.approx(2e-16, rel=1e-10)
    # the angle is the slope's arctangent, not the raw design coefficient slope / tan(1)
    assert math.tan(result.params["angle"]) == pytest.approx(4e-19, rel=1e-10)
    assert result.params["norm_wav"] == NW
    assert result.dof == WL.size - 2
    assert result.chi2_red == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(result.model, flux, rtol=1e-10)


def test_linear_angle_in_natural_units():
    flux = 1.0 + 0.5 * (WL - NW)
    result = fit_continuum_form(Linear(), WL, flux, np.ones_like(WL), NW, 6400.0, 6900.0)
    assert result.params["angle"] == pytest.approx(math.atan(0.5), rel=1e-10)


def test_polynomial_with_norm_wav_and_noise():
    rng = np.random.default_rng(0)
    truth = {"scale": 3.0, "c1": 1e-3, "c2": -2e-6}
    x = WL - 6600.0
    flux = 3.0 + 1e-3 * x - 2e-6 * x**2 + rng.normal(0, 0.01, WL.size)
    result = fit_continuum_form(
        Polynomial(2), WL, flux, np.full(WL.size, 0.01), NW, 6400.0, 6900.0, norm_wav=6600.0
    )
    for slot, value in truth.items():
        assert result.params[slot] == pytest.approx(value, rel=0.05)
    assert result.params["norm_wav"] == 6600.0
    assert result.chi2_red == pytest.approx(1.0, abs=0.3)


def test_powerlaw_by_gauss_newton():
    flux = 3e-16 * (WL / NW) ** -2.3
    result = fit_continuum_form(PowerLaw(), WL, flux, ERR, NW, 6400.0, 6900.0)
    assert result.params["scale"] == pytest.approx(3e-16, rel=1e-6)
    assert result.params["beta"] == pytest.approx(-2.3, rel=1e-5)


def test_chi2_red_none_without_degrees_of_freedom():
    result = fit_continuum_form(Linear(), WL[:2], np.array([1.0, 2.0]), np.ones(2), NW, 0, 1)
    assert result.dof == 0 and result.chi2_red is None


def test_input_checks():
    with pytest.raises(ValueError, match="equal lengths"):
        fit_continuum_form(Linear(), WL, WL[:-1], ERR, NW, 6400.0, 6900.0)
    with pytest.raises(ValueError, match="error must be > 0"):
        fit_continuum_form(Linear(), WL, WL, np.zeros_like(WL), NW, 6400.0, 6900.0)
