"""compute_scales: the freeze tutorial's numbers (spec §6) and the algorithm's edge cases."""

import astropy.units as u
import numpy as np
import pytest

from unite_stan import continuum, line, prior
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.spectrum import ScaleDiagnosticList, Spectra, from_centers, from_edges

FLAM = u.erg / u.s / u.cm**2 / u.AA
KMS = u.km / u.s
C_KMS = 299792.458


def tutorial_spectrum():
    """Step 1 of the tutorial, verbatim in substance."""
    rng = np.random.default_rng(42)
    wl = np.linspace(6200.0, 6800.0, 600)
    dlam_pix = 600.0 / 599.0
    disperser = SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism")
    fwhm = np.sqrt((6563.0 * 200.0 / C_KMS) ** 2 + (6563.0 / 1200.0) ** 2)
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))

    def g(center):
        return np.exp(-0.5 * ((wl - center) / sigma) ** 2)

    true_lines = 60 * g(6563.0) + 15 * g(6549.0) + 45 * g(6585.0) + 10 * g(6717.0) + 15 * g(6731.0)
    flux = (true_lines + 20.0 + 0.04 * (wl - 6550.0) + rng.normal(0, 3.0, 600)) * 1e-17
    error = np.full(600, 3.0e-17)
    half = 0.5 * dlam_pix
    return from_edges(
        (wl - half) * u.AA, (wl + half) * u.AA, flux * FLAM, error * FLAM, disperser, name="grism"
    )


def tutorial_configs():
    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fwhm = line.FWHM("narrow", prior=prior.Uniform(50, 500))
    common = dict(profile="Gaussian", redshift=z, fwhm_gauss=fwhm)
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA, flux=line.Flux(prior=prior.Uniform(0, 3)), **common)
    lc.add_lines(
        "NII",
        np.array([6549.0, 6585.0]) * u.AA,
        strength=[1.0, 3.0],
        flux=line.Flux(prior=prior.Uniform(0, 3)),
        **common,
    )
    lc.add_lines(
        "SII",
        np.array([6717.0, 6731.0]) * u.AA,
        strength=[1.0, 1.5],
        flux=line.Flux(prior=prior.Uniform(0, 3)),
        **common,
    )
    cc = continuum.ContinuumConfiguration.from_lines(
        lc.centers, width=15_000 * KMS, form=continuum.Linear()
    )
    return lc, cc


@pytest.fixture
def tutorial():
    spectra = Spectra([tutorial_spectrum()], redshift=0.0)
    lc, cc = tutorial_configs()
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(flc, fcc, line_mask_width=3_000 * KMS, box_width=2_000 * KMS)
    return spectra, flc, fcc


def test_tutorial_region(tutorial):
    _, flc, fcc = tutorial
    assert len(flc) == 5 and len(fcc) == 1
    assert f"[{fcc[0].low:.1f}, {fcc[0].high:.1f}]" == "[6385.2, 6899.4]"
    assert f"{fcc[0].center:.1f}" == "6642.3"


def test_tutorial_continuum_scale(tutorial):
    spectra, _, _ = tutorial
    assert spectra.continuum_scale.unit == FLAM
    assert spectra.continuum_scale.value == pytest.approx(1.896e-16, rel=1e-3)
    assert f"{spectra.continuum_scale:.4g}" == "1.896e-16 erg / (Angstrom s cm2)"


def test_tutorial_line_scale(tutorial):
    spectra, _, _ = tutorial
    assert spectra.line_scale.unit == u.erg / u.s / u.cm**2
    assert spectra.line_scale.value == pytest.approx(2.748e-14, rel=1e-3)


def test_tutorial_diagnostics(tutorial):
    spectra, _, _ = tutorial
    diagnostics = spectra.scale_diagnostics
    assert isinstance(diagnostics, ScaleDiagnosticList)
    d = diagnostics["grism"]
    assert d is diagnostics[0] and d.name == "grism"
    (region,) = d.regions
    # the Linear fit in raw units (spec §3.9): scale 2.352e-16, angle = atan(slope) ≈ 3.9e-19
    assert region.fit_params["scale"] == pytest.approx(2.352e-16, rel=1e-3)
    assert region.fit_params["angle"] == pytest.approx(3.9e-19, rel=1e-2)
    assert region.fit_params["norm_wav"] == pytest.approx(6642.28, abs=0.01)
    assert region.chi2_red == pytest.approx(1.0, abs=0.2)
    assert np.isnan(d.continuum_model[~region.in_region]).all()
    assert np.isfinite(d.continuum_model[region.in_region]).all()
    assert region.good_mask.sum() < region.in_region.sum()
    assert not (region.good_mask & d.line_mask).any()
    # mask half-widths add velocity and LSF widths linearly: (λ·3000/c + λ/1200)/2 ≈ 35.6 Å
    wl = spectra[0].wavelength
    centres = np.array([6563.0, 6549.0, 6585.0, 6717.0, 6731.0])
    half = 0.5 * (centres * 3000 / C_KMS + centres / 1200)
    expected = (np.abs(wl[:, None] - centres) < half).any(axis=1)
    np.testing.assert_array_equal(d.line_mask, expected)


def test_error_scale_option_sets_sqrt_chi2_in_regions():
    spectra = Spectra([tutorial_spectrum()])
    lc, cc = tutorial_configs()
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(
        flc, fcc, line_mask_width=3_000 * KMS, box_width=2_000 * KMS, error_scale=True
    )
    region = spectra.scale_diagnostics[0].regions[0]
    scale = spectra[0].error_scale
    np.testing.assert_allclose(scale[region.in_region], np.sqrt(region.chi2_red))
    np.testing.assert_array_equal(scale[~region.in_region], 1.0)


def test_without_continuum_uses_zero_baseline():
    spectra = Spectra([tutorial_spectrum()])
    lc, _ = tutorial_configs()
    spectra.compute_scales(lc, line_mask_width=3_000 * KMS, box_width=2_000 * KMS)
    assert spectra.continuum_scale is None
    wl, flux = spectra[0].wavelength, spectra[0].flux
    window = np.abs(wl - 6563.0) <= 0.5 * np.hypot(6563 * 3000 / C_KMS, 6563 / 1200)
    expected = flux[window].max() * 2000 * 6563.0 / C_KMS
    assert spectra.line_scale.value == pytest.approx(expected, rel=1e-12)


def flat_spectrum(flux_value=1.0, n=400, dip=0.0):
    """A constant spectrum, optionally with a Gaussian absorption dip at Hα."""
    wl = np.linspace(6000.0, 7000.0, n)
    disperser = SimpleDisperser(wl * u.AA, R=1000.0, name="flat")
    flux = (flux_value - dip * np.exp(-0.5 * ((wl - 6563.0) / 3.0) ** 2)) * FLAM
    return from_centers(wl * u.AA, flux, np.full(n, 0.1) * FLAM, disperser)


def test_no_positive_line_peak_raises():
    spectra = Spectra([flat_spectrum(dip=0.5)])
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA)
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers)
    with pytest.raises(ValueError, match=r"no positive line peak.*\['Ha'\]"):
        spectra.compute_scales(lc, cc)


def test_continuum_failures_raise():
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA)
    spectra = Spectra([flat_spectrum()])
    spectra.line_scale = 1 * u.erg / u.s / u.cm**2
    inside_mask = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6560 * u.AA, 6566 * u.AA)]
    )
    with pytest.raises(ValueError, match="no continuum region has an unmasked pixel"):
        spectra.compute_scales(lc, inside_mask)
    # the mask reaches 6563 ± 14.2 Å; 2.5 Å pixels leave two unmasked pixels, too few to fit
    two_pixels = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6545 * u.AA, 6551 * u.AA)]
    )
    with pytest.raises(ValueError, match="every continuum region fit failed"):
        spectra.compute_scales(lc, two_pixels)
    assert spectra.line_scale.value == 1  # nothing changed on failure
    assert spectra.scale_diagnostics is None
    wl = np.linspace(6000.0, 7000.0, 400)
    spike = np.where(np.abs(wl - 6563.0) < 5, 1.0, 0.0) * FLAM  # zero outside the line mask
    disperser = SimpleDisperser(wl * u.AA, R=1000.0, name="spike")
    line_only = Spectra([from_centers(wl * u.AA, spike, 0.1 * np.ones(400) * FLAM, disperser)])
    wide = continuum.ContinuumConfiguration.from_lines(lc.centers)
    with pytest.raises(ValueError, match="median"):
        line_only.compute_scales(lc, wide)


def test_line_scale_units_follow_first_spectrum_and_canonical_unit():
    wl = np.linspace(0.6, 0.7, 500)
    disperser = SimpleDisperser(wl * u.micron, R=1000.0, name="nir")
    flux = (1 + 5 * np.exp(-0.5 * ((wl - 0.6563) / 0.0003) ** 2)) * u.Unit(1e-17 * FLAM)
    spec = from_centers(wl * u.micron, flux, 0.1 * np.ones(500) * u.Unit(1e-17 * FLAM), disperser)
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA)
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers)
    in_micron = Spectra([spec])
    in_micron.compute_scales(lc, cc)
    in_aa = Spectra([spec], canonical_unit=u.AA)
    in_aa.compute_scales(lc, cc)
    assert in_micron.line_scale.unit == u.Unit(1e-17 * FLAM) * u.micron
    assert in_aa.line_scale.unit == u.Unit(1e-17 * FLAM) * u.AA
    assert in_aa.line_scale.to_value(in_micron.line_scale.unit) == pytest.approx(
        in_micron.line_scale.value
    )
    assert in_micron.continuum_scale.value == pytest.approx(1.0, rel=1e-2)


def _forms_for_scales(tmp_path):
    wave = np.linspace(6000.0, 7500.0, 151)
    rows = "\n".join(
        f"{w:.17g} {1 + (w - 6000) / 3000:.17g} {np.exp(-(w - 6000) / 2000):.17g}" for w in wave
    )
    path = tmp_path / "template.ecsv"
    path.write_text(
        "# %ECSV 1.0\n# ---\n# datatype:\n"
        "# - {name: wave, unit: Angstrom, datatype: float64}\n"
        "# - {name: red, unit: erg / (Angstrom s cm2), datatype: float64}\n"
        "# - {name: blue, unit: erg / (Angstrom s cm2), datatype: float64}\n"
        f"wave red blue\n{rows}\n"
    )
    return [
        continuum.Chebyshev(),
        continuum.Legendre(),
        continuum.Bernstein(),
        continuum.BSpline([6500.0, 6700.0] * u.AA),
        continuum.Blackbody(),
        continuum.ModifiedBlackbody(),
        continuum.AttenuatedBlackbody(),
        continuum.Template(path),
        continuum.DLAPowerLaw(),
    ]


def test_compute_scales_fits_every_form(tmp_path):
    """Each form's region is fitted (fit_continuum_form in the spectrum's unit and frame) and
    describes the tutorial's straight continuum."""
    for form in _forms_for_scales(tmp_path):
        spectra = Spectra([tutorial_spectrum()], redshift=0.0)
        lc, _ = tutorial_configs()
        cc = continuum.ContinuumConfiguration.from_lines(lc.centers, form=form)
        flc, fcc = spectra.prepare(lc, cc)
        spectra.compute_scales(flc, fcc, line_mask_width=3_000 * KMS, box_width=2_000 * KMS)
        region = spectra.scale_diagnostics[0].regions[0]
        assert region.fit_params is not None, form
        if not isinstance(form, continuum.DLAPowerLaw):
            # (without a Lyman α in the region, a damping wing with any N_HI bends the power
            # law: Gauss-Newton wanders along that ridge, as unite's would)
            assert region.chi2_red == pytest.approx(1.0, abs=0.25), form
        assert np.all(np.isfinite(region.model_on_region)), form
        assert spectra.continuum_scale.value == pytest.approx(2.26e-16, rel=0.05), form
