"""A real DESI galaxy at z = 1.29: the [OII] doublet's redshift against DESI's Redrock redshift.

The spectrum is a DESI SV3 coadd (TARGETID 39627908959964170; ``data/spectra/README.md`` has
its provenance), read with ``from_desi_fits`` as three spectra, one per spectrograph arm (B, R,
Z), each with its own resolution from the file's resolution matrix. All three go into one
``Spectra``; at z = 1.29 the doublet (3727.09, 3729.88 Å in vacuum, DESI's wavelength scale)
falls at 8536-8543 Å, in the Z arm only, so the model keeps the Z arm and drops the B and R
arms with a warning saying so (no pixel of theirs lies in the continuum region).

The redshift is free in ±0.005 around Redrock's ``Z`` (HDU ``REDSHIFTS``); the two lines have
their own fluxes (the doublet ratio measures density) and share one FWHM. We print our redshift
with its uncertainty next to Redrock's ``Z ± ZERR`` and their difference in units of the
combined error.

Run:  python examples/desi_oii.py   (writes examples/output/desi_oii_fit.png)
"""

from __future__ import annotations

import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from unite_stan import continuum, diagnostics, line, model, plot, prior, results, spectrum

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data" / "spectra" / "desi-spectra-af558177.fits.gz"
OUTPUT = HERE / "output"

#: [OII] rest wavelengths in vacuum (Å), as in SDSS's and DESI's line lists.
OII = [3727.092, 3729.875] * u.AA
#: Total velocity width of the continuum region around the doublet.
REGION_WIDTH = 6000 * u.km / u.s


def read_redrock(path: Path) -> tuple[float, float]:
    """Redrock's redshift and its error from the ``REDSHIFTS`` HDU."""
    with fits.open(path) as hdul:
        row = hdul["REDSHIFTS"].data[0]
        return float(row["Z"]), float(row["ZERR"])


def main(num_chains: int = 2, num_samples: int = 1000, num_warmup: int = 500) -> dict:
    """Fit the doublet, save the plot, print and return our redshift and Redrock's."""
    z_rr, zerr_rr = read_redrock(DATA)
    arms = spectrum.from_desi_fits(DATA, name="desi")

    z = line.Redshift("oii", prior=prior.Uniform(-0.005, 0.005))
    fwhm = line.FWHM("oii", prior=prior.Uniform(20.0, 600.0))
    lines = line.LineConfiguration()
    for name, center in zip(("OII_3727", "OII_3730"), OII, strict=True):
        lines.add_line(
            name,
            center,
            redshift=z,
            fwhm_gauss=fwhm,
            flux=line.Flux(prior=prior.Uniform(0.0, 10.0)),
        )
    cont = continuum.ContinuumConfiguration.from_lines(
        lines.centers, width=REGION_WIDTH, form=continuum.Linear()
    )
    spectra = spectrum.Spectra(arms, redshift=z_rr)
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
    z_draws = z_rr + np.asarray(samples["z_oii"])
    z_ours, z_err = float(np.median(z_draws)), float(np.std(z_draws, ddof=1))
    n_sigma = (z_ours - z_rr) / np.hypot(z_err, zerr_rr)
    print(f"\nours:    z = {z_ours:.6f} ± {z_err:.6f}")
    print(f"Redrock: z = {z_rr:.6f} ± {zerr_rr:.6f}")
    print(f"difference: {z_ours - z_rr:+.6f} = {n_sigma:+.2f} σ (errors combined in quadrature)")
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
    for figure in plot.plot_fit(samples, args):
        arm = figure.axes[0].get_title()
        figure.savefig(OUTPUT / f"desi_oii_fit_{arm}.png", dpi=90)
        print(f"plot written to {OUTPUT / f'desi_oii_fit_{arm}.png'}")
    return {"z": z_ours, "z_err": z_err, "z_redrock": z_rr, "zerr_redrock": zerr_rr}


if __name__ == "__main__":
    main()
