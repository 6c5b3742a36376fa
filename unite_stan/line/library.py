"""Line profiles: a registry of profile classes, their parameter slots and numerical kernels.

A profile is one Python class (slots, default priors, numpy CDF/PDF used for tables and tests)
plus one Stan function chunk in ``templates/functions/`` (the same CDF, used in the likelihood).
Adding a profile means adding both and registering the class here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.special import erf

from unite_stan.constants import FWHM_TO_SIGMA, K_FWHM

__all__ = ["Gaussian", "Profile", "profile_from_dict", "resolve_profile"]


class Profile(ABC):
    """Base class of line profiles.

    Subclasses define ``code`` (unite's dispatch id), ``aliases`` (lower-case strings accepted by
    :func:`resolve_profile`), ``stan_name`` (the Stan chunk ``templates/functions/<stan_name>.stan``
    whose ``<stan_name>_cumulative(edge, centre, width, lsf_fwhm2)`` returns 2 CDF - 1 at the
    edges, given the squared LSF FWHM of each edge) and :meth:`param_names`.
    """

    code: int
    aliases: tuple[str, ...] = ()
    stan_name: str
    #: half-width, in standard deviations of the widest total width, beyond which the profile
    #: carries less flux than float64 resolves (Gaussian: 8, beyond which lies 6e-16 of the
    #: flux); None (heavy tails) means "evaluate on every edge"
    window_sigmas: float | None = None

    @abstractmethod
    def param_names(self) -> list[str]:
        """Names of the profile's parameter slots, in order (e.g. ``['fwhm_gauss']``)."""

    def default_prior(self, slot: str):
        """Default prior of a slot the user did not supply (a fresh object each call)."""
        from unite_stan.prior import Uniform

        return Uniform(0.0, 1000.0)

    @abstractmethod
    def cdf(self, x: np.ndarray, widths: dict[str, np.ndarray], lsf_fwhm: np.ndarray) -> np.ndarray:
        """Cumulative profile at offsets ``x`` from the centre.

        ``widths`` maps velocity slots to FWHMs in wavelength units (dimensionless slots pass
        through); ``lsf_fwhm`` is the instrumental FWHM at each ``x``.
        """

    @abstractmethod
    def pdf(self, x: np.ndarray, widths: dict[str, np.ndarray], lsf_fwhm: np.ndarray) -> np.ndarray:
        """Profile density (1 / wavelength) at offsets ``x`` from the centre."""

    def to_dict(self) -> dict:
        return {"type": type(self).__name__}

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Gaussian(Profile):
    """Gaussian line; the LSF is added in quadrature: ``G = sqrt(L² + W²)``."""

    code = 0
    aliases = ("gaussian", "normal")
    stan_name = "gaussian"
    window_sigmas = 8.0

    def param_names(self) -> list[str]:
        return ["fwhm_gauss"]

    def cdf(self, x, widths, lsf_fwhm):
        total = np.sqrt(np.square(lsf_fwhm) + np.square(widths["fwhm_gauss"]))
        return 0.5 * (1.0 + erf(K_FWHM * x / total))

    def pdf(self, x, widths, lsf_fwhm):
        sigma = np.sqrt(np.square(lsf_fwhm) + np.square(widths["fwhm_gauss"])) * FWHM_TO_SIGMA
        return np.exp(-0.5 * np.square(x / sigma)) / (sigma * np.sqrt(2.0 * np.pi))


_PROFILES: dict[str, type[Profile]] = {cls.__name__: cls for cls in (Gaussian,)}
_ALIASES: dict[str, type[Profile]] = {
    alias: cls for cls in _PROFILES.values() for alias in cls.aliases
}


def resolve_profile(profile: str | Profile) -> Profile:
    """A profile instance from an instance or a case-insensitive alias (``'gaussian'``…)."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, type) and issubclass(profile, Profile):
        return profile()
    if isinstance(profile, str):
        cls = _ALIASES.get(profile.lower()) or _PROFILES.get(profile)
        if cls is not None:
            return cls()
        raise ValueError(
            f"unknown profile {profile!r}; valid profiles are {sorted(_PROFILES)} "
            f"(aliases: {', '.join(sorted(_ALIASES))})"
        )
    raise TypeError(
        f"profile={profile!r} ({type(profile).__name__}) must be a Profile instance or a profile "
        "name string"
    )


def profile_from_dict(d: dict) -> Profile:
    """Rebuild a profile from ``{'type': ClassName}``."""
    name = d.get("type") if isinstance(d, dict) else None
    if name not in _PROFILES:
        raise ValueError(f"unknown profile type {name!r}; valid types are {sorted(_PROFILES)}")
    return _PROFILES[name]()
