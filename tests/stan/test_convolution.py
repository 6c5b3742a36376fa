"""Convolution mode (``integration_mode='convolution'``): the Stan program's likelihood equals
the tables', a fit recovers a saturated, unresolved absorber from an independent simulation,
and a line of zero width gives the LSF alone (unite: NaN).

The simulation is written here from the definitions (unite_api.md §3.11): the intrinsic
model on a grid 40 times finer than the pixels, the absorber's transmission exp(-tau phi)
applied there, then the Gaussian LSF by direct summation and the pixel means.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from conftest import (
    C_KMS,
    FLUX_UNIT,
    grating_spectra,
    stan_log_likelihood,
    table_log_likelihood,
)

from unite_stan import continuum, diagnostics, line, model
from unite_stan.compute import evaluate_model
from unite_stan.instrument import RScale
from unite_stan.prior import Fixed, Uniform

pytestmark = pytest.mark.stan

EDGES = np.linspace(6585.0, 6635.0, 126)  # 0.4 A pixels
RESOLUTION = 4000.0  # an LSF of 75 km/s
NOISE = 0.01
LINE_SCALE = 1e-17 * u.erg / u.s / u.cm**2
CONT_SCALE = 1e-17 * FLUX_UNIT
#: an absorber narrower than the LSF and saturated at its centre, on an emission line
TRUTH = {
    "scale_c": 1.0,
    "angle_c": 0.0,
    "z_em": 1e-4,
    "fwhm_gauss_em": 300.0,
    "flux_em": 3.0,
    "z_abs": 2e-4,
    "fwhm_gauss_abs": 40.0,
    "tau_abs": 3.0,
}
EM_REST, ABS_REST = 6605.0, 6610.0


def configuration(profile="gaussian", abs_width=None):
    lines = line.LineConfiguration()
    lines.add_line("em", EM_REST * u.AA, flux=line.Flux(prior=Uniform(0, 10)))
    lines.add_line(
        "abs",
        ABS_REST * u.AA,
        profile=profile,
        tau=line.Tau(prior=Uniform(0, 20)),
        **{
            ("fwhm_gauss" if profile == "gaussian" else "fwhm_lorentz"): line.FWHM(
                prior=Uniform(5, 300) if abs_width is None else Fixed(abs_width)
            )
        },
    )
    cont = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6587 * u.AA, 6633 * u.AA, continuum.Linear(), name="c")]
    )
    return lines, cont


def simulate(seed: int = 5):
    lo, hi = EDGES[:-1], EDGES[1:]
    sub = 40
    x = (lo[:, None] + (np.arange(sub)[None, :] + 0.5) / sub * (hi - lo)[:, None]).ravel()
    step = (hi[0] - lo[0]) / sub
    k = 2 * math.sqrt(2 * math.log(2))

    def gauss(rest, z, fwhm):
        c = rest * (1 + z)
        s = c * fwhm / C_KMS / k
        return np.exp(-0.5 * ((x - c) / s) ** 2) / (s * math.sqrt(2 * math.pi)), s

    t = TRUTH
    ratio = (LINE_SCALE / CONT_SCALE).to_value(u.AA)
    em, _ = gauss(EM_REST, t["z_em"], t["fwhm_gauss_em"])
    ab, s_ab = gauss(ABS_REST, t["z_abs"], t["fwhm_gauss_abs"])
    intrinsic = (t["scale_c"] + ratio * t["flux_em"] * em) * np.exp(
        -t["tau_abs"] * s_ab * math.sqrt(2 * math.pi) * ab
    )
    sigma = x / RESOLUTION / k
    out = np.empty_like(x)
    for j in range(x.size):  # the LSF, normalised over the grid (the ends repeated)
        d = np.arange(-int(6 * sigma[j] / step), int(6 * sigma[j] / step) + 1)
        near = np.clip(j + d, 0, x.size - 1)
        w = np.exp(-0.5 * (d * step / sigma[j]) ** 2)
        out[j] = np.sum(w * intrinsic[near]) / np.sum(w)
    model_flux = out.reshape(lo.size, sub).mean(axis=1)
    rng = np.random.default_rng(seed)
    return model_flux + NOISE * rng.normal(size=lo.size), model_flux


def spectra_of(flux, r_scale=None):
    return grating_spectra(EDGES, flux, NOISE, RESOLUTION, LINE_SCALE, CONT_SCALE, r_scale=r_scale)


@pytest.mark.parametrize("r_scale", ["fixed", "sampled"])
def test_convolution_likelihood_equals_the_tables(r_scale):
    """The program's log likelihood equals the one from evaluate_model's total (the tables),
    with the kernel as data (r_scale fixed) and computed per draw (r_scale sampled); at the
    truth the total equals the independent simulation to 3e-4 of the continuum (its own
    grid is 40 cells per pixel, the model's 10)."""
    observed, truth_model = simulate()
    token = RScale(prior=Uniform(0.8, 1.2)) if r_scale == "sampled" else None
    spectra = spectra_of(observed, token)
    lines, cont = configuration()
    spectra.prepare(lines, cont)
    program, args = model.ModelBuilder(lines, cont, spectra).build(integration_mode="convolution")
    assert program.structure.convolution and program.structure.r_scale_free == (token is not None)
    assert args.conv_half_width == math.ceil(4 * 6635 / RESOLUTION / 2.3548200450309493 * 10 / 0.4)
    point = {k: v for k, v in TRUTH.items() if k in args.free_sites}
    if token is not None:
        point["r_scale_g"] = 1.05
    assert set(point) == set(args.free_sites)
    table, prediction = table_log_likelihood(program, args, point)
    assert table == pytest.approx(stan_log_likelihood(program, args, point), abs=1e-8)
    if token is None:
        rows = np.searchsorted(0.5 * (EDGES[1:] + EDGES[:-1]), prediction.wavelength)
        total = prediction.total[0] / CONT_SCALE.value
        np.testing.assert_allclose(total, truth_model[rows], rtol=0, atol=3e-4)


def test_convolution_fit_recovers_a_saturated_unresolved_absorber():
    """A 4-chain fit in convolution mode recovers every site within its 99.5 % interval, with
    R-hat < 1.01 and bulk ESS >= 400; the analytic mode's tables, at the truth, differ from
    the simulation by far more (its exp(-tau <LSF * phi>) is not <LSF * exp(-tau phi)>)."""
    observed, truth_model = simulate()
    spectra = spectra_of(observed)
    lines, cont = configuration()
    spectra.prepare(lines, cont)
    builder = model.ModelBuilder(lines, cont, spectra)
    samples, args = builder.fit(num_warmup=500, num_samples=1000, num_chains=4, seed=2,
                                progress_bar=False, integration_mode="convolution")  # fmt: skip
    ds = args.dataset
    free = ds.attrs["free_parameters"]
    table = diagnostics.summary(ds, free)
    assert max(table["r_hat"]) < 1.01, dict(zip(table["name"], table["r_hat"], strict=True))
    assert min(table["ess_bulk"]) >= 400, dict(zip(table["name"], table["ess_bulk"], strict=True))
    for site in free:
        lo, hi = np.quantile(samples[site], [0.0025, 0.9975])
        assert lo <= TRUTH[site] <= hi, (site, lo, TRUTH[site], hi)
    _, analytic = builder.build()
    point = {k: np.array([v]) for k, v in TRUTH.items()}
    (prediction,) = evaluate_model(point, analytic)
    rows = np.searchsorted(0.5 * (EDGES[1:] + EDGES[:-1]), prediction.wavelength)
    miss = np.max(np.abs(prediction.total[0] / CONT_SCALE.value - truth_model[rows]))
    assert miss > 20 * NOISE


@pytest.mark.parametrize("profile", ["gaussian", "cauchy"])
def test_zero_width_line_is_the_lsf_alone(profile):
    """An absorber of zero width absorbs nothing (its area optical depth is its peak over an
    infinite density); an emission line of zero width is the LSF (Gaussian and Cauchy alike),
    finite, where unite gives NaN."""
    observed, _ = simulate()
    lines, cont = configuration(profile, abs_width=0.0)
    lines.add_line(
        "narrow", 6620.0 * u.AA, profile=profile, flux=line.Flux(prior=Fixed(2.0)),
        redshift=line.Redshift(prior=Fixed(0.0)),
        **{("fwhm_gauss" if profile == "gaussian" else "fwhm_lorentz"): line.FWHM(prior=Fixed(0.0))},
    )  # fmt: skip
    spectra = spectra_of(observed)
    spectra.prepare(lines, cont)
    _, args = model.ModelBuilder(lines, cont, spectra).build(integration_mode="convolution")
    point = {k: np.array([v]) for k, v in TRUTH.items() if k in args.free_sites}
    (prediction,) = evaluate_model(point, args)
    narrow = prediction.lines["narrow"][0] / CONT_SCALE.value
    assert np.all(np.isfinite(prediction.total)) and np.all(np.isfinite(narrow))
    np.testing.assert_allclose(prediction.lines["abs"][0] / CONT_SCALE.value, 0.0, atol=1e-9)
    # the LSF alone: a Gaussian of FWHM 6620 / R averaged over the pixels, its flux 2
    # line_scale (in continuum Å)
    from scipy.special import erf

    lo, hi = EDGES[:-1], EDGES[1:]
    rows = np.searchsorted(0.5 * (lo + hi), prediction.wavelength)
    sigma = 6620.0 / RESOLUTION / 2.3548200450309493
    flux = 2.0 * (LINE_SCALE / CONT_SCALE).to_value(u.AA)
    cdf = 0.5 * erf((EDGES - 6620.0) / (sigma * math.sqrt(2)))
    lsf = flux * np.diff(cdf)[rows] / (hi - lo)[rows]
    np.testing.assert_allclose(narrow, lsf, rtol=0, atol=2e-3 * lsf.max())
