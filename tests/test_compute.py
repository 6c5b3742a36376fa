"""The numpy forward model's windowed profile evaluation against the full evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from unite_stan.compute import _profile_cdf
from unite_stan.line.library import Gaussian


@pytest.mark.parametrize(
    "centres, edges",
    [
        ([6563.0, 6563.4, 6562.7], np.linspace(6400.0, 6700.0, 301)),  # line inside, 3 draws
        ([6100.0, 6100.2], np.linspace(6400.0, 6700.0, 301)),  # left of the spectrum
        ([6900.0], np.linspace(6400.0, 6700.0, 301)),  # right of it
        ([6500.5], np.linspace(6400.0, 6700.0, 4)),  # within one 100 A interval
    ],
)
def test_windowed_cdf_equals_the_full_cdf(centres, edges):
    profile = Gaussian()
    centre = np.array(centres)[:, None]
    e = np.tile(edges, (centre.shape[0], 1)) + np.linspace(0.0, 0.3, centre.shape[0])[:, None]
    widths = {"fwhm_gauss": np.array([4.0, 5.0, 3.0])[: centre.shape[0], None]}
    lsf = e / 1500.0
    full = profile.cdf(e - centre, widths, lsf)
    windowed = _profile_cdf(profile, e, centre, widths, lsf)
    np.testing.assert_allclose(windowed, full, rtol=0, atol=1e-15)
    assert set(np.unique(windowed[full == 0.0])) <= {0.0}


def test_windowed_cdf_with_shared_edges_and_an_lsf_per_draw():
    """A sampled r_scale with a fixed pixel offset: one row of edges for every draw, one LSF
    row per draw (make_spectra_tables failed on it with a broadcast error)."""
    profile = Gaussian()
    centre = np.array([[6563.0], [6563.4], [6562.7]])
    e = np.linspace(6400.0, 6700.0, 301)[None, :]
    widths = {"fwhm_gauss": np.array([[4.0], [5.0], [3.0]])}
    lsf = e / 1500.0 * np.array([[0.8], [1.0], [1.2]])
    full = profile.cdf(e - centre, widths, lsf)
    assert full.shape == (3, 301)
    windowed = _profile_cdf(profile, e, centre, widths, lsf)
    np.testing.assert_allclose(windowed, full, rtol=0, atol=1e-15)


def test_tables_show_the_model_inside_the_likelihood():
    """evaluate_model's total (what make_spectra_tables shows) is the model the Stan program's
    likelihood uses, for continua that are not linear in the wavelength too: a PowerLaw, a
    Polynomial(2) and a Chebyshev convolved with the region's LSF, a B-spline (midpoint rule,
    knots among the region's constants), with a sampled r_scale and flux_scale. The
    log likelihood computed from the table's total equals Stan's at the same point."""
    import astropy.units as u
    from conftest import (
        FLUX_UNIT,
        stan_log_likelihood,
        table_log_likelihood,
        tutorial_spectrum,
    )

    from unite_stan import line, model, spectrum
    from unite_stan.continuum import (
        BSpline,
        Chebyshev,
        ContinuumConfiguration,
        ContinuumRegion,
        Polynomial,
        PowerLaw,
    )
    from unite_stan.instrument import FluxScale, RScale
    from unite_stan.instrument.generic import SimpleDisperser
    from unite_stan.prior import Uniform

    lines = line.LineConfiguration()
    lines.add_line("Ha", 6564.6 * u.AA)
    lines.add_line("SII", 6718.3 * u.AA)
    regions = [
        ContinuumRegion(6210 * u.AA, 6330 * u.AA, Chebyshev(2, stretch=0.8), name="cheb"),
        ContinuumRegion(6330 * u.AA, 6450 * u.AA, BSpline([6390.0] * u.AA, degree=2), name="bs"),
        ContinuumRegion(6450 * u.AA, 6650 * u.AA, PowerLaw(), name="pl"),
        ContinuumRegion(6650 * u.AA, 6790 * u.AA, Polynomial(2), name="poly"),
    ]
    data = tutorial_spectrum()
    wl = np.asarray(data.wavelength)
    disperser = SimpleDisperser(
        wavelength=wl * u.AA,
        R=1200.0,
        name="grism",
        r_scale=RScale(prior=Uniform(0.8, 1.2)),
        flux_scale=FluxScale(prior=Uniform(0.5, 1.5)),
    )
    half = 0.5 * (wl[1] - wl[0])
    spec = spectrum.from_edges(
        (wl - half) * u.AA,
        (wl + half) * u.AA,
        np.asarray(data.flux) * FLUX_UNIT,
        np.asarray(data.error) * FLUX_UNIT,
        disperser,
        name="grism",
    )
    spectra = spectrum.Spectra([spec], redshift=0.0)
    continuum = ContinuumConfiguration(regions)
    spectra.prepare(lines, continuum, drop_empty_regions=False)  # regions without lines too
    spectra.compute_scales(lines, continuum)
    program, args = model.ModelBuilder(lines, continuum, spectra).build()
    point = {
        "z_Ha": 0.0004, "fwhm_gauss_Ha": 250.0, "flux_Ha": 1.2, "z_SII": -0.0002,
        "fwhm_gauss_SII": 180.0, "flux_SII": 0.4, "scale_pl": 1.1, "beta_pl": -2.3,
        "scale_poly": 0.9, "c1_poly": 0.02, "c2_poly": -3e-4,
        "scale_cheb": 1.05, "c1_cheb": 0.3, "c2_cheb": -0.2, "scale_bs": 0.95,
        "coeff_1_bs": 1.2, "coeff_2_bs": 0.8, "coeff_3_bs": 1.1,
        "r_scale_grism": 0.9, "flux_scale_grism": 1.1,
    }  # fmt: skip
    assert set(point) == set(args.free_sites)
    table, _ = table_log_likelihood(program, args, point)
    assert table == pytest.approx(stan_log_likelihood(program, args, point), abs=1e-8)
    # several draws, each with its r_scale, on edges every draw shares (pixel offset fixed)
    from unite_stan.compute import evaluate_model

    draws = {name: np.full(3, value) for name, value in point.items()}
    draws["r_scale_grism"] = np.array([0.85, 0.9, 1.15])
    (three,) = evaluate_model(draws, args)
    for i in range(3):
        (one,) = evaluate_model({name: v[i : i + 1] for name, v in draws.items()}, args)
        np.testing.assert_allclose(three.total[i], one.total[0], rtol=1e-13, atol=0)
