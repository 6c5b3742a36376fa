"""Shared fixtures: the freeze tutorial's spectrum and configurations (no compiler needed)."""

from __future__ import annotations

import os

import astropy.units as u
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
# Fits run on the embedded backend unless UNITE_STAN_BACKEND names another: 'auto' picks
# CmdStan wherever one is installed (CI builds one), and the CmdStan tests ask for it by name.
os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")

C_KMS = 299792.458
FLUX_UNIT = u.erg / u.s / u.cm**2 / u.AA


def tutorial_truth() -> dict:
    """Truth of the tutorial's simulation (amplitudes and continuum in 1e-17 f_lambda units)."""
    fwhm_aa = np.sqrt((6563.0 * 200.0 / C_KMS) ** 2 + (6563.0 / 1200.0) ** 2)
    return {
        "z": 0.0,
        "fwhm_kms": 200.0,
        "sigma_aa": fwhm_aa / (2 * np.sqrt(2 * np.log(2))),
        "amplitudes": {
            "Ha": 60.0,
            "NII_6549": 15.0,
            "NII_6585": 45.0,
            "SII_6717": 10.0,
            "SII_6731": 15.0,
        },
        "centres": {
            "Ha": 6563.0,
            "NII_6549": 6549.0,
            "NII_6585": 6585.0,
            "SII_6717": 6717.0,
            "SII_6731": 6731.0,
        },
        "cont_level": 20.0,
        "cont_slope": 0.04,
        "cont_pivot": 6550.0,
    }


def tutorial_spectrum(error_factor: float = 1.0):
    """The tutorial's 600-pixel synthetic spectrum (seed 42), as a fresh Spectrum; its
    errors (not its noise) times ``error_factor``."""
    from unite_stan import spectrum
    from unite_stan.instrument.generic import SimpleDisperser

    rng = np.random.default_rng(42)
    wl = np.linspace(6200.0, 6800.0, 600)
    dlam = 600.0 / 599.0
    disperser = SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism")
    t = tutorial_truth()
    lines = sum(
        a * np.exp(-0.5 * ((wl - t["centres"][k]) / t["sigma_aa"]) ** 2)
        for k, a in t["amplitudes"].items()
    )
    cont = t["cont_level"] + t["cont_slope"] * (wl - t["cont_pivot"])
    flux = (lines + cont + rng.normal(0, 3.0, 600)) * 1e-17
    error = np.full(600, 3.0e-17 * error_factor)
    half = 0.5 * dlam
    return spectrum.from_edges(
        (wl - half) * u.AA,
        (wl + half) * u.AA,
        flux * FLUX_UNIT,
        error * FLUX_UNIT,
        disperser,
        name="grism",
    )


def tutorial_lines():
    """Fit 1's line configuration: Ha, [NII] and [SII] sharing one redshift and one FWHM."""
    from unite_stan import line, prior

    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fw = line.FWHM("narrow", prior=prior.Uniform(50, 500))
    lc = line.LineConfiguration()
    lc.add_line(
        "Ha",
        6563.0 * u.AA,
        profile="Gaussian",
        redshift=z,
        fwhm_gauss=fw,
        flux=line.Flux(prior=prior.Uniform(0, 3)),
    )
    for name, centres, strength in (
        ("NII", [6549.0, 6585.0], [1.0, 3.0]),
        ("SII", [6717.0, 6731.0], [1.0, 1.5]),
    ):
        lc.add_lines(
            name,
            np.array(centres) * u.AA,
            profile="Gaussian",
            redshift=z,
            fwhm_gauss=fw,
            strength=strength,
            flux=line.Flux(prior=prior.Uniform(0, 3)),
        )
    return lc


def tutorial_fit1(spec=None):
    """Fit 1 of the tutorial: (spectra, filtered_lc, filtered_cc), scales computed."""
    from unite_stan import continuum, spectrum

    lc = tutorial_lines()
    cc = continuum.ContinuumConfiguration.from_lines(
        lc.centers, width=15_000 * u.km / u.s, form=continuum.Linear()
    )
    spectra = spectrum.Spectra([spec if spec is not None else tutorial_spectrum()], redshift=0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(
        flc, fcc, line_mask_width=3_000 * u.km / u.s, box_width=2_000 * u.km / u.s
    )
    return spectra, flc, fcc


def tutorial_fit2(spectra, frozen):
    """Fit 2 of the tutorial: Ha + NII with kinematics and continuum frozen."""
    from unite_stan import continuum, line, prior

    lc2 = line.LineConfiguration()
    z2 = line.Redshift("narrow", prior=frozen["z_narrow"])
    fw2 = line.FWHM("narrow", prior=frozen["fwhm_gauss_narrow"])
    lc2.add_line(
        "Ha",
        6563.0 * u.AA,
        profile="Gaussian",
        redshift=z2,
        fwhm_gauss=fw2,
        flux=line.Flux(prior=prior.Uniform(0, 3)),
    )
    lc2.add_lines(
        "NII",
        np.array([6549.0, 6585.0]) * u.AA,
        profile="Gaussian",
        redshift=z2,
        fwhm_gauss=fw2,
        strength=[1.0, 3.0],
        flux=line.Flux(prior=prior.Uniform(0, 3)),
    )
    naive = continuum.ContinuumConfiguration.from_lines(
        lc2.centers, width=15_000 * u.km / u.s, form=continuum.Linear()
    )
    region = continuum.ContinuumRegion(
        naive[0].low * naive[0].unit,
        naive[0].high * naive[0].unit,
        form=continuum.Linear(),
        params={
            "scale": continuum.Scale(prior=frozen["scale_a"]),
            "angle": continuum.ContShape(prior=frozen["angle_a"]),
            "norm_wav": continuum.NormWavelength(prior=frozen["norm_wav_a"]),
        },
    )
    cc2 = continuum.ContinuumConfiguration([region])
    return spectra.prepare(lc2, cc2)


def truth_frozen():
    """A frozen dict like freeze_from_samples' output, at the simulation truth."""
    from unite_stan.prior import Fixed

    return {
        "z_narrow": Fixed(0.0),
        "fwhm_gauss_narrow": Fixed(200.0),
        "scale_a": Fixed(1.24),
        "angle_a": Fixed(0.002),
        "norm_wav_a": Fixed(6642.28),
        "flux_scale_grism": Fixed(1.0),
        "pix_offset_grism": Fixed(0.0),
        "r_scale_grism": Fixed(1.0),
    }


@pytest.fixture
def fit1_config():
    return tutorial_fit1()


def absorption_configuration():
    """Lines and continuum of tests/stan/test_absorption.py: two absorbers (Gaussian with a
    covering fraction, Laplace), an attenuated emission line, one of fixed shape (NII) and one
    of zorder 2, on a Linear continuum 6505-6755 A."""
    from unite_stan import continuum, line
    from unite_stan.prior import Fixed, Uniform

    lines = line.LineConfiguration()
    lines.add_line("Ha", 6564.6 * u.AA, flux=line.Flux(prior=Uniform(0, 20)))
    lines.add_line(
        "NII",
        6585.3 * u.AA,
        redshift=line.Redshift(prior=Fixed(2e-4)),
        fwhm_gauss=line.FWHM(prior=Fixed(250.0)),
        flux=line.Flux(prior=Uniform(0, 20)),
    )
    lines.add_line("HeI", 6680.0 * u.AA, flux=line.Flux(prior=Uniform(0, 20)), zorder=2)
    lines.add_line(
        "abs",
        6610.0 * u.AA,
        tau=line.Tau(),
        covering_fraction=line.CoveringFraction(),
        fwhm_gauss=line.FWHM(prior=Uniform(50, 1000)),
    )
    lines.add_line(
        "lap",
        6690.0 * u.AA,
        profile="exponential",
        redshift=line.Redshift(prior=Uniform(-0.001, 0.001)),
        tau=line.Tau(),
        fwhm_exp=line.FWHM(prior=Uniform(50, 1000)),
    )
    cont = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6505 * u.AA, 6755 * u.AA, continuum.Linear(), name="c")]
    )
    return lines, cont


def stan_log_likelihood(program, args, point: dict) -> float:
    """The Stan program's log likelihood (spectrum 1) at ``point`` (site -> value), embedded
    backend."""
    from unite_stan.stan.backends import get_backend
    from unite_stan.stan.run import unconstrain

    backend = get_backend("embedded")
    density = backend.log_density(backend.compile(program.code, progress=False), program.data)
    return density.write_array(unconstrain(args, point))["log_lik_spec.1"]


def table_log_likelihood(program, args, point: dict):
    """The log likelihood of spectrum 0 recomputed from evaluate_model's total (what the tables
    show) at ``point``, in the program's normalised units; and the prediction."""
    from unite_stan.compute import evaluate_model

    (prediction,) = evaluate_model({k: np.array([v]) for k, v in point.items()}, args)
    norm = program.data["flux_norm"] / prediction.observed_flux
    assert np.ptp(norm) < 1e-12 * norm.max()  # one normalisation factor per spectrum
    error = program.data["error_norm"]
    z = (program.data["flux_norm"] - norm[0] * prediction.total[0]) / error
    table = -0.5 * z @ z - np.log(error).sum() - 0.5 * z.size * np.log(2 * np.pi)
    return table, prediction


def grating_spectra(edges, flux, noise, resolution, line_scale, continuum_scale, **calibration):
    """One spectrum (name 'g') on ``edges`` [A] at constant resolution, its flux and noise in
    units of ``continuum_scale`` (f_lambda), in a Spectra at z = 0 with both scales set;
    ``calibration``: the disperser's r_scale / flux_scale / pix_offset tokens."""
    from unite_stan import spectrum
    from unite_stan.instrument.generic import SimpleDisperser

    edges = np.asarray(edges, dtype=float)
    mid = 0.5 * (edges[1:] + edges[:-1])
    disperser = SimpleDisperser(wavelength=mid * u.AA, R=resolution, name="g", **calibration)
    spec = spectrum.from_edges(
        edges[:-1] * u.AA, edges[1:] * u.AA, np.asarray(flux) * continuum_scale,
        np.full(mid.size, noise) * continuum_scale, disperser, name="g",
    )  # fmt: skip
    spectra = spectrum.Spectra([spec], redshift=0.0)
    spectra.line_scale = line_scale
    spectra.continuum_scale = continuum_scale
    return spectra
