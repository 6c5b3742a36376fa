"""A real JWST/NIRSpec PRISM spectrum: narrow and broad Hα of a red compact source at z = 3.55.

The spectrum is RUBIES-UDS 154183 from the DAWN JWST Archive (msaexp v4 reduction;
``data/spectra/README.md`` has its provenance), a source with a strong Balmer break and a
bright, broad Hα at 2.99 µm. The file carries no redshift; the one used here, 3.548, is where
its Hα peak lies (vacuum Hα 6564.61 Å, the wavelength scale of NIRSpec).

At the prism's resolution (R ≈ 190 at 3 µm, an LSF of about 1600 km/s FWHM) [NII] cannot be
told apart from Hα, so the model is Hα only, in two components sharing one redshift: a narrow
one (FWHM below 600 km/s, unresolved) and a broad one (1000-8000 km/s), on a linear continuum
over ±20 000 km/s. The resolution is the point-source curve of ``PRISM()``.

Run:  python examples/dja_prism_broad_ha.py   (writes examples/output/dja_prism_broad_ha_fit.png)
"""

from __future__ import annotations

import time
from pathlib import Path

import astropy.units as u
import numpy as np

from unite_stan import continuum, diagnostics, line, model, plot, prior, results, spectrum
from unite_stan.instrument.nirspec import PRISM

HERE = Path(__file__).resolve().parent
DATA = (
    HERE.parent
    / "tests"
    / "data"
    / "spectra"
    / "rubies-uds31-v4_prism-clear_4233_154183.spec.fits.gz"
)
OUTPUT = HERE / "output"

Z_SYS = 3.548
HA = 6564.61 * u.AA
#: Total velocity width of the continuum region around Hα.
REGION_WIDTH = 40_000 * u.km / u.s
FLUX_UNIT = 1e-16 * u.erg / u.s / u.cm**2


def main(num_chains: int = 2, num_samples: int = 1000, num_warmup: int = 500):
    """Fit the two Hα components, save the plot, print and return the summary table."""
    spec = spectrum.from_DJA(DATA, PRISM())

    z = line.Redshift("ha", prior=prior.Uniform(-0.02, 0.02))
    lines = line.LineConfiguration()
    lines.add_line(
        "Ha_narrow",
        HA,
        redshift=z,
        fwhm_gauss=line.FWHM("narrow", prior=prior.Uniform(50.0, 600.0)),
        flux=line.Flux(prior=prior.Uniform(0.0, 10.0)),
    )
    lines.add_line(
        "Ha_broad",
        HA,
        redshift=z,
        fwhm_gauss=line.FWHM("broad", prior=prior.Uniform(1000.0, 8000.0)),
        flux=line.Flux(prior=prior.Uniform(0.0, 10.0)),
    )
    cont = continuum.ContinuumConfiguration.from_lines(
        [HA.value] * HA.unit, width=REGION_WIDTH, form=continuum.Linear()
    )
    spectra = spectrum.Spectra([spec], redshift=Z_SYS)
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
    z_draws = Z_SYS + np.asarray(samples["z_ha"])
    table = results.make_parameter_table(samples, args, percentiles=[0.16, 0.5, 0.84])
    print(f"\nz = {np.median(z_draws):.5f} ± {np.std(z_draws, ddof=1):.5f}")
    fluxes = {}
    for part in ("narrow", "broad"):
        lo, mid, hi = table[f"flux_Ha_{part}"].to_value(FLUX_UNIT)
        fluxes[part] = mid
        print(f"Hα {part}: {mid:.3f} (+{hi - mid:.3f} -{mid - lo:.3f}) x {FLUX_UNIT}")
    print(f"broad fraction of the Hα flux: {fluxes['broad'] / sum(fluxes.values()):.2f}")
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
    plot.plot_fit(samples, args)[0].savefig(OUTPUT / "dja_prism_broad_ha_fit.png", dpi=90)
    print(f"plot written to {OUTPUT / 'dja_prism_broad_ha_fit.png'}")
    return summary


if __name__ == "__main__":
    main()
