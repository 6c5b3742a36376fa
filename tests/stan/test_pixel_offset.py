"""A sampled pixel offset on a real, non-uniform grid (the NIRSpec PRISM, whose resolving power
changes fast): the resolution at the moved edges, the program's log likelihood against the
exact forward model, and recovery of the offset."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from conftest import stan_log_likelihood, table_log_likelihood

from unite_stan import continuum, line, model, spectrum
from unite_stan.compute import evaluate_model
from unite_stan.instrument import PixOffset
from unite_stan.instrument.nirspec import PRISM
from unite_stan.prior import Fixed, Uniform
from unite_stan.stan.data import resolution_slopes

Z_SYS = 0.75  # H-alpha at 1.149 µm, where the PRISM's R is near its minimum and most curved
FLAM_UM = u.Unit(1e-19 * u.erg / u.s / u.cm**2 / u.um)
TRUTH = {"flux_Ha": 1.0, "scale_a": 1.0, "angle_a": 0.0, "pix_offset_PRISM": 0.7}
NOISE = 0.02


def prism_edges(low: float, high: float) -> np.ndarray:
    """Pixel edges of the PRISM from ``low`` to ``high`` µm, each pixel one dλ/dpix wide."""
    d = PRISM()
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + float(d.dlam_dpix(edges[-1])))
    return np.array(edges)


@pytest.mark.parametrize("r_source", ["point", "uniform"])
def test_second_order_resolution_at_moved_edges(r_source):
    d = PRISM(r_source)
    edges = prism_edges(0.6, 5.3)
    dl = d.dlam_dpix(edges)
    slope, curvature = resolution_slopes(d, edges, dl)
    tangent = (d.R(edges * (1 + 1e-6)) - d.R(edges * (1 - 1e-6))) / (2e-6 * edges)
    for p in (-1.5, -0.7, 0.3, 0.7, 1.5):
        s = p * dl
        exact = d.R(edges - s)
        second = d.R(edges) - s * slope + 0.5 * s**2 * curvature
        assert np.max(np.abs(second / exact - 1)) < 1e-4, p
        if abs(p) == 1.5:  # why the curvature term: the tangent alone is off by > 1e-3
            assert np.max(np.abs((d.R(edges) - s * tangent) / exact - 1)) > 1e-3


def configuration():
    lc = line.LineConfiguration()
    lc.add_line(
        "Ha",
        6564.6 * u.AA,
        redshift=line.Redshift(prior=Fixed(0.0)),
        fwhm_gauss=line.FWHM(prior=Fixed(300.0)),
        flux=line.Flux(prior=Uniform(0, 3)),
    )
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers, width=120_000 * u.km / u.s)
    return lc, cc


def prism_spectra(flux, edges):
    disperser = PRISM(pix_offset=PixOffset(prior=Uniform(-1.5, 1.5)))
    n = edges.size - 1
    spec = spectrum.from_edges(
        edges[:-1] * u.um,
        edges[1:] * u.um,
        np.asarray(flux) * FLAM_UM,
        np.full(n, NOISE) * FLAM_UM,
        disperser,
        name="prism",
    )
    spectra = spectrum.Spectra([spec], redshift=Z_SYS)
    spectra.line_scale = 4e-21 * u.erg / u.s / u.cm**2  # a peak twice the continuum
    spectra.continuum_scale = 1.0 * FLAM_UM
    return spectra


def simulate(edges, rng):
    lc, cc = configuration()
    _, args = model.ModelBuilder(lc, cc, prism_spectra(np.ones(edges.size - 1), edges)).build()
    (prediction,) = evaluate_model({k: np.array([v]) for k, v in TRUTH.items()}, args)
    assert prediction.total.shape[1] == edges.size - 1  # nothing trimmed
    return prediction.total[0] + rng.normal(0, NOISE, edges.size - 1)


@pytest.mark.stan
def test_prism_pixel_offset_likelihood_and_recovery():
    edges = prism_edges(0.98, 1.36)
    flux = simulate(edges, np.random.default_rng(3))
    lc, cc = configuration()
    builder = model.ModelBuilder(lc, cc, prism_spectra(flux, edges))
    program, args = builder.build()
    assert set(args.free_sites) == set(TRUTH)

    # at the true offset (0.7 pixels) the program's likelihood equals the exact forward
    # model's (R evaluated at the moved edges) to 6e-5; with the tangent alone it is off by
    # 6e-3 (small next to the posterior's width here, but 100 times larger)
    table, _ = table_log_likelihood(program, args, TRUTH)
    assert stan_log_likelihood(program, args, TRUTH) == pytest.approx(table, abs=5e-4)
    curvature = program.data["edge_d2resolution"].copy()
    program.data["edge_d2resolution"][:] = 0.0
    assert abs(stan_log_likelihood(program, args, TRUTH) - table) > 3e-3
    program.data["edge_d2resolution"][:] = curvature

    samples, _ = builder.fit(
        num_warmup=400, num_samples=400, num_chains=2, seed=7, progress_bar=False
    )
    for site, truth in TRUTH.items():
        lo, hi = np.quantile(samples[site], [0.025, 0.975])
        assert lo <= truth <= hi, (site, lo, truth, hi)
    lo, hi = np.quantile(samples["pix_offset_PRISM"], [0.025, 0.975])
    assert hi - lo < 0.5  # the offset is measured, not just allowed by its prior


def test_nirspec_edges_reach_the_program_in_canonical_units():
    """A PRISM spectrum (µm) fitted with an Å spectrum first, so the canonical unit is Å: the
    resolution, dispersion and both R slopes of its edges are the disperser's, converted."""
    from unite_stan.instrument.generic import SimpleDisperser

    edges = prism_edges(0.98, 1.36)
    prism = prism_spectra(np.ones(edges.size - 1), edges)["prism"]
    wl = np.linspace(11_000.0, 12_000.0, 200)
    optical = SimpleDisperser(wavelength=wl * u.AA, R=3000.0, name="opt")
    other = spectrum.from_centers(
        wl * u.AA, np.ones(wl.size) * FLAM_UM, np.full(wl.size, NOISE) * FLAM_UM, optical,
        name="opt",
    )  # fmt: skip
    spectra = spectrum.Spectra([other, prism], redshift=Z_SYS)
    spectra.line_scale = 4e-21 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1.0 * FLAM_UM
    lc, cc = configuration()
    program, args = model.ModelBuilder(lc, cc, spectra).build()
    assert args.canonical_unit == u.AA
    data = program.data
    s = [spec.name for spec in args.spectra].index("prism")
    start, n = data["spec_edge_start"][s] - 1, data["spec_n_edge"][s]
    part = slice(start, start + n)
    native = data["edge"][part] / 1e4
    d = args.spectra[s].disperser
    np.testing.assert_allclose(native, edges[: native.size], rtol=1e-12)
    np.testing.assert_allclose(data["edge_resolution"][part], d.R(native), rtol=1e-12)
    np.testing.assert_allclose(data["edge_dlam_dpix"][part], d.dlam_dpix(native) * 1e4)
    shift = 0.7 * data["edge_dlam_dpix"][part]  # Å, as the program computes it
    moved = (
        data["edge_resolution"][part]
        - shift * data["edge_dresolution"][part]
        + 0.5 * shift**2 * data["edge_d2resolution"][part]
    )
    exact = d.R(native - 0.7 * d.dlam_dpix(native))
    np.testing.assert_allclose(moved, exact, rtol=1e-4)
