"""Dispersers (resolution and dispersion of a spectrograph) and their calibration tokens.

Sub-modules: :mod:`~unite_stan.instrument.base` (the :class:`Disperser` base class),
:mod:`~unite_stan.instrument.generic` (``GenericDisperser``, ``SimpleDisperser``),
:mod:`~unite_stan.instrument.nirspec` (``NIRSpec`` and its gratings ``PRISM``, ``G395M``, …),
:mod:`~unite_stan.instrument.sdss` (``SDSSDisperser``), :mod:`~unite_stan.instrument.desi`
(``DESIDisperser``), :mod:`~unite_stan.instrument.config` (``InstrumentConfig``) and
:mod:`~unite_stan.instrument.tokens` (``RScale``, ``FluxScale``, ``PixOffset``).
"""

from unite_stan.instrument import base, config, desi, generic, nirspec, sdss, tokens
from unite_stan.instrument.config import InstrumentConfig
from unite_stan.instrument.tokens import FluxScale, PixOffset, RScale

__all__ = [
    "FluxScale",
    "InstrumentConfig",
    "PixOffset",
    "RScale",
    "base",
    "config",
    "desi",
    "generic",
    "nirspec",
    "sdss",
    "tokens",
]
