"""Peak memory and time of results and plots on a long spectrum (no compiler needed).

    /usr/bin/time -v python benchmarks/memory.py plot 100000 4000
    python benchmarks/memory.py tables 10000 4000 --trace

Builds the freeze tutorial's Fit 1 model (Hα, [NII], [SII], one Linear region) on a simulated
spectrum of ``n_pix`` pixels, draws ``n_draws`` synthetic posterior samples around the
simulation truth (1 % scatter) and runs one call: ``plot`` (``plot.plot_fit``), ``tables``
(``make_spectra_tables`` with the 16/50/84 % percentiles), ``draws`` (``make_spectra_tables``
of every draw) or ``none`` (the process's own footprint). Prints the call's time and, with
``--trace``, the peak of the memory tracemalloc sees (numpy's arrays included); the peak
resident memory of the whole process is what ``/usr/bin/time -v`` reports as "Maximum resident
set size". docs/performance.md lists what it measured.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import astropy.units as u
import matplotlib
import numpy as np

matplotlib.use("Agg")

from unite_stan import continuum, line, model, plot, prior, results, spectrum  # noqa: E402
from unite_stan.instrument.generic import SimpleDisperser  # noqa: E402

FLAM = u.erg / u.s / u.cm**2 / u.AA
SIGMA_AA = np.sqrt((6563.0 * 200.0 / 299792.458) ** 2 + (6563.0 / 1200.0) ** 2) / 2.3548
# simulated lines: (centre in Å, amplitude in 1e-17 erg/s/cm²/Å)
PEAKS = [(6563.0, 60.0), (6549.0, 15.0), (6585.0, 45.0), (6717.0, 10.0), (6731.0, 15.0)]


def build(n_pix: int):
    """The tutorial's Fit 1 on ``n_pix`` pixels between 6390 and 6890 Å: (args, truth)."""
    rng = np.random.default_rng(42)
    wl = np.linspace(6390.0, 6890.0, n_pix)
    flux = 20.0 + 0.04 * (wl - 6550.0)
    for centre, amplitude in PEAKS:
        flux = flux + amplitude * np.exp(-0.5 * ((wl - centre) / SIGMA_AA) ** 2)
    half = 0.5 * (wl[1] - wl[0])
    spec = spectrum.from_edges(
        (wl - half) * u.AA,
        (wl + half) * u.AA,
        (flux + rng.normal(0, 3.0, n_pix)) * 1e-17 * FLAM,
        np.full(n_pix, 3e-17) * FLAM,
        SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism"),
        name="grism",
    )
    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fwhm = line.FWHM("narrow", prior=prior.Uniform(50, 500))
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA, redshift=z, fwhm_gauss=fwhm, flux=line.Flux())
    for name, centres, strength in (
        ("NII", [6549.0, 6585.0], [1.0, 3.0]),
        ("SII", [6717.0, 6731.0], [1.0, 1.5]),
    ):
        lc.add_lines(
            name, centres * u.AA, redshift=z, fwhm_gauss=fwhm, strength=strength, flux=line.Flux()
        )
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers, form=continuum.Linear())
    spectra = spectrum.Spectra([spec], redshift=0.0)
    lines, cont = spectra.prepare(lc, cc)
    spectra.compute_scales(lines, cont)
    _, args = model.ModelBuilder(lines, cont, spectra).build()
    line_scale, cont_scale = args.line_flux_scales[0], args.continuum_scales[0]
    area = np.sqrt(2 * np.pi) * SIGMA_AA * 1e-17
    truth = {
        "z_narrow": 0.0,
        "fwhm_gauss_narrow": 200.0,
        "flux_Ha": 60.0 * area / line_scale,
        "flux_NII_6549": 15.0 * area / line_scale,
        "flux_SII_6717": 10.0 * area / line_scale,
        "scale_a": 20e-17 / cont_scale,
        "angle_a": np.arctan(0.04e-17 / cont_scale),
    }
    return args, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("call", choices=["plot", "tables", "draws", "none"])
    parser.add_argument("n_pix", type=int)
    parser.add_argument("n_draws", type=int)
    parser.add_argument("--trace", action="store_true", help="report tracemalloc's peak")
    opts = parser.parse_args()

    args, truth = build(opts.n_pix)
    rng = np.random.default_rng(0)
    samples = {}
    for name in args.free_sites:
        spread = 1e-5 if name.startswith("z_") else 0.01 * abs(truth[name])
        samples[name] = truth[name] + spread * rng.standard_normal(opts.n_draws)
    samples["log_prob"] = samples["log_likelihood"] = rng.standard_normal(opts.n_draws)

    calls = {
        "plot": lambda: plot.plot_fit(samples, args),
        "tables": lambda: results.make_spectra_tables(samples, args, percentiles=[0.16, 0.5, 0.84]),
        "draws": lambda: results.make_spectra_tables(samples, args),
        "none": lambda: None,
    }
    if opts.trace:
        tracemalloc.start()
    start = time.perf_counter()
    calls[opts.call]()
    seconds = time.perf_counter() - start
    peak = f", traced peak {tracemalloc.get_traced_memory()[1] / 1e6:.0f} MB" if opts.trace else ""
    print(f"{opts.call}: {opts.n_pix} pixels, {opts.n_draws} draws: {seconds:.2f} s{peak}")


if __name__ == "__main__":
    main()
