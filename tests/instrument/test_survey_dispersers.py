"""SDSSDisperser and DESIDisperser: placeholders, reprs, arm checks and grids set by loaders."""

import re

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument import FluxScale, RScale
from unite_stan.instrument.desi import DESIDisperser
from unite_stan.instrument.sdss import SDSSDisperser
from unite_stan.prior import Uniform


def test_sdss_defaults_and_placeholder():
    d = SDSSDisperser()
    assert repr(d) == "SDSSDisperser(name='SDSS')"
    assert d.name == "SDSS" and d.unit == u.AA
    np.testing.assert_array_equal(d.R([3000.0, 3800.0, 6563.0, 9200.0, 1e4]), np.full(5, 2000.0))
    np.testing.assert_array_equal(d.dlam_dpix([3000.0, 6563.0, 1e4]), np.ones(3))
    assert repr(SDSSDisperser("blue")) == "SDSSDisperser(name='blue')"


def test_sdss_tokens_and_yaml_hooks():
    rs = RScale(prior=Uniform(0.9, 1.1))
    d = SDSSDisperser(r_scale=rs)
    assert d.r_scale is rs and d.has_calibration_params
    assert d._yaml_fields() == {}
    back = SDSSDisperser._from_yaml_fields({}, name="x", r_scale=rs)
    assert repr(back) == "SDSSDisperser(name='x')" and back.r_scale is rs


def test_sdss_set_grids():
    d = SDSSDisperser()
    wl = np.array([4000.0, 5000.0, 6000.0])
    d.set_grids(wl * u.AA, [1500.0, 2000.0, 2500.0])
    np.testing.assert_allclose(d.R([3000.0, 4500.0, 7000.0]), [1500.0, 1750.0, 2500.0])
    np.testing.assert_allclose(d.dlam_dpix([4500.0]), [1000.0])
    with pytest.raises(ValueError, match=re.escape("wavelength must be strictly increasing")):
        d.set_grids([5000.0, 4000.0], 2000.0)
    with pytest.raises(
        ValueError,
        match=re.escape("R must be positive and finite; bad values [0.0] at indices [1]"),
    ):
        d.set_grids([4000.0, 5000.0], [1.0, 0.0])
    with pytest.raises(
        ValueError, match=re.escape("R has shape (3,); give one value per wavelength (2,)")
    ):
        d.set_grids([4000.0, 5000.0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("arm", "checks"),
    [
        ("B", {3000.0: 2000.0, 3600.0: 2000.0, 4700.0: 3000.0, 5800.0: 4000.0, 9000.0: 4000.0}),
        ("r", {5760.0: 3000.0, 6690.0: 4500.0, 7620.0: 6000.0}),
        ("Z", {7520.0: 3000.0, 8672.0: 4750.0, 9824.0: 6500.0, 1e4: 6500.0}),
    ],
)
def test_desi_placeholder(arm, checks):
    d = DESIDisperser(arm)
    assert d.arm == arm.upper() and d.name == arm.lower() and d.unit == u.AA
    assert repr(d) == f"DESIDisperser(arm={arm.upper()!r}, name={arm.lower()!r})"
    np.testing.assert_allclose(d.R(list(checks)), list(checks.values()))
    np.testing.assert_array_equal(d.dlam_dpix([5000.0]), [0.8])


def test_desi_repr_name_and_tokens():
    fs = FluxScale(prior=Uniform(0.5, 2))
    d = DESIDisperser("B", name="blue", flux_scale=fs)
    assert repr(d) == "DESIDisperser(arm='B', name='blue')"
    assert d.flux_scale is fs


def test_desi_bad_arm():
    with pytest.raises(ValueError, match=re.escape("arm must be one of ('B', 'R', 'Z'), got 'X'")):
        DESIDisperser("X")
