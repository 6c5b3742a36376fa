"""Line profiles: one class per profile, enrolled in :data:`PROFILES` as it is defined.

A profile class owns everything about it: its parameter slots and which of them are velocities
(km/s FWHMs, converted to wavelength at the line's observed centre), their default priors, how
far from the centre it carries flux (the window the likelihood evaluates it on), its numpy
CDF and PDF (tables, tests) and the name of its Stan chunk ``templates/profiles/<stan_name>.stan``
(the same CDF, in the likelihood). Adding a profile is one class here and one chunk there; the
renderer, the data builder and the contract test (``tests/line/test_profile_contract.py``) ask
the class.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable

import numpy as np

from unite_stan._registry import Registry
from unite_stan.line import functions as _fn

__all__ = [
    "PROFILES",
    "SEMG",
    "BoxGauss",
    "Cauchy",
    "GaussHermite",
    "Gaussian",
    "GaussianSplitLaplace",
    "Laplace",
    "Profile",
    "PseudoVoigt",
    "SkewNormal",
    "SkewVoigt",
    "SplitNormal",
    "profile_from_dict",
    "resolve_profile",
]

#: Every concrete profile class, by class name and alias.
PROFILES = Registry("profile")


class Profile(ABC):
    """Base class of line profiles; a concrete subclass is enrolled in :data:`PROFILES`.

    Subclasses set:

    ``code``
        unite's dispatch id.
    ``aliases``
        Lower-case strings :func:`resolve_profile` accepts.
    ``slots``
        Parameter slots in order (:meth:`param_names`).
    ``velocity_slots``
        The slots that are velocity FWHMs in km/s (the others are dimensionless shapes).
    ``stan_name``
        The Stan chunk ``templates/profiles/<stan_name>.stan``, whose
        ``<stan_name>_cumulative(edge, centre, width, lsf_fwhm2)`` returns 2 CDF - 1 at the
        edges given the widths in wavelength units (slot order) and the squared LSF FWHM of
        each edge, and whose ``<stan_name>_peak(width)`` returns :meth:`peak` (absorbers).
    ``window_sigmas``
        Half-width, in standard deviations of the widest total width, beyond which the profile
        carries less flux than float64 resolves (Gaussian: 8, beyond which lies 6e-16 of the
        flux); ``None`` (heavy tails) means every edge.
    """

    code: int
    aliases: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()
    velocity_slots: tuple[str, ...] = ()
    stan_name: str
    window_sigmas: float | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        stray = set(cls.velocity_slots) - set(cls.slots)
        if stray:
            raise TypeError(f"{cls.__name__}.velocity_slots {sorted(stray)} are not slots")
        PROFILES.add(cls, cls.aliases)

    @classmethod
    def chunk(cls) -> str:
        """Path of the class's Stan chunk, relative to the templates folder."""
        return f"profiles/{cls.stan_name}.stan"

    @classmethod
    def contract_examples(cls) -> list[Profile]:
        """Instances the contract test (``tests/test_component_contract.py``) checks."""
        return [cls()]

    def param_names(self) -> list[str]:
        """Names of the profile's parameter slots, in order (e.g. ``['fwhm_gauss']``)."""
        return list(self.slots)

    def is_velocity(self, slot: str) -> bool:
        """Whether ``slot`` is a velocity FWHM (km/s)."""
        return slot in self.velocity_slots

    def default_prior(self, slot: str):
        """Default prior of a slot the user did not supply (a fresh object each call)."""
        from unite_stan.prior import Uniform

        return Uniform(0.0, 1000.0)

    #: keyword options of the numpy kernels (:mod:`unite_stan.line.functions`)
    kernel_options: dict = {}
    #: shared Stan chunks (paths in ``templates/``) the profile's chunk calls
    stan_requires: tuple[str, ...] = ()
    #: the cumulative is an exact CDF (its density integrates to it); the pseudo-Voigt family's
    #: is Ida et al.'s approximation of the Voigt integral (1.5e-4 at most) and SkewVoigt's is
    #: built pixel by pixel
    cumulative_is_exact: bool = True
    #: slot values where the profile is not differentiable in that slot (its gradient there is
    #: a convention; the contract test asks only that it be finite)
    nonsmooth_at: dict[str, float] = {}

    #: the numpy twins (``cdf(x, **slots, lsf=...)``, ``pdf(...)``, in
    #: :mod:`unite_stan.line.functions` or anywhere), and whether the cumulative is only defined
    #: over an increasing array of pixel edges (SkewVoigt's, built pixel by pixel)
    cdf_kernel: Callable[..., np.ndarray]
    pdf_kernel: Callable[..., np.ndarray]
    edge_cumulative: bool = False

    @classmethod
    def kernels(cls) -> _fn.ProfileKernels:
        """The class's numpy twins (``unite_stan.line.functions.KERNELS[name]``)."""
        return _fn.ProfileKernels(
            cls.cdf_kernel, cls.pdf_kernel, tuple(cls.slots), cls.edge_cumulative
        )

    def _kernels(self):
        return self.kernels()

    def cdf(self, x: np.ndarray, widths: dict[str, np.ndarray], lsf_fwhm: np.ndarray) -> np.ndarray:
        """Cumulative profile at offsets ``x`` from the centre.

        ``widths`` maps velocity slots to FWHMs in wavelength units (dimensionless slots pass
        through); ``lsf_fwhm`` is the instrumental FWHM at each ``x``.
        """
        return self._kernels().cdf(x, **widths, lsf=lsf_fwhm, **self.kernel_options)

    def pdf(self, x: np.ndarray, widths: dict[str, np.ndarray], lsf_fwhm: np.ndarray) -> np.ndarray:
        """Profile density (1 / wavelength) at offsets ``x`` from the centre."""
        return self._kernels().pdf(x, **widths, lsf=lsf_fwhm, **self.kernel_options)

    def peak(self, widths: dict[str, np.ndarray]) -> np.ndarray:
        """Intrinsic density at the centre (1 / wavelength), which an absorber's peak optical
        depth is divided by (spec §3.7): the PDF at 0 with unite's LSF of 1e-10. The Stan
        chunk's ``<stan_name>_peak(width)`` computes the same."""
        from unite_stan.line.functions import TAU_NORMALISATION_LSF

        return self.pdf(np.zeros(()), widths, np.asarray(TAU_NORMALISATION_LSF))

    def to_dict(self) -> dict:
        return {"type": type(self).__name__}

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _fwhm_prior():
    from unite_stan.prior import Uniform

    return Uniform(0.0, 1000.0)


def _truncated(loc: float, scale: float, low: float, high: float):
    from unite_stan.prior import TruncatedNormal

    return TruncatedNormal(loc, scale, low, high)


#: Laplace-family kernels without unite's T_MAX guards, which jump by up to 1.4e-3 where the
#: Laplace width is below 1/50 of the Gaussian (docs/differences.md)
_EXACT = {"t_max": np.inf}
#: exponential tails: ½ exp(-d / b) < 1e-16 beyond d = 37 b = 26.7 Laplace FWHMs, 63 standard
#: deviations of a Gaussian of that FWHM
_EXPONENTIAL_WINDOW = 64.0


class Gaussian(Profile):
    """Gaussian line; the LSF is added in quadrature: ``G = sqrt(L² + W²)``."""

    code = 0
    aliases = ("gaussian", "normal")
    slots = ("fwhm_gauss",)
    velocity_slots = ("fwhm_gauss",)
    stan_name = "gaussian"
    cdf_kernel = staticmethod(_fn.gaussian_cdf)
    pdf_kernel = staticmethod(_fn.gaussian_pdf)
    window_sigmas = 8.0


class Cauchy(Profile):
    """Lorentzian line: the pseudo-Voigt whose Gaussian is the LSF alone."""

    code = 1
    aliases = ("cauchy", "lorentzian")
    slots = ("fwhm_lorentz",)
    velocity_slots = ("fwhm_lorentz",)
    stan_name = "cauchy"
    cdf_kernel = staticmethod(_fn.cauchy_cdf)
    pdf_kernel = staticmethod(_fn.cauchy_pdf)
    stan_requires = ("special/exp_erfc.stan", "special/pseudovoigt.stan")
    # the cumulative is Ida et al.'s approximation, the density the exact Voigt (as unite)
    cumulative_is_exact = False


class PseudoVoigt(Profile):
    """Ida, Ando & Toraya's (2000) extended pseudo-Voigt: Gaussian FWHM (with the LSF in
    quadrature) and Lorentzian FWHM."""

    code = 2
    aliases = ("voigt", "pseudovoigt")
    slots = ("fwhm_gauss", "fwhm_lorentz")
    velocity_slots = ("fwhm_gauss", "fwhm_lorentz")
    stan_name = "pseudovoigt"
    cdf_kernel = staticmethod(_fn.pseudovoigt_cdf)
    pdf_kernel = staticmethod(_fn.pseudovoigt_pdf)
    stan_requires = ("special/exp_erfc.stan", "special/pseudovoigt.stan")
    # the cumulative is Ida et al.'s approximation, the density the exact Voigt (as unite)
    cumulative_is_exact = False


class Laplace(Profile):
    """Laplace (exponential) line of FWHM ``2 b ln 2``, convolved with the LSF."""

    code = 3
    aliases = ("laplace", "exponential")
    slots = ("fwhm_exp",)
    velocity_slots = ("fwhm_exp",)
    stan_name = "laplace"
    cdf_kernel = staticmethod(_fn.laplace_cdf)
    pdf_kernel = staticmethod(_fn.laplace_pdf)
    window_sigmas = _EXPONENTIAL_WINDOW
    kernel_options = _EXACT
    stan_requires = ("special/exp_erfc.stan",)


class SEMG(Profile):
    """Gaussian (the LSF in quadrature) convolved with a symmetric Laplace."""

    code = 4
    aliases = ("semg", "exp-gaussian")
    slots = ("fwhm_gauss", "fwhm_exp")
    velocity_slots = ("fwhm_gauss", "fwhm_exp")
    stan_name = "semg"
    cdf_kernel = staticmethod(_fn.semg_cdf)
    pdf_kernel = staticmethod(_fn.semg_pdf)
    window_sigmas = _EXPONENTIAL_WINDOW
    kernel_options = _EXACT
    stan_requires = ("special/exp_erfc.stan",)


class GaussHermite(Profile):
    """Gauss-Hermite series: FWHM and the intrinsic ``h3``, ``h4``."""

    code = 5
    aliases = ("hermite", "gauss-hermite")
    slots = ("fwhm_gauss", "h3", "h4")
    velocity_slots = ("fwhm_gauss",)
    stan_name = "gausshermite"
    cdf_kernel = staticmethod(_fn.gausshermite_cdf)
    pdf_kernel = staticmethod(_fn.gausshermite_pdf)
    window_sigmas = 10.0

    def default_prior(self, slot: str):
        return _fwhm_prior() if slot == "fwhm_gauss" else _truncated(0.0, 0.1, -0.3, 0.3)


class SplitNormal(Profile):
    """Two half-Gaussians of blue and red FWHM, each with the LSF in quadrature."""

    code = 6
    aliases = ("split-normal", "two-sided")
    slots = ("fwhm_blue", "fwhm_red")
    velocity_slots = ("fwhm_blue", "fwhm_red")
    stan_name = "splitnormal"
    cdf_kernel = staticmethod(_fn.splitnormal_cdf)
    pdf_kernel = staticmethod(_fn.splitnormal_pdf)
    window_sigmas = 8.0


class SkewVoigt(Profile):
    """unite's skewed Voigt: each pixel's pseudo-Voigt content (Gaussian FWHM with the LSF in
    quadrature, Lorentzian FWHM) times ``1 + erf(α_eff m / w0)`` at the pixel's midpoint ``m``;
    positive ``alpha`` shifts flux redward."""

    code = 7
    aliases = ("skew-voigt", "skewvoigt")
    slots = ("fwhm_gauss", "fwhm_lorentz", "alpha")
    velocity_slots = ("fwhm_gauss", "fwhm_lorentz")
    stan_name = "skewvoigt"
    cdf_kernel = staticmethod(_fn.skewvoigt_cdf)
    pdf_kernel = staticmethod(_fn.skewvoigt_pdf)
    edge_cumulative = True
    stan_requires = ("special/exp_erfc.stan", "special/pseudovoigt.stan", "special/interp.stan")
    # built pixel by pixel over the edges it is given, from Ida et al.'s cumulative; the
    # density is the exact Voigt times the skew factor (as unite)
    cumulative_is_exact = False
    # the boost diverges as alpha -> 0 (|alpha|^-0.347 in its exponent, capped) and unite takes
    # |alpha| as 1 at alpha = 0
    nonsmooth_at = {"alpha": 0.0}

    def default_prior(self, slot: str):
        return _truncated(0.0, 1.0, -5.0, 5.0) if slot == "alpha" else _fwhm_prior()


class SkewNormal(Profile):
    """Skew normal: FWHM and skewness ``alpha`` (positive shifts flux redward)."""

    code = 9
    aliases = ("skew-normal", "skewnormal")
    slots = ("fwhm_gauss", "alpha")
    velocity_slots = ("fwhm_gauss",)
    stan_name = "skewnormal"
    cdf_kernel = staticmethod(_fn.skewnormal_cdf)
    pdf_kernel = staticmethod(_fn.skewnormal_pdf)
    window_sigmas = 9.0

    def default_prior(self, slot: str):
        return _fwhm_prior() if slot == "fwhm_gauss" else _truncated(0.0, 100.0, -300.0, 300.0)


class BoxGauss(Profile):
    """Boxcar of full width ``fwhm_box`` convolved with a Gaussian (the LSF in quadrature)."""

    code = 8
    aliases = ("boxgauss", "box-gauss", "boxcar")
    slots = ("fwhm_box", "fwhm_gauss")
    velocity_slots = ("fwhm_box", "fwhm_gauss")
    stan_name = "boxgauss"
    cdf_kernel = staticmethod(_fn.boxgauss_cdf)
    pdf_kernel = staticmethod(_fn.boxgauss_pdf)
    # the half box (1.18 standard deviations of a Gaussian of its FWHM) plus 8 of the Gaussian
    window_sigmas = 10.0


class GaussianSplitLaplace(Profile):
    """Gaussian (the LSF in quadrature) convolved with an asymmetric Laplace of blue and red
    FWHMs."""

    code = 10
    aliases = ("gaussiansplitlaplace", "gaussian-split-laplace", "asymmetric-emg", "aemg")
    slots = ("fwhm_gauss", "fwhm_l_blue", "fwhm_l_red")
    velocity_slots = ("fwhm_gauss", "fwhm_l_blue", "fwhm_l_red")
    stan_name = "gaussiansplitlaplace"
    cdf_kernel = staticmethod(_fn.gaussiansplitlaplace_cdf)
    pdf_kernel = staticmethod(_fn.gaussiansplitlaplace_pdf)
    window_sigmas = _EXPONENTIAL_WINDOW
    kernel_options = _EXACT
    stan_requires = ("special/exp_erfc.stan",)


def resolve_profile(profile: str | Profile) -> Profile:
    """A profile instance from an instance or a case-insensitive alias (``'gaussian'``…)."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, type) and issubclass(profile, Profile):
        return profile()
    if isinstance(profile, str):
        cls = PROFILES.get(profile)
        if cls is not None:
            return cls()
        raise ValueError(
            f"unknown profile {profile!r}; valid profiles are {PROFILES.names} "
            f"(aliases: {', '.join(PROFILES.aliases)})"
        )
    raise TypeError(
        f"profile={profile!r} ({type(profile).__name__}) must be a Profile instance or a profile "
        "name string"
    )


def profile_from_dict(d: dict) -> Profile:
    """Rebuild a profile from ``{'type': ClassName}``."""
    name = d.get("type") if isinstance(d, dict) else None
    if name not in PROFILES:
        raise ValueError(f"unknown profile type {name!r}; valid types are {PROFILES.names}")
    return PROFILES[name]()
