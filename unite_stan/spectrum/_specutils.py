"""Conversion between :class:`~unite_stan.spectrum.Spectrum` and specutils (≥ 2.0)
``Spectrum`` objects; specutils is imported only here, when a conversion is asked for."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from unite_stan.spectrum.loaders import from_edges
from unite_stan.spectrum.spectrum import F_LAMBDA

__all__ = ["from_specutils", "to_specutils"]

INSTALL_HINT = (
    "specutils >= 2.0 is needed to convert to and from specutils spectra; install it with "
    "`pip install 'unite-stan[specutils]'` (or `pip install 'specutils>=2.0'`)"
)


def _specutils():
    try:
        import specutils
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    major = int(specutils.__version__.split(".")[0])
    if major < 2:
        raise ImportError(f"{INSTALL_HINT}; found specutils {specutils.__version__}")
    return specutils


def _errors(spec1d) -> u.Quantity:
    from astropy.nddata import InverseVariance, StdDevUncertainty, VarianceUncertainty

    unc = spec1d.uncertainty
    if unc is None:
        raise ValueError(
            "the specutils Spectrum has no uncertainty; give one (StdDevUncertainty, "
            "VarianceUncertainty or InverseVariance) so the likelihood has errors"
        )
    unit = spec1d.flux.unit
    values = np.asarray(unc.array, dtype=float)
    if isinstance(unc, StdDevUncertainty):
        return values * unit
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(unc, VarianceUncertainty):
            return np.sqrt(values) * unit
        if isinstance(unc, InverseVariance):
            return 1.0 / np.sqrt(values) * unit
    raise TypeError(
        f"uncertainty of type {type(unc).__name__} is not supported; use StdDevUncertainty, "
        "VarianceUncertainty or InverseVariance"
    )


def from_specutils(spec1d, disperser, *, name: str = ""):
    """See :meth:`unite_stan.spectrum.Spectrum.from_specutils`."""
    specutils = _specutils()
    if not isinstance(spec1d, specutils.Spectrum):
        raise TypeError(f"spec1d must be a specutils.Spectrum, not {type(spec1d).__name__}")
    if spec1d.flux.ndim != 1:
        raise ValueError(
            f"the specutils Spectrum has flux of shape {spec1d.flux.shape}; only 1-D spectra "
            "can be converted (index a single spectrum first, e.g. spec1d[0])"
        )
    edges = spec1d.spectral_axis.bin_edges.to(disperser.unit, u.spectral())
    flux = u.Quantity(spec1d.flux, dtype=float)
    error = _errors(spec1d)
    mask = np.zeros(flux.shape, bool) if spec1d.mask is None else np.asarray(spec1d.mask, bool)
    if flux.unit.is_equivalent(u.Jy):
        # f_ν → f_λ per unit of the disperser's wavelength.
        centres = 0.5 * (edges[1:] + edges[:-1])
        target = u.erg / u.s / u.cm**2 / disperser.unit
        flux, error = (q.to(target, u.spectral_density(centres)) for q in (flux, error))
    elif not flux.unit.is_equivalent(F_LAMBDA):
        raise u.UnitConversionError(
            f"the specutils Spectrum has flux unit {flux.unit!s}, which is neither f_lambda "
            f"(convertible to {F_LAMBDA!s}) nor f_nu (convertible to Jy)"
        )
    if edges[0] > edges[-1]:
        # A frequency axis runs backwards in wavelength.
        edges, flux, error, mask = edges[::-1], flux[::-1], error[::-1], mask[::-1]
    return from_edges(edges[:-1], edges[1:], flux, error, disperser, mask=mask, name=name)


def to_specutils(spectrum):
    """See :meth:`unite_stan.spectrum.Spectrum.to_specutils`."""
    specutils = _specutils()
    from astropy.nddata import StdDevUncertainty

    # Gaps between pixels become masked pixels (flux NaN) so the bin edges stay exact.
    n = spectrum.keep_mask.size
    flux = np.full(n, np.nan)
    error = np.full(n, np.nan)
    flux[spectrum.keep_mask] = spectrum.flux
    error[spectrum.keep_mask] = spectrum.error
    return specutils.Spectrum(
        flux=flux * spectrum.flux_unit,
        spectral_axis=spectrum.edges * spectrum.unit,
        uncertainty=StdDevUncertainty(error * spectrum.flux_unit),
        mask=~spectrum.keep_mask,
        meta={"name": spectrum.name},
    )
