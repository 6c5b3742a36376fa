"""unite's module path ``unite.spectrum.collection``: :class:`Spectra` and the scale diagnostics.

The classes live in :mod:`unite_stan.spectrum.spectra`; this module gives scripts written for
unite (``from unite.spectrum.collection import Spectra``) the same import path.
"""

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
]
