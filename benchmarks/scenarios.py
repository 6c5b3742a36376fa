"""Benchmark scenarios written once against unite's API.

Every scenario is a function ``build(api, seed)`` where ``api`` is a namespace holding the
modules ``continuum, line, model, prior, results, spectrum`` and the class ``SimpleDisperser``
from either ``unite`` or ``unite_stan``: the same code runs on both (that is the point of an
API-compatible package). It returns a :class:`Case`: prepared spectra and configurations, the
sampler settings, and the truth to check.

The spectra are simulated by pixel-integrating Gaussian lines (intrinsic velocity width in
quadrature with the LSF) on a linear continuum, with Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from scipy.special import erf


def api_of(package: str):
    """The namespace the scenarios are written against, from ``'unite'`` or ``'unite_stan'``:
    its ``continuum``, ``line``, ``model``, ``prior``, ``results`` and ``spectrum`` modules and
    ``SimpleDisperser``."""
    import importlib
    import types

    modules = ("continuum", "line", "model", "prior", "results", "spectrum")
    generic = importlib.import_module(f"{package}.instrument.generic")
    return types.SimpleNamespace(
        **{name: importlib.import_module(f"{package}.{name}") for name in modules},
        SimpleDisperser=generic.SimpleDisperser,
    )


C_KMS = 299792.458
FLAM = u.erg / u.s / u.cm**2 / u.AA
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass
class Case:
    name: str
    description: str
    spectra: object
    lines: object
    continuum: object
    fit: dict = field(default_factory=lambda: dict(num_warmup=500, num_samples=1000, num_chains=4))
    #: site -> (truth, kind): kind 'flux' compares samples × line_scale [erg/s/cm2], 'raw' as is
    truth: dict = field(default_factory=dict)


def simulate(edges_lo, edges_hi, R, lines, cont, noise, rng, z=0.0):
    """Pixel-averaged flux density [1e-17 erg/s/cm2/A] of Gaussian lines on a continuum.

    ``lines``: list of (rest wavelength [A], integrated flux [1e-17 erg/s/cm2], FWHM [km/s]).
    ``cont``: (level, slope per A, pivot [A]) in the observed frame.
    """
    width = edges_hi - edges_lo
    mid = 0.5 * (edges_lo + edges_hi)
    level, slope, pivot = cont
    flux = level + slope * (mid - pivot)
    for rest, total, fwhm in lines:
        centre = rest * (1 + z)
        lsf_lo, lsf_hi = edges_lo / R, edges_hi / R
        w = centre * fwhm / C_KMS
        s_lo = np.sqrt(lsf_lo**2 + w**2) * FWHM_TO_SIGMA
        s_hi = np.sqrt(lsf_hi**2 + w**2) * FWHM_TO_SIGMA
        cdf_hi = 0.5 * (1 + erf((edges_hi - centre) / (np.sqrt(2) * s_hi)))
        cdf_lo = 0.5 * (1 + erf((edges_lo - centre) / (np.sqrt(2) * s_lo)))
        flux = flux + total * (cdf_hi - cdf_lo) / width
    return flux + rng.normal(0, noise, flux.size)


def _spectrum(api, name, lo_a, hi_a, n_pix, R, lines, cont, noise, rng, *, z=0.0, unit=u.AA):
    """A simulated spectrum on a linear grid from lo_a to hi_a Angstrom, in ``unit``."""
    edges = np.linspace(lo_a, hi_a, n_pix + 1)
    flux = simulate(edges[:-1], edges[1:], R, lines, cont, noise, rng, z=z)
    factor = (1 * u.AA).to_value(unit)
    centres = 0.5 * (edges[1:] + edges[:-1]) * factor
    disperser = api.SimpleDisperser(wavelength=centres * unit, R=float(R), name=name)
    return api.spectrum.from_edges(
        edges[:-1] * factor * unit,
        edges[1:] * factor * unit,
        flux * 1e-17 * FLAM,
        np.full(n_pix, noise) * 1e-17 * FLAM,
        disperser,
        name=name,
    )


def _prepare(api, specs, lc, cc, *, z=0.0):
    spectra = api.spectrum.Spectra(specs, redshift=z)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(flc, fcc, line_mask_width=3000 * u.km / u.s, box_width=2000 * u.km / u.s)
    return spectra, flc, fcc


def _single(api, lc, name, wave, z, fw, flux_high):
    """One line with its own Uniform(0, flux_high) flux, redshift ``z`` and FWHM ``fw``."""
    lc.add_line(
        name,
        wave * u.AA,
        redshift=z,
        fwhm_gauss=fw,
        flux=api.line.Flux(prior=api.prior.Uniform(0, flux_high)),
    )


def _doublet(api, lc, name, waves, ratio, z, fw, flux_high):
    """Two lines sharing one flux token with strengths 1 : ratio (a fixed-ratio multiplet)."""
    lc.add_lines(
        name,
        np.array(waves) * u.AA,
        redshift=z,
        fwhm_gauss=fw,
        strength=[1.0, ratio],
        flux=api.line.Flux(prior=api.prior.Uniform(0, flux_high)),
    )


def tutorial_fit1(api, seed=42):
    """unite's freeze tutorial, Fit 1: Ha + [NII] + [SII], 600 px, R = 1200."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(6200.0, 6800.0, 600)
    dlam = 600.0 / 599.0
    disperser = api.SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism")
    fwhm_aa = np.sqrt((6563.0 * 200.0 / C_KMS) ** 2 + (6563.0 / 1200.0) ** 2)
    sigma = fwhm_aa * FWHM_TO_SIGMA
    amps = {6563.0: 60.0, 6549.0: 15.0, 6585.0: 45.0, 6717.0: 10.0, 6731.0: 15.0}
    truth_lines = sum(a * np.exp(-0.5 * ((wl - c) / sigma) ** 2) for c, a in amps.items())
    flux = (truth_lines + 20.0 + 0.04 * (wl - 6550.0) + rng.normal(0, 3.0, 600)) * 1e-17
    spec = api.spectrum.from_edges(
        (wl - dlam / 2) * u.AA,
        (wl + dlam / 2) * u.AA,
        flux * FLAM,
        np.full(600, 3e-17) * FLAM,
        disperser,
        name="grism",
    )
    z = api.line.Redshift("narrow", prior=api.prior.Uniform(-0.001, 0.001))
    fw = api.line.FWHM("narrow", prior=api.prior.Uniform(50, 500))
    lc = api.line.LineConfiguration()
    _single(api, lc, "Ha", 6563.0, z, fw, 3)
    _doublet(api, lc, "NII", [6549.0, 6585.0], 3.0, z, fw, 3)
    _doublet(api, lc, "SII", [6717.0, 6731.0], 1.5, z, fw, 3)
    cc = api.continuum.ContinuumConfiguration.from_lines(
        lc.centers, width=15_000 * u.km / u.s, form=api.continuum.Linear()
    )
    spectra = api.spectrum.Spectra([spec], redshift=0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(
        flc, fcc, line_mask_width=3_000 * u.km / u.s, box_width=2_000 * u.km / u.s
    )
    area = sigma * np.sqrt(2 * np.pi) * 1e-17
    truth = {
        "z_narrow": (0.0, "raw"),
        "fwhm_gauss_narrow": (200.0, "raw"),
        "flux_Ha": (60.0 * area, "flux"),
        "flux_NII_6549": (15.0 * area, "flux"),
        "flux_SII_6717": (10.0 * area, "flux"),
    }
    return Case(
        "tutorial_fit1",
        "freeze tutorial Fit 1 (5 lines, 7 free, 414 px)",
        spectra,
        flc,
        fcc,
        truth=truth,
    )


def tutorial_fit2(api, frozen, fit1_case):
    """Fit 2 of the tutorial: Ha + [NII] with kinematics and continuum frozen from Fit 1."""
    spectra = fit1_case.spectra
    lc2 = api.line.LineConfiguration()
    z2 = api.line.Redshift("narrow", prior=frozen["z_narrow"])
    fw2 = api.line.FWHM("narrow", prior=frozen["fwhm_gauss_narrow"])
    _single(api, lc2, "Ha", 6563.0, z2, fw2, 3)
    _doublet(api, lc2, "NII", [6549.0, 6585.0], 3.0, z2, fw2, 3)
    naive = api.continuum.ContinuumConfiguration.from_lines(
        lc2.centers, width=15_000 * u.km / u.s, form=api.continuum.Linear()
    )
    region = api.continuum.ContinuumRegion(
        naive[0].low * naive[0].unit,
        naive[0].high * naive[0].unit,
        form=api.continuum.Linear(),
        params={
            "scale": api.continuum.Scale(prior=frozen["scale_a"]),
            "angle": api.continuum.ContShape(prior=frozen["angle_a"]),
            "norm_wav": api.continuum.NormWavelength(prior=frozen["norm_wav_a"]),
        },
    )
    cc2 = api.continuum.ContinuumConfiguration([region])
    flc2, fcc2 = spectra.prepare(lc2, cc2)
    truth = {k: v for k, v in fit1_case.truth.items() if k in ("flux_Ha", "flux_NII_6549")}
    return Case(
        "tutorial_fit2",
        "freeze tutorial Fit 2 (3 lines, 2 free, 363 px)",
        spectra,
        flc2,
        fcc2,
        fit=dict(num_warmup=500, num_samples=1000, num_chains=4),
        truth=truth,
    )


def broad_narrow(
    api, seed=1, *, broad=1000.0, broad_fluxes=(600.0, 100.0, 300.0), name="broad_narrow"
):
    """Ha + [NII] with a narrow (150 km/s) and a broad (1000 km/s, outflow-like) component on
    every line."""
    rng = np.random.default_rng(seed)
    narrow = 150.0
    f_ha, f_n1, f_n2 = broad_fluxes
    lines = [
        (6563.0, 300.0, narrow),
        (6549.0, 40.0, narrow),
        (6585.0, 120.0, narrow),
        (6563.0, f_ha, broad),
        (6549.0, f_n1, broad),
        (6585.0, f_n2, broad),
    ]
    spec = _spectrum(
        api, "grating", 6300.0, 6850.0, 1100, 3000.0, lines, (20.0, 0.0, 6563.0), 2.0, rng
    )
    p = api.prior
    zn = api.line.Redshift("narrow", prior=p.Uniform(-0.001, 0.001))
    zb = api.line.Redshift("broad", prior=p.Uniform(-0.003, 0.003))
    fn = api.line.FWHM("narrow", prior=p.Uniform(50, 600))
    fb = api.line.FWHM("broad", prior=p.Uniform(600, 5000))
    lc = api.line.LineConfiguration()
    _single(api, lc, "Ha", 6563.0, zn, fn, 5)
    _doublet(api, lc, "NII", [6549.0, 6585.0], 3.0, zn, fn, 5)
    _single(api, lc, "Ha_broad", 6563.0, zb, fb, 10)
    _doublet(api, lc, "NII_broad", [6549.0, 6585.0], 3.0, zb, fb, 10)
    cc = api.continuum.ContinuumConfiguration.from_lines(lc.centers, width=20_000 * u.km / u.s)
    spectra, flc, fcc = _prepare(api, [spec], lc, cc)
    truth = {
        "z_narrow": (0.0, "raw"),
        "z_broad": (0.0, "raw"),
        "fwhm_gauss_narrow": (narrow, "raw"),
        "fwhm_gauss_broad": (broad, "raw"),
        "flux_Ha": (300e-17, "flux"),
        "flux_NII_6549": (40e-17, "flux"),
        "flux_Ha_broad": (f_ha * 1e-17, "flux"),
        "flux_NII_broad_6549": (f_n1 * 1e-17, "flux"),
    }
    return Case(
        name,
        f"narrow 150 + broad {broad:.0f} km/s on Ha, [NII] (10 free, 1100 px)",
        spectra,
        flc,
        fcc,
        truth=truth,
    )


def broad_blended(api, seed=1):
    """The hard variant: a 2000 km/s broad component with weak broad [NII], blended into one
    feature; broad [NII] is compatible with zero, a heavy tail on unite's logistic scale."""
    return broad_narrow(
        api, seed, broad=2000.0, broad_fluxes=(900.0, 60.0, 180.0), name="broad_blended"
    )


REST_Z2 = [
    (4861.3, "Hb"),
    (4958.9, "OIII_4959"),
    (5006.8, "OIII_5007"),
    (6548.1, "NII_6548"),
    (6562.8, "Ha"),
    (6583.5, "NII_6584"),
]


def two_resolutions(api, seed=2):
    """One z = 2 source seen by a prism (R ~ 100) and a grating (R ~ 1000), fitted jointly."""
    rng = np.random.default_rng(seed)
    z = 2.0
    fluxes = {
        "Hb": 20.0,
        "OIII_4959": 30.0,
        "OIII_5007": 90.0,
        "NII_6548": 5.0,
        "Ha": 60.0,
        "NII_6584": 15.0,
    }
    lines = [(w, fluxes[n], 180.0) for w, n in REST_Z2]
    prism = _spectrum(
        api,
        "prism",
        13000.0,
        21000.0,
        200,
        100.0,
        lines,
        (0.5, 0.0, 17000.0),
        0.05,
        rng,
        z=z,
        unit=u.um,
    )
    grating = _spectrum(
        api,
        "grating",
        14000.0,
        20500.0,
        3250,
        1000.0,
        lines,
        (0.5, 0.0, 17000.0),
        0.15,
        rng,
        z=z,
        unit=u.um,
    )
    p = api.prior
    zt = api.line.Redshift("z", prior=p.Uniform(-0.005, 0.005))
    fw = api.line.FWHM("n", prior=p.Uniform(50, 1000))
    lc = api.line.LineConfiguration()
    _single(api, lc, "Hb", 4861.3, zt, fw, 5)
    _doublet(api, lc, "OIII", [4958.9, 5006.8], 3.0, zt, fw, 5)
    _single(api, lc, "Ha", 6562.8, zt, fw, 5)
    _doublet(api, lc, "NII", [6548.1, 6583.5], 3.0, zt, fw, 5)
    cc = api.continuum.ContinuumConfiguration.from_lines(lc.centers, width=30_000 * u.km / u.s)
    spectra, flc, fcc = _prepare(api, [prism, grating], lc, cc, z=z)
    truth = {
        "z_z": (0.0, "raw"),
        "fwhm_gauss_n": (180.0, "raw"),
        "flux_Hb": (20e-17, "flux"),
        "flux_OIII_4958.9": (30e-17, "flux"),
        "flux_Ha": (60e-17, "flux"),
        "flux_NII_6548.1": (5e-17, "flux"),
    }
    return Case(
        "two_resolutions",
        "z=2 source, prism R~100 + grating R~1000 jointly",
        spectra,
        flc,
        fcc,
        truth=truth,
    )


DOZEN = [
    (4101.7, "Hd", 8.0),
    (4340.5, "Hg", 15.0),
    (4861.3, "Hb", 30.0),
    (4958.9, "OIII_4959", 40.0),
    (5006.8, "OIII_5007", 120.0),
    (5875.6, "HeI", 5.0),
    (6300.3, "OI", 6.0),
    (6548.1, "NII_6548", 10.0),
    (6562.8, "Ha", 90.0),
    (6583.5, "NII_6584", 30.0),
    (6716.4, "SII_6716", 12.0),
    (6730.8, "SII_6731", 9.0),
]


def dozen_lines(
    api, seed=3, *, n_pix=2000, resolution=1000.0, name="dozen_lines", cont_width=10_000
):
    """Twelve lines across 4000-9000 A rest at z = 2 in one R = 1000 spectrum (~2000 px)."""
    rng = np.random.default_rng(seed)
    z = 2.0
    lines = [(w, f, 250.0) for w, _, f in DOZEN]
    spec = _spectrum(
        api,
        "nirspec_like",
        12000.0,
        27000.0,
        n_pix,
        resolution,
        lines,
        (1.0, 0.0, 19000.0),
        0.2,
        rng,
        z=z,
        unit=u.um,
    )
    p = api.prior
    zt = api.line.Redshift("z", prior=p.Uniform(-0.003, 0.003))
    fw = api.line.FWHM("n", prior=p.Uniform(50, 1000))
    lc = api.line.LineConfiguration()
    for w, name, _ in DOZEN:
        _single(api, lc, name, w, zt, fw, 5)
    cc = api.continuum.ContinuumConfiguration.from_lines(lc.centers, width=cont_width * u.km / u.s)
    spectra, flc, fcc = _prepare(api, [spec], lc, cc, z=z)
    truth = {"z_z": (0.0, "raw"), "fwhm_gauss_n": (250.0, "raw")}
    truth.update({f"flux_{n}": (f * 1e-17, "flux") for _, n, f in DOZEN})
    return Case(
        name,
        f"12 lines 4000-9000 A rest at z=2, R={resolution:g}, {n_pix} px",
        spectra,
        flc,
        fcc,
        truth=truth,
    )


def _ha_nii_case(api, spec):
    """Ha + [NII] sharing one redshift and one FWHM, on a linear continuum."""
    p = api.prior
    z = api.line.Redshift("n", prior=p.Uniform(-0.002, 0.002))
    fw = api.line.FWHM("n", prior=p.Uniform(30, 800))
    lc = api.line.LineConfiguration()
    _single(api, lc, "Ha", 6563.0, z, fw, 5)
    _doublet(api, lc, "NII", [6549.0, 6585.0], 3.0, z, fw, 5)
    cc = api.continuum.ContinuumConfiguration.from_lines(lc.centers, width=15_000 * u.km / u.s)
    return _prepare(api, [spec], lc, cc)


def low_snr(api, seed=4):
    """Ha + [NII] at peak S/N ~ 3: broad posteriors near the prior bounds."""
    rng = np.random.default_rng(seed)
    lines = [(6563.0, 30.0, 200.0), (6549.0, 4.0, 200.0), (6585.0, 12.0, 200.0)]
    spec = _spectrum(api, "grism", 6300.0, 6850.0, 550, 1500.0, lines, (5.0, 0.0, 6563.0), 2.5, rng)
    spectra, flc, fcc = _ha_nii_case(api, spec)
    truth = {
        "z_n": (0.0, "raw"),
        "fwhm_gauss_n": (200.0, "raw"),
        "flux_Ha": (30e-17, "flux"),
        "flux_NII_6549": (4e-17, "flux"),
    }
    return Case("low_snr", "Ha + [NII] at peak S/N ~ 3", spectra, flc, fcc, truth=truth)


def batch_member(api, seed):
    """One member of a batch: the low_snr structure at higher S/N, different truth and noise."""
    rng = np.random.default_rng(1000 + seed)
    f_ha = rng.uniform(20.0, 60.0)
    fwhm = rng.uniform(120.0, 350.0)
    lines = [(6563.0, f_ha, fwhm), (6549.0, 0.1 * f_ha, fwhm), (6585.0, 0.3 * f_ha, fwhm)]
    spec = _spectrum(api, "grism", 6300.0, 6850.0, 550, 1500.0, lines, (5.0, 0.0, 6563.0), 1.0, rng)
    spectra, flc, fcc = _ha_nii_case(api, spec)
    truth = {"fwhm_gauss_n": (fwhm, "raw"), "flux_Ha": (f_ha * 1e-17, "flux")}
    return Case(
        f"batch_{seed:02d}",
        "batch member",
        spectra,
        flc,
        fcc,
        fit=dict(num_warmup=500, num_samples=1000, num_chains=2),
        truth=truth,
    )


def wide_grating(api, seed=5):
    """The dozen lines in one R = 2700 spectrum of 8000 pixels (a high-resolution grating)."""
    return dozen_lines(api, seed, n_pix=8000, resolution=2700.0, name="wide_grating")


def agn_broad_narrow(api, seed=0):
    """An SDSS-like AGN (R = 2000, 387 pixels of 69 km/s): narrow Hα, [NII] and [SII] plus a
    broad Hα, one shared redshift, as a user writes it with unite's defaults: narrow fluxes on
    the default Flux prior U(-3, 3), broad Hα U(0, 5), narrow FWHM U(50, 700), broad FWHM
    U(1200, 6000), and ``init=`` given for the redshift and both widths. Multimodal: the broad
    line can take the narrow Hα's flux (narrow Hα negative, narrow FWHM at its bound)."""
    rng = np.random.default_rng(seed)
    z_true, narrow, broad = 0.05, 250.0, 3500.0
    rest = {"Ha": 6564.61, "NII_6550": 6549.86, "NII_6585": 6585.27}
    rest.update({"SII_6718": 6718.29, "SII_6733": 6732.67})
    lines = [
        (rest["Ha"], 300.0, narrow),
        (rest["NII_6550"], 60.0, narrow),
        (rest["NII_6585"], 180.0, narrow),
        (rest["SII_6718"], 70.0, narrow),
        (rest["SII_6733"], 55.0, narrow),
        (rest["Ha"], 900.0, broad),
    ]
    # log-linear pixels of 69 km/s (SDSS), 387 of them around Ha at z = 0.05
    loglam = np.log10(6620.0) + 1e-4 * np.arange(388)
    edges = 10**loglam
    flux = simulate(edges[:-1], edges[1:], 2000.0, lines, (30.0, 0.0, 6900.0), 3.0, rng, z=z_true)
    centres = 0.5 * (edges[1:] + edges[:-1])
    disperser = api.SimpleDisperser(wavelength=centres * u.AA, R=2000.0, name="sdss")
    spec = api.spectrum.from_edges(
        edges[:-1] * u.AA,
        edges[1:] * u.AA,
        flux * 1e-17 * FLAM,
        np.full(centres.size, 3.0) * 1e-17 * FLAM,
        disperser,
        name="sdss",
    )
    p = api.prior
    z = api.line.Redshift("agn", prior=p.Uniform(-0.005, 0.005, init=0.0))
    fn = api.line.FWHM("narrow", prior=p.Uniform(50, 700, init=300.0))
    fb = api.line.FWHM("broad", prior=p.Uniform(1200, 6000, init=3000.0))
    lc = api.line.LineConfiguration()
    lc.add_line("Ha", rest["Ha"] * u.AA, redshift=z, fwhm_gauss=fn, flux=api.line.Flux())
    lc.add_lines(
        "NII",
        np.array([rest["NII_6550"], rest["NII_6585"]]) * u.AA,
        redshift=z,
        fwhm_gauss=fn,
        strength=[1.0, 3.0],
        flux=api.line.Flux(),
    )
    for name in ("SII_6718", "SII_6733"):
        lc.add_line(name, rest[name] * u.AA, redshift=z, fwhm_gauss=fn, flux=api.line.Flux())
    lc.add_line(
        "Ha_broad",
        rest["Ha"] * u.AA,
        redshift=z,
        fwhm_gauss=fb,
        flux=api.line.Flux(prior=p.Uniform(0, 5)),
    )
    cc = api.continuum.ContinuumConfiguration.from_lines(lc.centers, width=20_000 * u.km / u.s)
    spectra, flc, fcc = _prepare(api, [spec], lc, cc, z=z_true)
    truth = {
        "z_agn": (0.0, "raw"),  # the offset from the systemic redshift
        "fwhm_gauss_narrow": (narrow, "raw"),
        "fwhm_gauss_broad": (broad, "raw"),
        "flux_Ha": (300e-17, "flux"),
        "flux_NII_6549.86": (60e-17, "flux"),
        "flux_SII_6718": (70e-17, "flux"),
        "flux_SII_6733": (55e-17, "flux"),
        "flux_Ha_broad": (900e-17, "flux"),
    }
    return Case(
        "agn_broad_narrow",
        "SDSS-like AGN: narrow Ha, [NII], [SII] + broad Ha, user inits (10 free, 387 px)",
        spectra,
        flc,
        fcc,
        truth=truth,
    )


#: benchmark-only scenarios (slow, not in the test suite)
HARD_SCENARIOS = {"broad_blended": broad_blended, "agn_broad_narrow": agn_broad_narrow}


def full_continuum(api, seed=6):
    """The dozen lines on 20000 pixels, all of them in one continuum region."""
    return dozen_lines(
        api, seed, n_pix=20000, resolution=2700.0, name="full_continuum", cont_width=300_000
    )


#: (rest wavelength [A], name, flux [1e-17 erg/s/cm2]) of twenty optical lines
TWENTY = [
    (3727.1, "OII_3727", 60.0),
    (3729.9, "OII_3730", 80.0),
    (3869.9, "NeIII_3870", 20.0),
    (3890.2, "H8", 8.0),
    (3971.2, "He", 10.0),
    (4102.9, "Hd", 15.0),
    (4341.7, "Hg", 28.0),
    (4364.4, "OIII_4364", 5.0),
    (4687.0, "HeII_4687", 4.0),
    (4862.7, "Hb", 60.0),
    (4960.3, "OIII_4960", 80.0),
    (5008.2, "OIII_5008", 240.0),
    (5877.2, "HeI_5877", 8.0),
    (6302.0, "OI_6302", 6.0),
    (6549.9, "NII_6550", 20.0),
    (6564.6, "Ha", 170.0),
    (6585.3, "NII_6585", 60.0),
    (6718.3, "SII_6718", 25.0),
    (6732.7, "SII_6733", 19.0),
    (9071.1, "SIII_9071", 15.0),
]


def twenty_lines(api, seed=7, *, n_pix=8000, name=None):
    """Twenty lines sharing one redshift and one width on one Linear continuum region over
    3700-9300 A at R = 2500 (a wide optical spectrum): the pilot's cost with many pixels."""
    rng = np.random.default_rng(seed)
    lines = [(w, f, 200.0) for w, _, f in TWENTY]
    spec = _spectrum(
        api, "optical", 3700.0, 9300.0, n_pix, 2500.0, lines, (5.0, 0.0, 6500.0), 0.5, rng
    )
    p = api.prior
    zt = api.line.Redshift("z", prior=p.Uniform(-0.001, 0.001))
    fw = api.line.FWHM("n", prior=p.Uniform(50, 600))
    lc = api.line.LineConfiguration()
    for w, line_name, _ in TWENTY:
        _single(api, lc, line_name, w, zt, fw, 5)
    region = api.continuum.ContinuumRegion(3700.0 * u.AA, 9300.0 * u.AA)
    cc = api.continuum.ContinuumConfiguration([region])
    spectra, flc, fcc = _prepare(api, [spec], lc, cc)
    truth = {"z_z": (0.0, "raw"), "fwhm_gauss_n": (200.0, "raw")}
    truth.update({f"flux_{n}": (f * 1e-17, "flux") for _, n, f in TWENTY})
    return Case(
        name or f"twenty_lines_{n_pix}",
        f"20 lines, one Linear region 3700-9300 A, R=2500, {n_pix} px",
        spectra,
        flc,
        fcc,
        fit=dict(num_warmup=500, num_samples=1000, num_chains=2),
        truth=truth,
    )


#: many pixels (benchmarks/run.py --only twenty_lines_8000 ...); not in the test suite
LARGE_SCENARIOS = {
    f"twenty_lines_{n}": (lambda api, seed=7, n=n: twenty_lines(api, seed, n_pix=n))
    for n in (8000, 25000, 100000)
}


#: (profile, slot -> true value: FWHMs in km/s, shapes as they are) of every_profile's lines
EVERY_PROFILE = [
    ("Gaussian", {"fwhm_gauss": 300.0}),
    ("Laplace", {"fwhm_exp": 250.0}),
    ("SEMG", {"fwhm_gauss": 250.0, "fwhm_exp": 200.0}),
    ("SplitNormal", {"fwhm_blue": 200.0, "fwhm_red": 450.0}),
    ("GaussHermite", {"fwhm_gauss": 350.0, "h3": 0.1, "h4": 0.05}),
    ("SkewNormal", {"fwhm_gauss": 400.0, "alpha": 3.0}),
    ("BoxGauss", {"fwhm_box": 400.0, "fwhm_gauss": 150.0}),
    ("PseudoVoigt", {"fwhm_gauss": 200.0, "fwhm_lorentz": 150.0}),
    ("GaussianSplitLaplace", {"fwhm_gauss": 150.0, "fwhm_l_blue": 200.0, "fwhm_l_red": 350.0}),
    ("Cauchy", {"fwhm_lorentz": 200.0}),
]


def _intrinsic_density(profile, x, values, centre):
    """The intrinsic profile (before the LSF) at offsets ``x`` [A] on a regular grid (symmetric
    about 0 where it convolves), written from the profiles' definitions with scipy,
    independently of either package's kernels. SplitNormal is defined with the LSF (each side
    in quadrature), so it is handled apart."""
    from scipy import stats
    from scipy.signal import fftconvolve
    from scipy.special import voigt_profile

    def aa(v):  # km/s FWHM -> A
        return centre * v / C_KMS

    dx = x[1] - x[0]

    def gauss(fwhm):
        return stats.norm.pdf(x, scale=aa(fwhm) * FWHM_TO_SIGMA)

    def laplace(fwhm):
        return stats.laplace.pdf(x, scale=aa(fwhm) / (2 * np.log(2)))

    def convolve(a, b):
        return fftconvolve(a, b, mode="same") * dx

    if profile == "Gaussian":
        return gauss(values["fwhm_gauss"])
    if profile == "Laplace":
        return laplace(values["fwhm_exp"])
    if profile == "SEMG":
        return convolve(gauss(values["fwhm_gauss"]), laplace(values["fwhm_exp"]))
    if profile == "GaussHermite":
        sigma = aa(values["fwhm_gauss"]) * FWHM_TO_SIGMA
        y = x / sigma
        he3, he4 = y**3 - 3 * y, y**4 - 6 * y**2 + 3
        series = 1 + values["h3"] * he3 / np.sqrt(6) + values["h4"] * he4 / np.sqrt(24)
        return stats.norm.pdf(y) / sigma * series
    if profile == "SkewNormal":
        return stats.skewnorm.pdf(
            x, values["alpha"], scale=aa(values["fwhm_gauss"]) * FWHM_TO_SIGMA
        )
    if profile == "BoxGauss":
        box = (np.abs(x) <= aa(values["fwhm_box"]) / 2).astype(float)
        box /= box.sum() * dx  # the sampled box's own area, not its nominal width
        return convolve(box, gauss(values["fwhm_gauss"]))
    if profile == "PseudoVoigt":
        sigma = aa(values["fwhm_gauss"]) * FWHM_TO_SIGMA
        return voigt_profile(x, sigma, aa(values["fwhm_lorentz"]) / 2)
    if profile == "Cauchy":
        return stats.cauchy.pdf(x, scale=aa(values["fwhm_lorentz"]) / 2)
    if profile == "GaussianSplitLaplace":
        lam_b = 2 * np.log(2) / aa(values["fwhm_l_blue"])
        lam_r = 2 * np.log(2) / aa(values["fwhm_l_red"])
        asym = np.where(x >= 0, np.exp(-lam_r * np.abs(x)), np.exp(-lam_b * np.abs(x)))
        asym *= lam_b * lam_r / (lam_b + lam_r)
        return convolve(gauss(values["fwhm_gauss"]), asym)
    raise ValueError(profile)


def simulate_profiles(edges, R, lines, cont, noise, rng):
    """Pixel-averaged flux density [1e-17 erg/s/cm2/A] of lines of any profile on a linear
    continuum: each intrinsic profile on a 0.005 A grid, convolved numerically with the
    Gaussian LSF of its centre, integrated over each pixel. ``lines``: (profile, centre [A],
    flux [1e-17 erg/s/cm2], slot values)."""
    from scipy.signal import fftconvolve
    from scipy.special import erfc

    dx = 0.005
    grid = np.arange(edges[0] - 40.0, edges[-1] + 40.0, dx)
    density = np.zeros_like(grid)
    on_pixels = np.zeros(edges.size - 1)
    for profile, centre, total, values in lines:
        lsf = centre / R
        if profile == "SplitNormal":
            # defined with the LSF: each side a Gaussian of FWHM sqrt(L^2 + W^2), weighted so
            # the density is continuous at the centre; integrated over the pixels directly
            k = 2 * np.sqrt(np.log(2))
            blue = np.hypot(lsf, centre * values["fwhm_blue"] / C_KMS)
            red = np.hypot(lsf, centre * values["fwhm_red"] / C_KMS)
            x = edges - centre
            w_b = blue / (blue + red)
            cdf = np.where(x <= 0, w_b * erfc(-k * x / blue), 1 - (1 - w_b) * erfc(k * x / red))
            on_pixels += total * np.diff(cdf) / np.diff(edges)
            continue
        offsets = np.arange(-40.0, 40.0 + dx / 2, dx)
        kernel = np.exp(-0.5 * (offsets / (lsf * FWHM_TO_SIGMA)) ** 2)
        if profile in ("Cauchy", "PseudoVoigt"):  # heavy tails: on the whole grid
            intrinsic = _intrinsic_density(profile, grid - centre, values, centre)
        else:  # on a grid symmetric about the centre (so convolutions stay centred), placed
            around = np.arange(-100.0, 100.0 + dx / 2, dx)
            near = _intrinsic_density(profile, around, values, centre)
            intrinsic = np.interp(grid - centre, around, near, left=0.0, right=0.0)
        density += total * fftconvolve(intrinsic, kernel / kernel.sum(), mode="same")
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * dx)])
    flux = np.diff(np.interp(edges, grid, cumulative)) / np.diff(edges) + on_pixels
    level, slope, pivot = cont
    flux += level + slope * (0.5 * (edges[1:] + edges[:-1]) - pivot)
    return flux + rng.normal(0.0, noise, flux.size)


def every_profile(api, seed=8):
    """One line of each profile (10 lines, 38 A apart, flux 1e-15 each) on a linear
    continuum in one R = 3000 spectrum of 880 pixels, simulated by numerical convolution of
    the intrinsic profiles (scipy) with the LSF; each line has its own redshift, widths and
    shape parameters with unite's default priors."""
    centres = 6420.0 + 38.0 * np.arange(len(EVERY_PROFILE))
    edges = np.linspace(6380.0, 6820.0, 881)
    return _one_line_each(
        api, "every_profile", "one line of each profile", EVERY_PROFILE, centres, edges,
        (8.0, 0.004, 6600.0), (6385.0, 6815.0), seed,
    )  # fmt: skip


def _one_line_each(api, name, description, chosen, centres, edges, cont, region, seed):
    """A Case of one line per (profile, slot values) of ``chosen`` at ``centres`` [A] (flux
    1e-15, redshift U(-0.001, 0.001), unite's default priors otherwise) on a linear continuum
    ``cont`` in the region ``region`` [A], simulated on ``edges`` at R = 3000 with noise
    0.5e-17 by numerical convolution (:func:`simulate_profiles`)."""
    rng = np.random.default_rng(seed)
    lines = [
        (profile, c, 100.0, values) for (profile, values), c in zip(chosen, centres, strict=True)
    ]
    flux = simulate_profiles(edges, 3000.0, lines, cont, 0.5, rng)
    mid = 0.5 * (edges[1:] + edges[:-1])
    disperser = api.SimpleDisperser(wavelength=mid * u.AA, R=3000.0, name="grating")
    spec = api.spectrum.from_edges(
        edges[:-1] * u.AA, edges[1:] * u.AA, flux * 1e-17 * FLAM,
        np.full(mid.size, 0.5e-17) * FLAM, disperser, name="grating",
    )  # fmt: skip
    p = api.prior
    lc = api.line.LineConfiguration()
    truth = {}
    for (profile, values), c in zip(chosen, centres, strict=True):
        line_name = f"L{int(c)}"
        lc.add_line(
            line_name, c * u.AA, profile=profile,
            redshift=api.line.Redshift(prior=p.Uniform(-0.001, 0.001)),
            flux=api.line.Flux(prior=p.Uniform(0.0, 5.0)),
        )  # fmt: skip
        truth[f"flux_{line_name}"] = (100e-17, "flux")
        for slot, value in values.items():
            truth[f"{slot}_{line_name}"] = (value, "raw")
    cont_region = api.continuum.ContinuumRegion(region[0] * u.AA, region[1] * u.AA, name="c")
    cc = api.continuum.ContinuumConfiguration([cont_region])
    spectra, flc, fcc = _prepare(api, [spec], lc, cc)
    return Case(name, description, spectra, flc, fcc, truth=truth)


#: the profile families of issue #13's recovery tests (tests/stan/test_scenarios.py)
PROFILE_FAMILIES = {
    "laplace": ("Laplace", "SEMG", "GaussianSplitLaplace"),
    "voigt": ("Cauchy", "PseudoVoigt"),
    "shaped": ("SplitNormal", "GaussHermite", "SkewNormal", "BoxGauss"),
}


def profile_family(api, family: str, seed=8):
    """One line of each profile of a family (``PROFILE_FAMILIES``) with every_profile's truths
    and unite's default priors, 38 A apart, flux 1e-15 each, on a linear continuum at R = 3000
    (0.5 A pixels), simulated by numerical convolution as every_profile."""
    chosen = [(p, v) for p, v in EVERY_PROFILE if p in PROFILE_FAMILIES[family]]
    centres = 6450.0 + 38.0 * np.arange(len(chosen))
    edges = np.arange(6400.0, centres[-1] + 50.0, 0.5)
    return _one_line_each(
        api, f"{family}_family", f"one line of each {family} profile", chosen, centres, edges,
        (8.0, 0.004, 6500.0), (edges[0] + 5, edges[-1] - 5), seed,
    )  # fmt: skip


#: scenarios for benchmarks/threads.py only
EXTRA_SCENARIOS = {"wide_grating": wide_grating, "full_continuum": full_continuum}

SCENARIOS = {
    "broad_narrow": broad_narrow,
    "two_resolutions": two_resolutions,
    "dozen_lines": dozen_lines,
    "low_snr": low_snr,
}
