"""Absorption lines in the Stan program: the likelihood's model equals the tables', and a fit
recovers a simulation made by an independent numpy forward model.

One configuration (one compile) holds what absorption touches: a Gaussian absorber with a
sampled covering fraction (its flat bottom identifies it), a Laplace absorber without one, an
emission line attenuated by both, an emission line of fixed shape (the program's fixed-line
path, attenuated through its group), and an emission line of zorder 2 that the absorbers
(zorder 1) leave alone, on a Linear continuum. The simulation integrates each intrinsic
profile on a fine grid, convolves it with the Gaussian LSF by direct summation and averages
it over the pixels, written here from the definitions (unite_api.md §3.5-3.7), not with the
package's kernels.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from conftest import (
    C_KMS,
    FLUX_UNIT,
    absorption_configuration,
    grating_spectra,
    stan_log_likelihood,
    table_log_likelihood,
)

from unite_stan import diagnostics, model

pytestmark = pytest.mark.stan

EDGES = np.linspace(6500.0, 6760.0, 521)  # 0.5 A pixels
RESOLUTION = 4000.0
NOISE = 0.02  # of the continuum
LINE_SCALE = 1e-16 * u.erg / u.s / u.cm**2
CONT_SCALE = 1e-17 * FLUX_UNIT
#: simulation truth: continuum and lines (z offsets, FWHM km/s, flux in line_scale)
TRUTH = {
    "scale_c": 1.0,
    "angle_c": 0.0,
    "z_Ha": 2e-4,
    "fwhm_gauss_Ha": 250.0,
    "flux_Ha": 8.0,
    "flux_NII": 2.5,
    "z_HeI": -1e-4,
    "fwhm_gauss_HeI": 200.0,
    "flux_HeI": 4.0,
    "z_abs": 1e-4,
    "fwhm_gauss_abs": 350.0,
    "tau_abs": 4.0,
    "cf_abs": 0.7,
    "z_lap": 0.0,
    "fwhm_exp_lap": 300.0,
    "tau_lap": 1.2,
}
#: the NII line's fixed shape (conftest.absorption_configuration)
NII_Z, NII_FWHM = 2e-4, 250.0


def _simulate(seed: int = 3):
    """Pixel fluxes (units of continuum_scale) from the truth, by fine-grid integration."""
    lo, hi = EDGES[:-1], EDGES[1:]
    sub = 40
    fine = lo[:, None] + (np.arange(sub)[None, :] + 0.5) / sub * (hi - lo)[:, None]
    x = fine.ravel()
    step = (hi[0] - lo[0]) / sub

    def convolved(intrinsic):  # the Gaussian LSF of each fine point, by direct summation
        sigma = x / RESOLUTION / (2 * math.sqrt(2 * math.log(2)))
        out = np.empty_like(x)
        for k in range(x.size):
            near = np.abs(x - x[k]) < 8 * sigma[k]
            w = np.exp(-0.5 * ((x[near] - x[k]) / sigma[k]) ** 2)
            out[k] = np.sum(w * intrinsic[near]) / (sigma[k] * math.sqrt(2 * math.pi)) * step
        return out.reshape(fine.shape).mean(axis=1)

    def gauss(rest, z, fwhm):
        c = rest * (1 + z)
        s = c * fwhm / C_KMS / (2 * math.sqrt(2 * math.log(2)))
        return np.exp(-0.5 * ((x - c) / s) ** 2) / (s * math.sqrt(2 * math.pi)), s

    def laplace(rest, z, fwhm):
        c = rest * (1 + z)
        b = c * fwhm / C_KMS / (2 * math.log(2))
        return np.exp(-np.abs(x - c) / b) / (2 * b), b

    t = TRUTH
    ratio = (LINE_SCALE / CONT_SCALE).to_value(u.AA)  # a flux of 1 line_scale, in continuum Å
    ha, _ = gauss(6564.6, t["z_Ha"], t["fwhm_gauss_Ha"])
    nii, _ = gauss(6585.3, NII_Z, NII_FWHM)
    hei, _ = gauss(6680.0, t["z_HeI"], t["fwhm_gauss_HeI"])
    absorber, s_abs = gauss(6610.0, t["z_abs"], t["fwhm_gauss_abs"])
    lap, b_lap = laplace(6690.0, t["z_lap"], t["fwhm_exp_lap"])
    # optical depths: peak optical depth over the intrinsic density at the centre, times the
    # pixel-averaged LSF-convolved profile (the analytic mode's approximation, spec §3.7)
    od_abs = t["tau_abs"] * s_abs * math.sqrt(2 * math.pi) * convolved(absorber)
    od_lap = t["tau_lap"] * 2 * b_lap * convolved(lap)
    transmit = (1 - t["cf_abs"] + t["cf_abs"] * np.exp(-od_abs)) * np.exp(-od_lap)
    attenuated = ratio * (t["flux_Ha"] * convolved(ha) + t["flux_NII"] * convolved(nii))
    cont = t["scale_c"] * np.ones(lo.size)
    model_flux = (attenuated + cont) * transmit + ratio * t["flux_HeI"] * convolved(hei)
    rng = np.random.default_rng(seed)
    return model_flux + NOISE * rng.normal(size=model_flux.size), model_flux


@pytest.fixture(scope="module")
def built():
    return build()


def build():
    """(builder, program, args, the simulation's noiseless model) of the test's fit."""
    observed, truth_model = _simulate()
    spectra = grating_spectra(EDGES, observed, NOISE, RESOLUTION, LINE_SCALE, CONT_SCALE)
    lines, cont = absorption_configuration()
    spectra.prepare(lines, cont)
    builder = model.ModelBuilder(lines, cont, spectra)
    program, args = builder.build()
    return builder, program, args, truth_model


def test_absorption_program_structure(built):
    _, program, args, _ = built
    assert program.structure.absorbers == ("gaussian", "laplace")
    data = program.data
    assert list(data["group_zorder"]) == [0, 2]
    assert list(data["line_group"]) == [1, 1, 2, 1, 1]
    assert data["cont_group"] == 1
    assert list(data["line_cf_par"] > 0) == [False, False, False, True, False]
    assert list(data["gaussian_absorbers"]) == [4] and list(data["laplace_absorbers"]) == [5]
    assert list(data["gaussian_lines"]) == [1, 3] and list(data["gaussian_fixed_lines"]) == [2]
    assert "cf_abs" in args.free_sites


def test_likelihood_model_equals_the_tables(built):
    """At the truth, the log likelihood from evaluate_model's total (the tables) equals the
    Stan program's, and that total equals the independent simulation to 1e-4 (2e-4 of the
    continuum; the simulation's fine grid)."""
    _, program, args, truth_model = built
    point = {k: v for k, v in TRUTH.items() if k in args.free_sites}
    assert set(point) == set(args.free_sites)
    table, prediction = table_log_likelihood(program, args, point)
    assert table == pytest.approx(stan_log_likelihood(program, args, point), abs=1e-8)
    total = prediction.total[0] / CONT_SCALE.value
    rows = np.searchsorted(0.5 * (EDGES[1:] + EDGES[:-1]), prediction.wavelength)
    np.testing.assert_allclose(total, truth_model[rows], rtol=1e-4, atol=2e-4)
    # the absorbers remove flux, the emission columns are not attenuated
    assert prediction.lines["abs"].max() <= 0 and prediction.lines["lap"].max() <= 0
    assert prediction.tau_profiles["abs"].max() == pytest.approx(TRUTH["tau_abs"] * 0.9, rel=0.1)


def test_fit_recovers_the_absorbers(built):
    """Every sampled site's truth lies within its central 99.5 % interval (with 16 sites, 95 %
    intervals would miss some truth in 1 - 0.95^16 = 56 % of simulations; this seed's miss
    flux_NII's by 2e-4 of its value), R-hat < 1.01, bulk ESS >= 400."""
    builder, _, args, _ = built
    samples, args = builder.fit(num_warmup=500, num_samples=1000, num_chains=4, seed=1,
                                progress_bar=False)  # fmt: skip
    ds = args.dataset
    free = ds.attrs["free_parameters"]
    table = diagnostics.summary(ds, free)
    assert max(table["r_hat"]) < 1.01, dict(zip(table["name"], table["r_hat"], strict=True))
    assert min(table["ess_bulk"]) >= 400, dict(zip(table["name"], table["ess_bulk"], strict=True))
    for site in free:
        lo, hi = np.quantile(samples[site], [0.0025, 0.9975])
        assert lo <= TRUTH[site] <= hi, (site, lo, TRUTH[site], hi)
