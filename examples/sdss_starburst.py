"""A real SDSS starburst: eight emission lines in three regions, compared with SDSS's own fits.

The spectrum is SDSS plate 1678, MJD 53433, fibre 425 (``data/spectra/README.md`` has its
provenance), a star-forming galaxy at z = 0.0403. We fit seven emission features in three
continuum regions around the strong nebular lines, as SDSS's pipeline measures them: the [OII]
doublet (two lines), Hβ with [OIII]4960,5008, and [NII]6550, Hα, [NII]6585; eight lines in all,
each with its own flux, one redshift, and one FWHM for the Balmer lines and one for the
forbidden lines (the grouping of the SDSS pipeline's own line fits).

The fluxes are compared with the ``SPZLINE`` table of the same file (the SDSS pipeline's
Gaussian fits, ``LINEAREA`` in 1e-17 erg/s/cm²). SDSS spectra are on a vacuum wavelength scale and
``LINEWAVE`` is in vacuum, so the rest wavelengths below are SPZLINE's own.

Run:  python examples/sdss_starburst.py   (writes examples/output/sdss_starburst_fit.png)
"""

from __future__ import annotations

import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from unite_stan import continuum, diagnostics, line, model, plot, prior, results, spectrum
from unite_stan.instrument.sdss import SDSSDisperser

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data" / "spectra" / "spec-1678-53433-0425.fits.gz"
OUTPUT = HERE / "output"

# our line name -> SPZLINE's LINENAME, grouped by continuum region
REGIONS = {
    "OII": {"OII_3727": "[O_II] 3725", "OII_3730": "[O_II] 3727"},
    "Hb_OIII": {"Hb": "H_beta", "OIII_4960": "[O_III] 4959", "OIII_5008": "[O_III] 5007"},
    "Ha_NII": {"NII_6550": "[N_II] 6548", "Ha": "H_alpha", "NII_6585": "[N_II] 6583"},
}
BALMER = {"Hb", "Ha"}
#: Total velocity width of each continuum region: wide enough for a continuum on both sides of
#: a blend, narrow enough to leave [SII]6718 and [NeIII]3869 (not modelled) outside.
REGION_WIDTH = 6000 * u.km / u.s
SDSS_FLUX_UNIT = 1e-17 * u.erg / u.s / u.cm**2


def read_sdss_lines(path: Path) -> tuple[float, Table]:
    """The SDSS pipeline's redshift (SPECOBJ ``Z``) and line table (``SPZLINE``)."""
    with fits.open(path) as hdul:
        z_sys = float(hdul["SPECOBJ"].data["Z"][0])
        table = Table(hdul["SPZLINE"].data)
    table["LINENAME"] = [str(name).strip() for name in table["LINENAME"]]
    table.add_index("LINENAME")
    return z_sys, table


def build_lines(spz: Table) -> line.LineConfiguration:
    """Eight lines, each with its own flux, one redshift, one FWHM per group."""
    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fwhm = {
        "balmer": line.FWHM("balmer", prior=prior.Uniform(50.0, 800.0)),
        "forbidden": line.FWHM("forbidden", prior=prior.Uniform(50.0, 800.0)),
    }
    lines = line.LineConfiguration()
    for members in REGIONS.values():
        for name, sdss_name in members.items():
            lines.add_line(
                name,
                float(spz.loc[sdss_name]["LINEWAVE"]) * u.AA,
                redshift=z,
                fwhm_gauss=fwhm["balmer" if name in BALMER else "forbidden"],
                flux=line.Flux(prior=prior.Uniform(0.0, 10.0)),
            )
    return lines


def compare_with_spzline(samples: dict, args, spz: Table) -> Table:
    """Our median fluxes and 68 % half-widths next to SPZLINE's LINEAREA ± LINEAREA_ERR."""
    table = results.make_parameter_table(samples, args, percentiles=[0.16, 0.5, 0.84])
    rows = []
    for members in REGIONS.values():
        for name, sdss_name in members.items():
            lo, mid, hi = table[f"flux_{name}"].to_value(SDSS_FLUX_UNIT)
            entry = spz.loc[sdss_name]
            sdss, sdss_err = float(entry["LINEAREA"]), float(entry["LINEAREA_ERR"])
            rows.append((name, sdss_name, mid, 0.5 * (hi - lo), sdss, sdss_err))
    out = Table(
        rows=rows,
        names=["line", "SPZLINE name", "ours", "ours_err", "SDSS", "SDSS_err"],
    )
    out["diff_pct"] = 100.0 * (out["ours"] / out["SDSS"] - 1.0)
    for column in ("ours", "ours_err", "SDSS", "SDSS_err"):
        out[column].info.format = ".1f"
    out["diff_pct"].info.format = "+.1f"
    return out


def main(num_chains: int = 2, num_samples: int = 1000, num_warmup: int = 500) -> Table:
    """Fit the spectrum, save the plot, print and return the comparison with SPZLINE."""
    z_sys, spz = read_sdss_lines(DATA)
    sdss = SDSSDisperser()
    spec = spectrum.from_sdss_fits(DATA, sdss)

    lines = build_lines(spz)
    cont = continuum.ContinuumConfiguration.from_lines(
        lines.centers, width=REGION_WIDTH, form=continuum.Linear()
    )
    spectra = spectrum.Spectra([spec], redshift=z_sys)
    lines, cont = spectra.prepare(lines, cont)
    spectra.compute_scales(lines, cont)

    start = time.perf_counter()
    samples, args = model.ModelBuilder(lines, cont, spectra).fit(
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        seed=1,
        progress_bar=False,
        backend="embedded",
    )
    wall = time.perf_counter() - start

    summary = results.summary(args)
    summary.pprint_all()
    comparison = compare_with_spzline(samples, args, spz)
    z_fit = z_sys + np.median(samples["z_narrow"])
    z_sdss_lines = float(spz.loc["H_alpha"]["LINEZ"])
    print(
        f"\nz_sys (SPECOBJ Z) = {z_sys:.6f}; our line redshift {z_fit:.6f}, "
        f"SPZLINE's LINEZ {z_sdss_lines:.6f}; fluxes in 1e-17 erg/s/cm2"
    )
    comparison.pprint_all()
    print(f"\nlargest |difference| from SPZLINE: {np.max(np.abs(comparison['diff_pct'])):.1f} %")
    print(
        f"R-hat max {np.nanmax(summary['r_hat']):.4f}, "
        f"bulk ESS min {np.nanmin(summary['ess_bulk']):.0f}, "
        f"tail ESS min {np.nanmin(summary['ess_tail']):.0f}, "
        f"fit wall time {wall:.1f} s (compile included unless cached)"
    )
    problems = diagnostics.check_convergence(args.dataset)
    if problems:
        print("convergence problems:", *problems, sep="\n  ")

    OUTPUT.mkdir(exist_ok=True)
    figure = plot.plot_fit(samples, args)[0]
    figure.savefig(OUTPUT / "sdss_starburst_fit.png", dpi=90)
    print(f"plot written to {OUTPUT / 'sdss_starburst_fit.png'}")
    return comparison


if __name__ == "__main__":
    main()
