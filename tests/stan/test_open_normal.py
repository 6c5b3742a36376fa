"""TruncatedNormal with an open side (``low=-inf`` and/or ``high=inf``), which unite 3.5.2
accepts: the sampler's coordinates, the rendered program (no infinity in the data, stanc), and
the compiled log density against scipy."""

from __future__ import annotations

import math
import re
import subprocess
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from conftest import tutorial_fit1
from scipy.stats import truncnorm

from unite_stan import model
from unite_stan.prior import TruncatedNormal
from unite_stan.stan.coordinates import (
    LOGIT,
    LOWER,
    REAL,
    UPPER,
    coordinate_kind,
    site_log_prob_offset,
    to_unconstrained,
    to_value,
    value_slope,
)
from unite_stan.stan.render import render_program
from unite_stan.stan.run import constrain, unconstrain

INF = math.inf
PRIORS = {
    "z_narrow": TruncatedNormal(0.0, 3e-4, -INF, INF),
    "fwhm_gauss_narrow": TruncatedNormal(200.0, 80.0, 0.0, INF),
    "flux_Ha": TruncatedNormal(1.5, 1.0, -INF, 3.0),
}


def _build():
    spectra, lc, cc = tutorial_fit1()
    tokens = lc.tokens()
    for name, prior in PRIORS.items():
        tokens[name].prior = prior
    return model.ModelBuilder(lc, cc, spectra).build()


def test_open_sides_are_accepted_and_checked():
    assert repr(TruncatedNormal(0, 1, -INF, INF)) == (
        "TruncatedNormal(loc=0, scale=1, low=-inf, high=inf)"
    )
    assert TruncatedNormal(0, 1, 0.0, INF, init=1.0).init == 1.0
    with pytest.raises(ValueError, match=re.escape("init=-1.0 must lie strictly inside")):
        TruncatedNormal(0, 1, 0.0, INF, init=-1.0)
    message = "TruncatedNormal(low=inf): a bound must be a finite number or -inf (that side open)"
    with pytest.raises(ValueError, match=re.escape(message)):
        TruncatedNormal(0, 1, INF, INF)
    with pytest.raises(ValueError, match=re.escape("TruncatedNormal(high=nan)")):
        TruncatedNormal(0, 1, 0.0, math.nan)


def test_coordinates_of_open_sides():
    kinds = {name: coordinate_kind(prior) for name, prior in PRIORS.items()}
    assert kinds == {"z_narrow": REAL, "fwhm_gauss_narrow": LOWER, "flux_Ha": UPPER}
    assert coordinate_kind(TruncatedNormal(0, 1, -1.0, 1.0)) == LOGIT
    u = np.array([-3.0, 0.0, 2.5])
    for kind, low, high, value in (
        (LOWER, 2.0, INF, 2.0 + np.exp(u)),
        (UPPER, -INF, 3.0, 3.0 - np.exp(u)),
        (REAL, -INF, INF, u),
    ):
        np.testing.assert_allclose(to_value(kind, u, low, high), value, rtol=1e-15)
        np.testing.assert_allclose(to_unconstrained(kind, value, low, high), u, atol=1e-14)
        step = 1e-6
        numeric = (to_value(kind, u + step, low, high) - to_value(kind, u - step, low, high)) / (
            2 * step
        )
        np.testing.assert_allclose(value_slope(kind, u, low, high), numeric, rtol=1e-8)


def test_program_uses_the_open_maps_and_keeps_infinity_out_of_the_data(tmp_path):
    program, args = _build()
    k = {name: i + 1 for i, name in enumerate(program.free_sites)}
    code = program.code
    assert f"normal_open_lp(u[{k['z_narrow']}]" in code
    assert f"truncnormal_lower_lp(u[{k['fwhm_gauss_narrow']}]" in code
    assert f"truncnormal_upper_lp(u[{k['flux_Ha']}]" in code
    assert code.count("real truncnormal_lower_lp(") == 1
    for key, value in program.data.items():
        assert np.all(np.isfinite(np.asarray(value, dtype=float))), key
    # a program without open sides does not carry the chunk (goldens unchanged)
    spectra, lc, cc = tutorial_fit1()
    assert (
        "normal_open_lp" not in render_program(model.ModelBuilder(lc, cc, spectra).build()[1]).code
    )
    stanc = Path(str(files("httpstan") / "stanc"))
    (tmp_path / "m.stan").write_text(code)
    proc = subprocess.run(
        [str(stanc), str(tmp_path / "m.stan"), "--o", str(tmp_path / "m.hpp")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # the program's lp__ is unite's log_prob in these coordinates: no offset to convert
    for kind in (LOWER, UPPER, REAL):
        assert np.all(site_log_prob_offset(kind, np.array([0.5, 2.0])) == 0.0)


def _open_log_prior(name: str, value: float) -> float:
    """scipy's truncated normal log density plus the log Jacobian of the site's map."""
    prior = PRIORS[name]
    low, high = float(prior.low.value), float(prior.high.value)
    loc, scale = float(prior.loc.value), prior.scale
    density = truncnorm.logpdf(value, (low - loc) / scale, (high - loc) / scale, loc, scale)
    if math.isfinite(low) and not math.isfinite(high):
        return density + math.log(value - low)
    if math.isfinite(high) and not math.isfinite(low):
        return density + math.log(high - value)
    return density


@pytest.mark.stan
def test_log_density_matches_scipy():
    from unite_stan.stan.backends import get_backend

    program, args = _build()
    backend = get_backend("embedded")
    density = backend.log_density(backend.compile(program.code, progress=False), program.data)
    base = constrain(args, np.zeros(len(args.free_sites)))
    moved = dict(base, z_narrow=2e-4, fwhm_gauss_narrow=340.0, flux_Ha=2.9)
    lp, out = {}, {}
    for key, point in (("base", base), ("moved", moved)):
        x = unconstrain(args, point)
        lp[key] = density.log_prob(x)
        out[key] = density.write_array(x)
        for name in PRIORS:
            assert out[key][name] == pytest.approx(point[name], rel=1e-12)
    expected = out["moved"]["log_lik_spec.1"] - out["base"]["log_lik_spec.1"]
    for name in PRIORS:
        expected += _open_log_prior(name, moved[name]) - _open_log_prior(name, base[name])
    assert lp["moved"] - lp["base"] == pytest.approx(expected, rel=1e-10, abs=1e-8)
    # far in the lower tail of fwhm's prior the normaliser stays finite
    assert np.isfinite(density.log_prob(unconstrain(args, dict(base, fwhm_gauss_narrow=1e-3))))


@pytest.mark.stan
def test_fit_with_open_sided_priors_recovers_the_tutorial_truth():
    spectra, lc, cc = tutorial_fit1()
    tokens = lc.tokens()
    for name, prior in PRIORS.items():
        tokens[name].prior = prior
    samples, args = model.ModelBuilder(lc, cc, spectra).fit(
        num_warmup=300, num_samples=500, num_chains=2, seed=3, progress_bar=False
    )
    assert np.all(samples["fwhm_gauss_narrow"] > 0.0)
    assert np.all(samples["flux_Ha"] < 3.0)
    for name, truth in (("z_narrow", 0.0), ("fwhm_gauss_narrow", 200.0)):
        lo, hi = np.percentile(samples[name], [2.5, 97.5])
        assert lo < truth < hi, (name, lo, hi)
