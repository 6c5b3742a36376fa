"""Emission and absorption lines: tokens, profiles and :class:`LineConfiguration`."""

from unite_stan.line import config, library
from unite_stan.line.config import (
    FWHM,
    Flux,
    LineConfiguration,
    LineEntry,
    LineShape,
    Redshift,
    Tau,
)
from unite_stan.line.library import (
    PROFILES,
    SEMG,
    BoxGauss,
    Cauchy,
    GaussHermite,
    Gaussian,
    GaussianSplitLaplace,
    Laplace,
    Profile,
    PseudoVoigt,
    SkewNormal,
    SplitNormal,
    profile_from_dict,
    resolve_profile,
)

__all__ = [
    "FWHM",
    "PROFILES",
    "SEMG",
    "BoxGauss",
    "Cauchy",
    "GaussHermite",
    "GaussianSplitLaplace",
    "Laplace",
    "PseudoVoigt",
    "SkewNormal",
    "SplitNormal",
    "Flux",
    "Gaussian",
    "LineConfiguration",
    "LineEntry",
    "LineShape",
    "Profile",
    "Redshift",
    "Tau",
    "config",
    "library",
    "profile_from_dict",
    "resolve_profile",
]
