"""Disperser base behaviour, SimpleDisperser and GenericDisperser."""

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument import FluxScale, PixOffset, RScale
from unite_stan.instrument.base import Disperser
from unite_stan.instrument.generic import GenericDisperser, SimpleDisperser
from unite_stan.prior import Fixed, Uniform

WL = np.linspace(6200.0, 6800.0, 601) * u.AA


def test_simple_disperser_constant_R():
    d = SimpleDisperser(WL, R=1200.0, name="grism")
    assert d.unit == u.AA
    assert d.name == "grism"
    np.testing.assert_allclose(d.R(np.array([6000.0, 6500.0, 7000.0])), 1200.0)
    np.testing.assert_allclose(d.dlam_dpix(6500.0), 1.0)


def test_simple_disperser_R_array_interpolates_and_clamps():
    R = np.linspace(1000.0, 2000.0, WL.size)
    d = SimpleDisperser(WL, R=R, name="g")
    np.testing.assert_allclose(d.R(6500.0), 1500.0)
    np.testing.assert_allclose(d.R(np.array([5000.0, 9000.0])), [1000.0, 2000.0])


def test_simple_disperser_dlam_and_dvel():
    d = SimpleDisperser(WL, dlam=5.0 * u.AA, name="g")
    np.testing.assert_allclose(d.R(6500.0), 1300.0)
    d = SimpleDisperser(WL, dlam=0.5 * u.nm, name="g")
    np.testing.assert_allclose(d.R(6500.0), 1300.0)
    d = SimpleDisperser(WL, dvel=299792.458 / 1500 * u.km / u.s, name="g")
    np.testing.assert_allclose(d.R(6500.0), 1500.0)


def test_simple_disperser_gradient_dispersion():
    grid = np.array([1.0, 2.0, 4.0, 8.0]) * u.micron
    d = SimpleDisperser(grid, R=100.0, name="g")
    np.testing.assert_allclose(d.dlam_dpix(np.array([1.0, 2.0, 4.0, 8.0])), [1, 1.5, 3, 4])
    np.testing.assert_allclose(d.dlam_dpix(3.0), 2.25)
    np.testing.assert_allclose(d.dlam_dpix(100.0), 4.0)


@pytest.mark.parametrize(
    ("kwargs", "got"),
    [({}, "none"), ({"R": 1000.0, "dlam": 1 * u.AA}, "R and dlam")],
)
def test_simple_disperser_needs_exactly_one_resolution(kwargs, got):
    with pytest.raises(ValueError, match=f"exactly one of R, dlam or dvel \\(got {got}\\)"):
        SimpleDisperser(WL, **kwargs)


def test_simple_disperser_array_length_must_match():
    with pytest.raises(ValueError, match=r"R has shape \(3,\).*\(601,\)"):
        SimpleDisperser(WL, R=[1.0, 2.0, 3.0])


def test_simple_disperser_rejects_bad_input():
    with pytest.raises(ValueError, match="positive and finite"):
        SimpleDisperser(WL, R=-5.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        SimpleDisperser(WL[::-1], R=1000.0)
    with pytest.raises(u.UnitConversionError, match="not a length"):
        SimpleDisperser(WL.value * u.s, R=1000.0)
    with pytest.raises(TypeError, match="length Quantity"):
        SimpleDisperser(WL.value, R=1000.0)
    with pytest.raises(u.UnitConversionError):
        SimpleDisperser(WL, dvel=3 * u.AA)
    with pytest.raises(TypeError, match="Quantity"):
        SimpleDisperser(WL, dlam=3.0)


def test_generic_disperser_broadcasts_callables():
    d = GenericDisperser(lambda w: 3000.0, lambda w: 0.1 * w / w, "micron", name="g")
    assert d.unit == u.micron
    np.testing.assert_allclose(d.R(np.array([1.0, 2.0])), [3000.0, 3000.0])
    np.testing.assert_allclose(d.dlam_dpix(np.array([1.0, 2.0])), [0.1, 0.1])
    with pytest.raises(TypeError, match="callable"):
        GenericDisperser(3000.0, lambda w: w, u.AA)
    with pytest.raises(u.UnitConversionError, match="not a length"):
        GenericDisperser(lambda w: w, lambda w: w, u.km / u.s)


def test_default_calibration_tokens_are_private_and_fixed():
    a = SimpleDisperser(WL, R=1000.0, name="a")
    b = SimpleDisperser(WL, R=1000.0, name="b")
    assert isinstance(a.r_scale, RScale) and a.r_scale.prior.resolved_value({}) == 1.0
    assert isinstance(a.flux_scale, FluxScale) and a.flux_scale.prior.resolved_value({}) == 1.0
    assert isinstance(a.pix_offset, PixOffset) and a.pix_offset.prior.resolved_value({}) == 0.0
    assert a.r_scale is not b.r_scale
    assert not a.has_calibration_params
    assert isinstance(a, Disperser)


def test_has_calibration_params_means_any_non_fixed_token():
    free = SimpleDisperser(WL, R=1000.0, name="g", pix_offset=PixOffset(prior=Uniform(-1, 1)))
    assert free.has_calibration_params
    fixed = SimpleDisperser(WL, R=1000.0, name="g", r_scale=RScale(prior=Fixed(1.1)))
    assert not fixed.has_calibration_params


def test_labelled_token_named_at_construction():
    token = RScale("nirspec", prior=Uniform(0.9, 1.1))
    SimpleDisperser(WL, R=1000.0, name="g", r_scale=token)
    assert token.name == "r_scale_nirspec"


def test_token_slot_type_checked():
    with pytest.raises(TypeError, match="r_scale=.*must be a RScale token.*not FluxScale"):
        SimpleDisperser(WL, R=1000.0, r_scale=FluxScale())


def test_str_lists_calibration_tokens():
    d = SimpleDisperser(WL, R=1000.0, name="g", flux_scale=FluxScale("cal"))
    text = str(d)
    for piece in ("r_scale: (unnamed) Fixed(1)", "flux_scale: flux_scale_cal", "pix_offset"):
        assert piece in text
