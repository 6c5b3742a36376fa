"""Simulated spectra of the tutorial's structure (Ha, [NII], [SII] on a linear continuum) with
known truths, for the batch tests; also run as a script by the SIGKILL test."""

from __future__ import annotations

import sys

import astropy.units as u
import numpy as np

C_KMS = 299792.458
FLUX_UNIT = u.erg / u.s / u.cm**2 / u.AA
CENTRES = {
    "Ha": 6563.0,
    "NII_6549": 6549.0,
    "NII_6585": 6585.0,
    "SII_6717": 6717.0,
    "SII_6731": 6731.0,
}
RATIOS = {"Ha": 1.0, "NII_6549": 0.25, "NII_6585": 0.75, "SII_6717": 1 / 6, "SII_6731": 0.25}
SCALES = {"line_mask_width": 3_000 * u.km / u.s, "box_width": 2_000 * u.km / u.s}


def truth(i: int) -> dict:
    """Object i's truth: Ha amplitude 40-80 (1e-17), FWHM 150-300 km/s, z within +-3e-4."""
    rng = np.random.default_rng(1000 + i)
    return {
        "amplitude": float(rng.uniform(40, 80)),
        "fwhm_kms": float(rng.uniform(150, 300)),
        "z": float(rng.uniform(-3e-4, 3e-4)),
    }


def sigma_aa(centre: float, fwhm_kms: float) -> float:
    fwhm = np.hypot(centre * fwhm_kms / C_KMS, centre / 1200.0)
    return fwhm / (2 * np.sqrt(2 * np.log(2)))


def true_fluxes(i: int) -> dict:
    """Integrated fluxes [erg/s/cm2] of the sampled flux sites."""
    t = truth(i)
    out = {}
    for site, line in (
        ("flux_Ha", "Ha"),
        ("flux_NII_6549", "NII_6549"),
        ("flux_SII_6717", "SII_6717"),
    ):
        centre = CENTRES[line] * (1 + t["z"])
        out[site] = (
            t["amplitude"]
            * RATIOS[line]
            * np.sqrt(2 * np.pi)
            * sigma_aa(centre, t["fwhm_kms"])
            * 1e-17
        )
    return out


def spectrum(i: int):
    """Object i's 600-pixel spectrum (noise seed i), disperser 'grism' at R = 1200."""
    from unite_stan import spectrum as sp
    from unite_stan.instrument.generic import SimpleDisperser

    t = truth(i)
    rng = np.random.default_rng(i)
    wl = np.linspace(6200.0, 6800.0, 600)
    half = 0.5 * 600.0 / 599.0
    flux = 20.0 + 0.04 * (wl - 6550.0)
    for line, centre in CENTRES.items():
        c = centre * (1 + t["z"])
        flux = flux + t["amplitude"] * RATIOS[line] * np.exp(
            -0.5 * ((wl - c) / sigma_aa(c, t["fwhm_kms"])) ** 2
        )
    flux = (flux + rng.normal(0, 3.0, wl.size)) * 1e-17
    disperser = SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism")
    return sp.from_edges(
        (wl - half) * u.AA, (wl + half) * u.AA, flux * FLUX_UNIT,
        np.full(wl.size, 3.0e-17) * FLUX_UNIT, disperser, name="grism",
    )  # fmt: skip


def configuration():
    """The tutorial's fit-1 configuration (lines and continuum), as a Configuration."""
    import os

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from conftest import tutorial_fit1

    from unite_stan.config import Configuration

    _, lines, continuum = tutorial_fit1()
    return Configuration(lines, continuum)


def write_table(
    spec,
    path,
    resolution=1200.0,
    *,
    nan_flux: bool = False,
    error_factor: float = 1.0,
    overwrite: bool = False,
    redshift: float | None = None,
) -> None:
    """``spec`` as the batch's ``table`` loader reads it (``nan_flux``: every flux NaN;
    ``error_factor`` multiplies the errors; ``redshift``: written as HDU 1's REDSHIFT)."""
    from astropy.io import fits
    from astropy.table import Table

    table = Table(
        {
            "low": np.asarray(spec.low) * spec.unit,
            "high": np.asarray(spec.high) * spec.unit,
            "flux": np.asarray(spec.flux) * (np.nan if nan_flux else 1.0) * spec.flux_unit,
            "error": np.asarray(spec.error) * error_factor * spec.flux_unit,
        }
    )
    hdu = fits.table_to_hdu(table)
    hdu.header["R"] = resolution
    hdu.header["SPECNAME"] = spec.name
    if redshift is not None:
        hdu.header["REDSHIFT"] = redshift
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=overwrite)


if __name__ == "__main__":  # the SIGKILL test's batch: python _simulate.py OUTPUT_DIR N
    from unite_stan.batch import fit_many

    out, n = sys.argv[1], int(sys.argv[2])
    fit_many(
        configuration(), [(f"sim{i:02d}", spectrum(i), 0.0) for i in range(n)],
        output_dir=out, seed=7, num_warmup=300, num_samples=300, scale_kwargs=SCALES,
        progress=False,
    )  # fmt: skip
