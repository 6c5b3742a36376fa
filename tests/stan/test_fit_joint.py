"""Two spectra of one source (different dispersers, grids and units) fitted jointly.

The data are simulated with the package's numpy forward model at known parameter values; the
joint fit must recover them, including a sampled flux scale and pixel offset of one disperser.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from unite_stan import compute, continuum, instrument, line, model, prior, spectrum
from unite_stan.instrument.generic import SimpleDisperser

pytestmark = pytest.mark.stan

Z_SYS = 0.5
FLAM_A = u.Unit(1e-17 * u.erg / u.s / u.cm**2 / u.AA)
FLAM_UM = u.Unit(1e-13 * u.erg / u.s / u.cm**2 / u.um)
TRUTH = {
    "z_n": 3e-4,
    "fwhm_gauss_n": 250.0,
    "flux_Hb": 0.5,
    "flux_OIII_4958.9": 1.2,
    "scale_a": 1.0,
    "angle_a": 0.02,
    "flux_scale_red": 1.1,
    "pix_offset_red": 0.4,
}


def configuration():
    z = line.Redshift("n", prior=prior.Uniform(-0.002, 0.002))
    fw = line.FWHM("n", prior=prior.Uniform(50, 600))
    lc = line.LineConfiguration()
    lc.add_line(
        "Hb", 4861.3 * u.AA, redshift=z, fwhm_gauss=fw, flux=line.Flux(prior=prior.Uniform(0, 3))
    )
    lc.add_lines(
        "OIII",
        np.array([4958.9, 5006.8]) * u.AA,
        redshift=z,
        fwhm_gauss=fw,
        strength=[1.0, 2.98],
        flux=line.Flux(prior=prior.Uniform(0, 3)),
    )
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers, width=12_000 * u.km / u.s)
    return lc, cc


def spectra_with(flux_blue, flux_red):
    wl_b = np.linspace(7100.0, 7700.0, 400)
    wl_r = np.linspace(0.715, 0.775, 900)
    blue = SimpleDisperser(wavelength=wl_b * u.AA, R=1500.0, name="blue")
    red = SimpleDisperser(
        wavelength=wl_r * u.um,
        R=4000.0,
        name="red",
        flux_scale=instrument.FluxScale(prior=prior.Uniform(0.7, 1.3)),
        pix_offset=instrument.PixOffset(prior=prior.Uniform(-2.0, 2.0)),
    )
    s_b = spectrum.from_centers(wl_b * u.AA, flux_blue * FLAM_A, np.full(400, 0.05) * FLAM_A, blue)
    s_r = spectrum.from_centers(wl_r * u.um, flux_red * FLAM_UM, np.full(900, 0.08) * FLAM_UM, red)
    spectra = spectrum.Spectra([s_b, s_r], redshift=Z_SYS)
    spectra.line_scale = 1e-16 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    return spectra


def simulate(rng):
    lc, cc = configuration()
    spectra = spectra_with(np.ones(400), np.ones(900))
    _, args = model.ModelBuilder(lc, cc, spectra).build()
    truth = {k: np.array([v]) for k, v in TRUTH.items()}
    pred = compute.evaluate_model(truth, args)
    fluxes = []
    for p, spec in zip(pred, args.spectra, strict=True):
        full = np.ones(spectra[spec.name].npix)
        keep = np.isin(spectra[spec.name].wavelength, spec.wavelength)
        full[keep] = p.total[0]
        sigma = np.asarray(spectra[spec.name].error)
        fluxes.append(full + rng.normal(0, sigma))
    return fluxes


def test_joint_fit_recovers_truth_and_calibration():
    flux_blue, flux_red = simulate(np.random.default_rng(11))
    lc, cc = configuration()
    spectra = spectra_with(flux_blue, flux_red)
    samples, args = model.ModelBuilder(lc, cc, spectra).fit(
        num_warmup=500, num_samples=500, num_chains=2, seed=5, progress_bar=False
    )
    assert [s.name for s in args.spectra] == ["blue", "red"]
    assert args.canonical_unit == u.AA
    assert set(args.free_sites) == set(TRUTH)
    for site, truth in TRUTH.items():
        lo, hi = np.quantile(samples[site], [0.005, 0.995])
        assert lo <= truth <= hi, (site, lo, truth, hi)
    assert args.dataset.sizes["spectrum"] == 2
    assert int(args.dataset["diverging"].sum()) == 0
    # log_likelihood is the sum over both spectra
    total = args.dataset["log_likelihood"].sum("spectrum").values.reshape(-1)
    np.testing.assert_allclose(samples["log_likelihood"], total)
