"""Observed spectra: :class:`Spectrum`, the loaders, and :class:`Spectra` (the set of spectra of
one fit, with coverage filtering and scale estimation).

Sub-modules: :mod:`~unite_stan.spectrum.spectrum`, :mod:`~unite_stan.spectrum.loaders`,
:mod:`~unite_stan.spectrum.surveys` (DJA, SDSS and DESI files) and
:mod:`~unite_stan.spectrum.spectra` (also importable as
:mod:`~unite_stan.spectrum.collection`, unite's path).
"""

from unite_stan.spectrum import collection, loaders, spectra, spectrum, surveys
from unite_stan.spectrum.loaders import from_arrays, from_centers, from_edges
from unite_stan.spectrum.spectra import (
    RegionDiagnostic,
    ScaleDiagnosticList,
    Spectra,
    SpectrumScaleDiagnostic,
)
from unite_stan.spectrum.spectrum import Spectrum
from unite_stan.spectrum.surveys import from_desi_fits, from_DJA, from_sdss_fits

__all__ = [
    "RegionDiagnostic",
    "ScaleDiagnosticList",
    "Spectra",
    "Spectrum",
    "SpectrumScaleDiagnostic",
    "collection",
    "from_arrays",
    "from_centers",
    "from_DJA",
    "from_desi_fits",
    "from_edges",
    "from_sdss_fits",
    "loaders",
    "spectra",
    "spectrum",
    "surveys",
]
