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
    AttenuatedBlackbody,
    Bernstein,
    Blackbody,
    BSpline,
    Chebyshev,
    ContinuumForm,
    DLAPowerLaw,
    Legendre,
    Linear,
    ModifiedBlackbody,
    Polynomial,
    PowerLaw,
    Template,
    form_from_dict,
    get_form,
)

__all__ = [
    "AttenuatedBlackbody",
    "BSpline",
    "Bernstein",
    "Blackbody",
    "Chebyshev",
    "ContShape",
    "ContinuumConfiguration",
    "ContinuumFitResult",
    "ContinuumForm",
    "ContinuumRegion",
    "DLAPowerLaw",
    "Legendre",
    "Linear",
    "ModifiedBlackbody",
    "NormWavelength",
    "Polynomial",
    "PowerLaw",
    "Scale",
    "Template",
    "config",
    "fit",
    "fit_continuum_form",
    "form_from_dict",
    "get_form",
    "library",
]
