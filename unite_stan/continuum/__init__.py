"""Continuum regions, forms and tokens."""

from unite_stan.continuum import config, library
from unite_stan.continuum.config import (
    ContinuumConfiguration,
    ContinuumRegion,
    ContShape,
    NormWavelength,
    Scale,
)
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
    "ContinuumForm",
    "ContinuumRegion",
    "Linear",
    "NormWavelength",
    "Polynomial",
    "PowerLaw",
    "Scale",
    "config",
    "form_from_dict",
    "get_form",
    "library",
]
