"""Continuum regions, forms and tokens."""

from unite_stan.continuum import config, fit, library
from unite_stan.continuum.config import (
    ContinuumConfiguration,
    ContinuumRegion,
    ContShape,
    NormWavelength,
    Scale,
)
from unite_stan.continuum.fit import ContinuumFitResult, fit_continuum_form
from unite_stan.continuum.library import (
    ContinuumForm,
    Linear,
    Polynomial,
    PowerLaw,
    form_from_dict,
    get_form,
)

__all__ = [
    "ContShape",
    "ContinuumConfiguration",
    "ContinuumFitResult",
    "ContinuumForm",
    "ContinuumRegion",
    "Linear",
    "NormWavelength",
    "Polynomial",
    "PowerLaw",
    "Scale",
    "config",
    "fit",
    "fit_continuum_form",
    "form_from_dict",
    "get_form",
    "library",
]
