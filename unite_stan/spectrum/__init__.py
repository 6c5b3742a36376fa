"""Observed spectra: :class:`Spectrum`, the loaders, and :class:`Spectra` (the set of spectra of
one fit, with coverage filtering and scale estimation).

Sub-modules: :mod:`~unite_stan.spectrum.spectrum`, :mod:`~unite_stan.spectrum.loaders` and
:mod:`~unite_stan.spectrum.spectra` (also importable as
:mod:`~unite_stan.spectrum.collection`, unite's path).
"""

from unite_stan.spectrum import collection, loaders, spectra, spectrum
from unite_stan.spectrum.loaders import from_arrays, from_centers, from_edges
from unite_stan.spectrum.spectra import (
    RegionDiagnostic,
    ScaleDiagnosticList,
    Spectra,
    SpectrumScaleDiagnostic,
)
from unite_stan.spectrum.spectrum import Spectrum

__all__ = [
    "RegionDiagnostic",
    "ScaleDiagnosticList",
    "Spectra",
    "Spectrum",
    "SpectrumScaleDiagnostic",
    "collection",
    "from_arrays",
    "from_centers",
    "from_edges",
    "loaders",
    "spectra",
    "spectrum",
]
