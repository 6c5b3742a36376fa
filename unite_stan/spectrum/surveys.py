"""Loaders for survey data products: DAWN JWST Archive (``from_DJA``), SDSS (``from_sdss_fits``)
and DESI (``from_desi_fits``).

Each reads a local FITS file (a path or an already-open :class:`astropy.io.fits.HDUList`);
nothing is ever downloaded, and a URL is refused with the advice to download the file first.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from unite_stan.instrument.base import Disperser
from unite_stan.instrument.desi import DESIDisperser, check_arm
from unite_stan.instrument.sdss import SDSSDisperser
from unite_stan.spectrum.loaders import from_edges, midpoint_edges
from unite_stan.spectrum.spectrum import Spectrum

__all__ = ["from_DJA", "from_desi_fits", "from_sdss_fits"]

#: flux unit of DJA spectra after conversion (f_ν columns are converted with spectral_density);
#: per micron, the NIRSpec dispersers' unit, so that flux density times wavelength simplifies
DJA_FLUX_UNIT = u.Unit(1e-16 * u.erg / u.s / u.cm**2 / u.um)
#: flux unit of SDSS and DESI spectra: the files' 1e-17 scale is applied to the values
SURVEY_FLUX_UNIT = u.erg / u.s / u.cm**2 / u.AA
SURVEY_FLUX_FACTOR = 1e-17
#: FWHM of a Gaussian in units of its standard deviation, as unite uses it
FWHM_PER_SIGMA = 2.355
_URL_SCHEMES = ("http://", "https://", "ftp://", "s3://")


def _check_cache(cache) -> None:
    if not isinstance(cache, bool):
        raise TypeError(f"cache={cache!r} must be True or False")


@contextlib.contextmanager
def _open_fits(path, loader: str):
    """The HDUList of ``path`` (left open when the caller gave an HDUList)."""
    if isinstance(path, fits.HDUList):
        yield path
        return
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{loader}: path={path!r} ({type(path).__name__}) must be a file path or an open "
            "astropy.io.fits.HDUList"
        )
    text = os.fspath(path)
    if isinstance(text, str) and text.lower().startswith(_URL_SCHEMES):
        raise ValueError(
            f"{loader}: {text!r} is a URL; unite_stan never downloads files. Download it first "
            "(e.g. with astropy.utils.data.download_file or curl) and pass the local path"
        )
    if not os.path.exists(text):
        raise FileNotFoundError(f"{loader}: no such file: {text!r}")
    with fits.open(text) as hdul:
        yield hdul


def _label(path) -> str:
    if isinstance(path, fits.HDUList):
        return repr(path.filename()) if path.filename() else "the HDUList"
    return repr(os.fspath(path))


def _hdu(hdul: fits.HDUList, extname: str, loader: str, path):
    if extname not in hdul:
        present = [h.name for h in hdul]
        raise KeyError(f"{loader}: {_label(path)} has no {extname} HDU (HDUs present: {present})")
    return hdul[extname]


def _column(table, name: str, extname: str, loader: str, path):
    if name not in table.colnames:
        raise KeyError(
            f"{loader}: the {extname} HDU of {_label(path)} has no column {name!r} (columns: "
            f"{table.colnames})"
        )
    return table[name]


# ---- DJA -----------------------------------------------------------------------------------


def from_DJA(path, disperser: Disperser, *, name: str = "", cache: bool = False) -> Spectrum:
    """A spectrum from a DAWN JWST Archive (msaexp) ``*.spec.fits`` file.

    Reads the ``SPEC1D`` table: ``wave`` (converted to µm), ``flux`` and ``err`` (converted to
    1e-16 erg s⁻¹ cm⁻² µm⁻¹ with the spectral-density equivalency, so the archive's µJy work).
    Pixel edges lie at midpoints between the file's neighbouring centres (the outer two half a
    step out); pixels where ``flux`` is masked (NaN in the file) are then dropped, leaving gaps.

    Parameters
    ----------
    path : str, os.PathLike or astropy.io.fits.HDUList
        Local file or an already-open HDUList (left open). URLs are refused: download first.
    disperser : Disperser
        Any disperser, e.g. :class:`~unite_stan.instrument.nirspec.PRISM`.
    name : str, optional
        Defaults to ``disperser.name``.
    cache : bool, optional
        Accepted for unite's signature; nothing is downloaded, so it has no effect.

    Returns
    -------
    Spectrum
        Wavelengths in the disperser's unit.

    Raises
    ------
    ValueError
        If ``path`` is a URL.
    FileNotFoundError
        If the file does not exist.
    KeyError
        If the ``SPEC1D`` HDU or one of its columns is missing.
    astropy.units.UnitConversionError
        If a column's unit is missing or not a wavelength / flux density.
    """
    _check_cache(cache)
    if not isinstance(disperser, Disperser):
        raise TypeError(
            f"disperser={disperser!r} ({type(disperser).__name__}) is not a Disperser; use "
            "e.g. PRISM() from unite_stan.instrument.nirspec"
        )
    with _open_fits(path, "from_DJA") as hdul:
        table = Table.read(_hdu(hdul, "SPEC1D", "from_DJA", path))
        columns = {
            c: _column(table, c, "SPEC1D", "from_DJA", path) for c in ("wave", "flux", "err")
        }
    for key, column in columns.items():
        if column.unit is None:
            raise u.UnitConversionError(
                f"from_DJA: column {key!r} of {_label(path)} has no unit; DJA files give wave in "
                "um and flux, err in uJy"
            )
    wave = u.Quantity(np.asarray(columns["wave"], dtype=float), columns["wave"].unit).to(u.um)
    mask = np.ma.getmaskarray(columns["flux"])
    equivalency = u.spectral_density(wave)
    flux, err = (
        u.Quantity(np.ma.filled(columns[c].astype(float), np.nan), columns[c].unit).to(
            DJA_FLUX_UNIT, equivalency
        )
        for c in ("flux", "err")
    )
    low, high = midpoint_edges(wave.value)
    return from_edges(low * u.um, high * u.um, flux, err, disperser, mask=mask, name=name)


# ---- SDSS ----------------------------------------------------------------------------------


def from_sdss_fits(
    path, disperser: SDSSDisperser, *, name: str = "", cache: bool = False
) -> Spectrum:
    """A spectrum from an SDSS/BOSS ``spec-PLATE-MJD-FIBER.fits`` file (DR8 and later).

    Reads the ``COADD`` table: λ = 10**``loglam`` Å with pixel edges at the logarithmic
    midpoints (the outer ones half a step out); flux × 1e-17 erg s⁻¹ cm⁻² Å⁻¹; error =
    1/√``ivar``. A pixel is dropped when ``and_mask`` ≠ 0 or ``ivar`` ≤ 0; the others keep
    their edges, so a dropped pixel leaves a gap. The disperser's grids are set from the file:
    dλ/dpix = gradient(λ), and R = λ / (2.355 σ) with σ = ``wdisp`` × dλ/dpix, ``wdisp``
    being the LSF's standard deviation in pixels (pixels with ``wdisp`` ≤ 0 are left out of
    the grid).

    Parameters
    ----------
    path : str, os.PathLike or astropy.io.fits.HDUList
        Local file or an already-open HDUList (left open). URLs are refused: download first.
    disperser : SDSSDisperser
        Its grids are replaced by the file's.
    name : str, optional
        Defaults to ``disperser.name`` (``'SDSS'``).
    cache : bool, optional
        Accepted for unite's signature; nothing is downloaded, so it has no effect.

    Raises
    ------
    TypeError
        If ``disperser`` is not an :class:`~unite_stan.instrument.sdss.SDSSDisperser`.
    KeyError
        If the file has no ``COADD`` HDU or a column is missing.
    """
    _check_cache(cache)
    if not isinstance(disperser, SDSSDisperser):
        raise TypeError(
            f"from_sdss_fits needs an SDSSDisperser (from unite_stan.instrument.sdss), got "
            f"{type(disperser).__name__}: {disperser!r}"
        )
    with _open_fits(path, "from_sdss_fits") as hdul:
        table = Table.read(_hdu(hdul, "COADD", "from_sdss_fits", path))
        names = ("loglam", "flux", "ivar", "and_mask", "wdisp")
        col = {c: np.asarray(_column(table, c, "COADD", "from_sdss_fits", path)) for c in names}
    loglam = col["loglam"].astype(float)
    wavelength = 10.0**loglam
    low, high = (10.0**edge for edge in midpoint_edges(loglam))

    ivar = col["ivar"].astype(float)
    good_ivar = ivar > 0
    bad = (col["and_mask"] != 0) | ~good_ivar
    error = np.empty_like(ivar)
    error[good_ivar] = 1.0 / np.sqrt(ivar[good_ivar])
    # Dropped below; a finite stand-in keeps the arrays valid in case a caller inspects them.
    error[~good_ivar] = 100.0 * np.median(error[good_ivar]) if good_ivar.any() else 1.0

    dispersion = np.gradient(wavelength)
    wdisp = col["wdisp"].astype(float)
    usable = np.isfinite(wdisp) & (wdisp > 0)
    disperser.set_grids(
        wavelength[usable],
        wavelength[usable] / (FWHM_PER_SIGMA * wdisp[usable] * dispersion[usable]),
        dispersion[usable],
    )
    flux = col["flux"].astype(float) * SURVEY_FLUX_FACTOR * SURVEY_FLUX_UNIT
    return from_edges(
        low * u.AA,
        high * u.AA,
        flux,
        error * SURVEY_FLUX_FACTOR * SURVEY_FLUX_UNIT,
        disperser,
        mask=bad,
        name=name,
    )


# ---- DESI ----------------------------------------------------------------------------------


def desi_sigma_pix(resolution: np.ndarray) -> np.ndarray:
    """Standard deviation (pixels) of each pixel's LSF from its 11-band resolution row.

    ``resolution`` has shape (11, npix), rows the offsets −5 … +5; σ² is the second central
    moment of the row's weights.
    """
    offsets = np.arange(resolution.shape[0], dtype=float) - resolution.shape[0] // 2
    weights = np.asarray(resolution, dtype=float)
    total = weights.sum(axis=0)
    mean = (offsets[:, None] * weights).sum(axis=0) / total
    variance = ((offsets[:, None] - mean) ** 2 * weights).sum(axis=0) / total
    with np.errstate(invalid="ignore"):
        return np.sqrt(variance)


def from_desi_fits(
    path,
    *,
    dispersers: dict[str, DESIDisperser] | None = None,
    arms=("B", "R", "Z"),
    index: int = 0,
    name: str = "",
    cache: bool = False,
) -> list[Spectrum]:
    """One spectrum per arm from a DESI ``spectra-*.fits`` or ``coadd-*.fits`` file.

    For each arm, reads ``{ARM}_WAVELENGTH`` (Å), row ``index`` of ``{ARM}_FLUX``,
    ``{ARM}_IVAR``, ``{ARM}_MASK`` and ``{ARM}_RESOLUTION``. Flux and error (1/√ivar) are
    multiplied by 1e-17 (erg s⁻¹ cm⁻² Å⁻¹); a pixel is kept when its mask is 0 and ivar > 0.
    Edges lie at midpoints between the file's pixel centres (outer ones half a step out); a
    dropped pixel leaves a gap. The arm's disperser gets dλ/dpix = gradient(λ) and
    R = λ / (2.355 σ_pix dλ/dpix), σ_pix² the second central moment of the pixel's
    resolution row (pixels where it is not positive are left out of the grid).

    Parameters
    ----------
    path : str, os.PathLike or astropy.io.fits.HDUList
        Local file or an already-open HDUList (left open). URLs are refused: download first.
    dispersers : dict, optional
        ``{arm: DESIDisperser}`` for arms whose disperser you built (e.g. with calibration
        tokens); the others are created as ``DESIDisperser(arm)``.
    arms : sequence of str, optional
        Arms to load, in this order (either case). An arm absent from the file is skipped
        with a warning.
    index : int, optional
        Which spectrum of the file (row of the flux image).
    name : str, optional
        Spectra are named ``'{name}_{arm}'`` (arm lower case), or just ``'b'``, ``'r'``,
        ``'z'`` when empty.
    cache : bool, optional
        Accepted for unite's signature; nothing is downloaded, so it has no effect.

    Returns
    -------
    list of Spectrum

    Raises
    ------
    ValueError
        If an arm is not B, R or Z, a disperser does not match its arm, or none of the arms is
        in the file.
    IndexError
        If ``index`` is outside the file's spectra.
    """
    _check_cache(cache)
    if isinstance(arms, str):
        arms = (arms,)
    arms = [check_arm(a) for a in arms]
    if not arms:
        raise ValueError("arms is empty; give one or more of ('B', 'R', 'Z')")
    given = {}
    for key, disperser in (dispersers or {}).items():
        arm = check_arm(key)
        if not isinstance(disperser, DESIDisperser) or disperser.arm != arm:
            raise ValueError(
                f"dispersers[{key!r}]={disperser!r} must be a DESIDisperser of arm {arm!r}"
            )
        given[arm] = disperser
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index={index!r} must be an integer")
    if not isinstance(name, str):
        raise TypeError(f"name={name!r} ({type(name).__name__}) must be a string")

    spectra = []
    with _open_fits(path, "from_desi_fits") as hdul:
        for arm in arms:
            if f"{arm}_WAVELENGTH" not in hdul:
                warnings.warn(
                    f"from_desi_fits: {_label(path)} has no {arm}_WAVELENGTH HDU; arm {arm!r} "
                    "skipped",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            data = {
                part: _hdu(hdul, f"{arm}_{part}", "from_desi_fits", path).data
                for part in ("WAVELENGTH", "FLUX", "IVAR", "MASK", "RESOLUTION")
            }
            nspec = np.shape(data["FLUX"])[0]
            if not 0 <= index < nspec:
                raise IndexError(
                    f"from_desi_fits: index={index} is out of range; arm {arm!r} of "
                    f"{_label(path)} holds {nspec} spectra (valid: 0 to {nspec - 1})"
                )
            disperser = given.get(arm) or DESIDisperser(arm)
            label = f"{name}_{arm.lower()}" if name else arm.lower()
            spectra.append(_desi_arm(data, index, disperser, label))
    if not spectra:
        raise ValueError(
            f"from_desi_fits: none of the arms {arms} is in {_label(path)}; nothing to load"
        )
    return spectra


def _desi_arm(data: dict, index: int, disperser: DESIDisperser, name: str) -> Spectrum:
    wavelength = np.asarray(data["WAVELENGTH"], dtype=float)
    flux = np.asarray(data["FLUX"][index], dtype=float)
    ivar = np.asarray(data["IVAR"][index], dtype=float)
    good = (np.asarray(data["MASK"][index]) == 0) & (ivar > 0)
    error = np.full_like(ivar, np.nan)
    error[good] = 1.0 / np.sqrt(ivar[good])

    low, high = midpoint_edges(wavelength)

    dispersion = np.gradient(wavelength)
    sigma = desi_sigma_pix(np.asarray(data["RESOLUTION"][index], dtype=float))
    usable = np.isfinite(sigma) & (sigma > 0)
    disperser.set_grids(
        wavelength[usable],
        wavelength[usable] / (FWHM_PER_SIGMA * sigma[usable] * dispersion[usable]),
        dispersion[usable],
    )
    return from_edges(
        low * u.AA,
        high * u.AA,
        flux * SURVEY_FLUX_FACTOR * SURVEY_FLUX_UNIT,
        error * SURVEY_FLUX_FACTOR * SURVEY_FLUX_UNIT,
        disperser,
        mask=~good,
        name=name,
    )
