"""Small FITS files in the on-disk layouts of the DJA, SDSS and DESI products (HDU names,
column names, formats and units as in the real files under tests/data/spectra/)."""

from __future__ import annotations

import numpy as np
from astropy.io import fits


def write_dja(path, wave, flux, err):
    """An msaexp ``*.spec.fits``: HDU ``SPEC1D`` with float64 columns wave [um], flux and err
    [uJy] (NaN flux marks a masked pixel) and the other columns the archive carries."""
    n = len(wave)
    columns = [
        fits.Column(name="wave", format="D", unit="um", array=np.asarray(wave, float)),
        fits.Column(name="flux", format="D", unit="uJy", array=np.asarray(flux, float)),
        fits.Column(name="err", format="D", unit="uJy", array=np.asarray(err, float)),
        fits.Column(name="sky", format="D", unit="uJy", array=np.zeros(n)),
        fits.Column(name="path_corr", format="D", array=np.ones(n)),
        fits.Column(name="npix", format="D", array=np.full(n, 7.0)),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="SPEC1D")
    sci = fits.ImageHDU(np.zeros((5, n)), name="SCI")
    fits.HDUList([fits.PrimaryHDU(), table, sci]).writeto(path)


def write_sdss(path, loglam, flux, ivar, and_mask, wdisp, *, coadd=True):
    """A ``spec-PLATE-MJD-FIBER.fits``: HDU ``COADD`` with float32 flux, loglam, ivar, wdisp,
    sky, model and int32 and_mask, or_mask, no units (flux in 1e-17 erg/s/cm2/Å), and a
    ``SPECOBJ`` table."""
    n = len(loglam)
    f32 = {"format": "E"}
    columns = [
        fits.Column(name="flux", array=np.asarray(flux, np.float32), **f32),
        fits.Column(name="loglam", array=np.asarray(loglam, np.float32), **f32),
        fits.Column(name="ivar", array=np.asarray(ivar, np.float32), **f32),
        fits.Column(name="and_mask", format="J", array=np.asarray(and_mask, np.int32)),
        fits.Column(name="or_mask", format="J", array=np.asarray(and_mask, np.int32)),
        fits.Column(name="wdisp", array=np.asarray(wdisp, np.float32), **f32),
        fits.Column(name="sky", array=np.zeros(n, np.float32), **f32),
        fits.Column(name="model", array=np.zeros(n, np.float32), **f32),
    ]
    hdus = [fits.PrimaryHDU()]
    if coadd:
        hdus.append(fits.BinTableHDU.from_columns(columns, name="COADD"))
    specobj = fits.BinTableHDU.from_columns(
        [fits.Column(name="Z", format="E", array=np.array([0.04], np.float32))], name="SPECOBJ"
    )
    fits.HDUList([*hdus, specobj]).writeto(path)


def write_desi(path, arms: dict):
    """A DESI ``spectra``/``coadd`` file: per arm, float64 ``{ARM}_WAVELENGTH`` (n,) in
    Angstrom, float32 ``_FLUX``/``_IVAR`` (nspec, n), int32 ``_MASK`` (nspec, n) and float32
    ``_RESOLUTION`` (nspec, 11, n); ``arms`` maps a letter to a dict of those arrays."""
    hdus = [
        fits.PrimaryHDU(),
        fits.BinTableHDU.from_columns(
            [fits.Column(name="TARGETID", format="K", array=np.array([1]))], name="FIBERMAP"
        ),
    ]
    for arm, parts in arms.items():
        wave = fits.ImageHDU(np.asarray(parts["wavelength"], np.float64), name=f"{arm}_WAVELENGTH")
        wave.header["BUNIT"] = "Angstrom"
        flux = fits.ImageHDU(np.asarray(parts["flux"], np.float32), name=f"{arm}_FLUX")
        flux.header["BUNIT"] = "10**-17 erg/(s cm2 Angstrom)"
        ivar = fits.ImageHDU(np.asarray(parts["ivar"], np.float32), name=f"{arm}_IVAR")
        ivar.header["BUNIT"] = "10**+34 (s2 cm4 Angstrom2) / erg2"
        mask = fits.ImageHDU(np.asarray(parts["mask"], np.int32), name=f"{arm}_MASK")
        res = fits.ImageHDU(np.asarray(parts["resolution"], np.float32), name=f"{arm}_RESOLUTION")
        hdus += [wave, flux, ivar, mask, res]
    fits.HDUList(hdus).writeto(path)
