import math

import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import quad

from unite_stan import continuum, prior


def test_from_lines_tutorial_region():
    centers = np.array([6563.0, 6549.0, 6585.0, 6717.0, 6731.0]) * u.AA
    cc = continuum.ContinuumConfiguration.from_lines(
        centers, width=15_000 * u.km / u.s, form=continuum.Linear()
    )
    assert len(cc) == 1
    assert f"{cc[0].low:.1f}" == "6385.2"
    assert f"{cc[0].high:.1f}" == "6899.4"
    assert f"{cc[0].center:.1f}" == "6642.3"
    assert list(cc.tokens()) == ["scale_a", "angle_a", "norm_wav_a"]
    nw = cc.resolved_params[0]["norm_wav"].prior
    assert isinstance(nw, prior.Fixed)
    assert nw.resolved_value({}) == pytest.approx(cc[0].center)
    angle = cc.resolved_params[0]["angle"].prior
    assert angle.high.value == pytest.approx(math.pi / 2)


def test_regions_lettered_per_slot_and_named_regions():
    r1 = continuum.ContinuumRegion(5000 * u.AA, 5100 * u.AA)
    r2 = continuum.ContinuumRegion(4000 * u.AA, 4100 * u.AA, form=continuum.PowerLaw())
    r3 = continuum.ContinuumRegion(6000 * u.AA, 6100 * u.AA, name="red")
    cc = continuum.ContinuumConfiguration([r1, r2, r3])
    assert list(cc.tokens()) == [
        "scale_a",
        "beta_a",
        "norm_wav_a",
        "scale_b",
        "angle_a",
        "norm_wav_b",
        "scale_red",
        "angle_red",
        "norm_wav_red",
    ]
    # auto tokens are re-created (re-lettered) in a new configuration
    cc2 = continuum.ContinuumConfiguration([r3, r1])
    assert list(cc2.tokens())[:3] == ["scale_a", "angle_a", "norm_wav_a"]


def test_region_validation():
    with pytest.raises(ValueError, match="low must be < high"):
        continuum.ContinuumRegion(5100 * u.AA, 5000 * u.AA)
    with pytest.raises(TypeError, match="must be a length Quantity"):
        continuum.ContinuumRegion(5000, 5100 * u.AA)
    with pytest.raises(
        ValueError, match=r"unknown slot 'slope'.*expected \['scale', 'angle', 'norm_wav'\]"
    ):
        continuum.ContinuumRegion(5000 * u.AA, 5100 * u.AA, params={"slope": continuum.ContShape()})
    with pytest.raises(TypeError, match="slot 'scale' needs a Scale token"):
        continuum.ContinuumRegion(5000 * u.AA, 5100 * u.AA, params={"scale": continuum.ContShape()})
    with pytest.raises(ValueError, match="unknown continuum form 'linear'"):
        continuum.ContinuumRegion(5000 * u.AA, 5100 * u.AA, form="linear")


@pytest.mark.parametrize(
    "form, params",
    [
        (continuum.Linear(), {"scale": 1.3, "angle": 0.01}),
        (continuum.Polynomial(3), {"scale": 1.3, "c1": 0.01, "c2": -2e-4, "c3": 1e-6}),
        (continuum.PowerLaw(), {"scale": 1.3, "beta": -1.7}),
        (continuum.PowerLaw(), {"scale": 1.3, "beta": -1.0}),
    ],
)
def test_antiderivative_matches_numerical_integral(form, params):
    nw, lsf = 6600.0, 4.0
    a, b = 6500.0, 6531.0
    kw = {"obs_low": 6400.0, "obs_high": 6800.0, "norm_wav": nw, "lsf_fwhm": lsf}
    exact = form.antiderivative(np.array(b), params, **kw) - form.antiderivative(
        np.array(a), params, **kw
    )
    if form.uses_lsf:
        sigma = lsf / (2 * np.sqrt(2 * np.log(2)))

        def conv(x):
            plain = dict(kw, lsf_fwhm=None)
            return quad(
                lambda t: (
                    form.evaluate(np.array(x - t), params, **plain)
                    * np.exp(-0.5 * (t / sigma) ** 2)
                    / (sigma * np.sqrt(2 * np.pi))
                ),
                -10 * sigma,
                10 * sigma,
            )[0]
    else:

        def conv(x):
            return form.evaluate(np.array(x), params, **kw)

    numeric = quad(conv, a, b)[0]
    assert float(exact) == pytest.approx(numeric, rel=1e-9)
