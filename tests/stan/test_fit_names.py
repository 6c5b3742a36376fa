"""Hostile line names fit correctly and come back under their exact site names."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from unite_stan import continuum, line, model, prior, spectrum
from unite_stan.instrument.generic import SimpleDisperser

pytestmark = pytest.mark.stan

NAMES = ["X_6564.61", "target", "a b", '"; } model { target += 1e9; //']
CENTRES = [6420.0, 6500.0, 6580.0, 6660.0]
AMPS = [40.0, 25.0, 30.0, 20.0]


def test_odd_names_fit_and_keep_their_site_names():
    rng = np.random.default_rng(7)
    wl = np.linspace(6350.0, 6750.0, 400)
    sigma = 3.0
    truth = 10.0 + sum(
        a * np.exp(-0.5 * ((wl - c) / sigma) ** 2) for a, c in zip(AMPS, CENTRES, strict=True)
    )
    unit = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    flux = (truth + rng.normal(0, 1.0, wl.size)) * unit
    disp = SimpleDisperser(wavelength=wl * u.AA, R=3000.0, name="arm one")
    spec = spectrum.from_centers(wl * u.AA, flux, np.ones(wl.size) * unit, disp)
    lc = line.LineConfiguration()
    z = line.Redshift("sys", prior=prior.Uniform(-0.001, 0.001))
    fw = line.FWHM("for", prior=prior.Uniform(50, 800))
    for name, c in zip(NAMES, CENTRES, strict=True):
        lc.add_line(
            name, c * u.AA, redshift=z, fwhm_gauss=fw, flux=line.Flux(prior=prior.Uniform(0, 3))
        )
    cc = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6360 * u.AA, 6740 * u.AA, form=continuum.Polynomial(0))]
    )
    spectra = spectrum.Spectra([spec])
    with pytest.warns(UserWarning, match="calling spectra.compute_scales"):
        samples, args = model.ModelBuilder(lc, cc, spectra).fit(
            num_warmup=400, num_samples=500, num_chains=2, progress_bar=False
        )
    expected = {f"flux_{n}" for n in NAMES} | {"z_sys", "fwhm_gauss_for", "scale_a"}
    assert expected | {"log_prob", "log_likelihood"} == set(samples)
    assert set(args.dataset.attrs["free_parameters"]) == expected
    assert "z_sys" in args.dataset and "r_scale_arm one" in args.dataset
    line_scale = spectra.line_scale.to_value(unit * u.AA)
    for name, a in zip(NAMES, AMPS, strict=True):
        # the model's width is a velocity: the simulated sigma is 3 A at every line, so allow 5 %
        true_flux = a * sigma * np.sqrt(2 * np.pi) / line_scale
        lo, hi = np.quantile(samples[f"flux_{name}"], [0.005, 0.995])
        assert lo * 0.95 <= true_flux <= hi * 1.05, (name, lo, true_flux, hi)
    assert int(args.dataset["diverging"].sum()) == 0
