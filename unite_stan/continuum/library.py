"""Continuum forms: one class per form, enrolled in :data:`FORMS` as it is defined.

A form class owns everything about it: its slots, default priors and units, its numpy value
and antiderivative (tables, scale estimates), the name of its Stan chunk
``templates/continua/<stan_name>.stan`` (the same antiderivative, in the likelihood), whether
that needs the region's LSF width, the sampling coordinate of any slot that is not sampled on
the logistic scale (Linear's ``angle`` as its slope), whether the likelihood may sum the
region's continuum-only pixels through sufficient statistics (an affine form), and how a
linear least-squares coefficient maps back to a slot. Every form is evaluated on observed-frame
wavelengths in canonical units; values are in units of ``Spectra.continuum_scale``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

import astropy.units as u
import numpy as np
from scipy.special import comb

from unite_stan._registry import Registry
from unite_stan.constants import FWHM_TO_SIGMA
from unite_stan.prior import Fixed, Prior, Uniform

__all__ = [
    "FORMS",
    "ContinuumForm",
    "Linear",
    "Polynomial",
    "PowerLaw",
    "form_from_dict",
    "get_form",
]

#: Every concrete continuum form class, by class name.
FORMS = Registry("continuum form")


class ContinuumForm(ABC):
    """Base class of continuum forms; a concrete subclass is enrolled in :data:`FORMS`.

    Subclasses set ``stan_name``: the chunk ``templates/continua/<stan_name>.stan``, whose
    ``<stan_name>_antideriv(x, par, nw, lsf_fwhm, consts)`` is the antiderivative at the edges
    ``x`` given the slots other than ``norm_wav`` in order (``par``), the observed ``norm_wav``,
    the region's LSF FWHM and the region's constants (``consts``: :meth:`stan_constants`, the
    numbers the form needs that are not slots, which reach the program as data).

    Every method evaluating the form takes the region's observed bounds ``obs_low`` and
    ``obs_high``, the unit of the wavelengths it is given (``wl_unit``, Å when None) and the
    systemic redshift ``z_sys``; most forms need only some of them.
    """

    stan_name: str
    #: shared chunks (paths relative to the templates folder) the form's chunk calls
    stan_requires: tuple[str, ...] = ()
    #: no closed-form antiderivative: the antiderivative at edges is the midpoint rule's
    #: cumulative sum of value(midpoint) × width, so a pixel's average is its midpoint value
    midpoint_rule: bool = False
    #: whether the pixel-averaged value needs the region's LSF width
    uses_lsf: bool = False
    #: the sampling coordinate of a slot sampled otherwise than on the logistic scale, where
    #: its prior allows it (``'slope'``: a ``Uniform(-pi/2, pi/2)`` angle sampled as its tan)
    slot_coordinates: Mapping[str, str] = {}
    #: the chunk also has ``<stan_name>_affine(par, nw, centre)``, the value at ``centre`` and
    #: the slope of a form that is affine in the wavelength, so the likelihood may sum the
    #: region's continuum-only pixels through their sufficient statistics
    affine: bool = False
    #: forms linear in their slots (but ``norm_wav``): the map from the least-squares
    #: coefficient of a slot's design column (the form with that slot at 1, the others at 0)
    #: back to the slot's value (identity when absent); ``None``: solved by Gauss-Newton
    least_squares: Mapping[str, Callable[[float], float]] | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        FORMS.add(cls)

    @classmethod
    def chunk(cls) -> str:
        """Path of the class's Stan chunk, relative to the templates folder."""
        return f"continua/{cls.stan_name}.stan"

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        """Instances the contract test (``tests/test_component_contract.py``) checks."""
        return [cls()]

    @abstractmethod
    def param_names(self) -> list[str]:
        """Slot names in order (``'scale'`` first; ``'norm_wav'`` where the form has one)."""

    @property
    def n_params(self) -> int:
        return len(self.param_names())

    def default_prior(self, slot: str, center: float) -> Prior:
        """Default prior of a slot; ``center`` is the region centre (rest frame, region unit)."""
        if slot == "scale" or slot.endswith("_scale"):
            return Uniform(0.0, 2.0)
        if slot == "norm_wav":
            return Fixed(float(center))
        return self._shape_prior(slot)

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(-10.0, 10.0)

    def param_units(self, flux_unit, wl_unit) -> dict[str, tuple[bool, u.UnitBase]]:
        """Per slot: (multiplied by continuum_scale in results, unit)."""
        out = {}
        for slot in self.param_names():
            if slot == "scale" or slot.endswith("_scale"):
                out[slot] = (True, u.Unit(flux_unit))
            elif slot == "norm_wav":
                out[slot] = (False, u.Unit(wl_unit))
            else:
                out[slot] = (False, u.dimensionless_unscaled)
        return out

    @abstractmethod
    def evaluate(
        self,
        wavelength: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        obs_low: float,
        obs_high: float,
        norm_wav: float,
        lsf_fwhm: float | np.ndarray | None = None,
        wl_unit=None,
        z_sys: float = 0.0,
    ) -> np.ndarray:
        """Pointwise value at observed wavelengths (LSF-convolved where the form uses it).

        Parameter values may be arrays (one per posterior draw) broadcasting against
        ``wavelength``.
        """

    @abstractmethod
    def antiderivative(
        self,
        wavelength: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        obs_low: float,
        obs_high: float,
        norm_wav: float,
        lsf_fwhm: float | np.ndarray | None = None,
        wl_unit=None,
        z_sys: float = 0.0,
    ) -> np.ndarray:
        """Antiderivative ``P(λ)`` such that the pixel average is ``ΔP/Δλ``."""

    def stan_constants(
        self, *, obs_low: float, obs_high: float, wl_unit=None, z_sys: float = 0.0
    ) -> np.ndarray:
        """The region's numbers the Stan chunk needs besides the slots (its ``consts``
        argument), a 1-D float array; data, so changing them never recompiles. None by
        default."""
        return np.zeros(0)

    def fit_start(self, slot: str, flux: np.ndarray) -> float:
        """Gauss-Newton's start for ``slot`` (:func:`~unite_stan.continuum.fit.fit_continuum_form`):
        ``median |flux|`` for amplitudes, 5000 K for a temperature, 0 for the others (unite's
        starts), or the middle of the default prior where 0 lies outside it."""
        if slot == "scale" or slot.endswith("_scale"):
            return float(np.median(np.abs(flux)))
        if slot == "temperature":
            return 5000.0
        prior = self.default_prior(slot, 1.0)
        low, high = getattr(prior, "low", None), getattr(prior, "high", None)
        try:
            low, high = float(low.value), float(high.value)
        except (AttributeError, TypeError, ValueError):
            return 0.0
        return 0.0 if low <= 0.0 <= high else 0.5 * (low + high)

    def _midpoint_antiderivative(self, wavelength, params, **kwargs) -> np.ndarray:
        """The midpoint rule's antiderivative along the last axis of ``wavelength``: 0 at the
        first edge, then the cumulative sum of value(midpoint) × width."""
        x = np.asarray(wavelength, dtype=float)
        if x.ndim == 0 or x.shape[-1] < 2:
            return np.zeros(np.broadcast_shapes(x.shape, *map(np.shape, params.values())))
        mid = 0.5 * (x[..., 1:] + x[..., :-1])
        area = self.evaluate(mid, params, **kwargs) * np.diff(x, axis=-1)
        zero = np.zeros((*area.shape[:-1], 1))
        return np.concatenate([zero, np.cumsum(area, axis=-1)], axis=-1)

    def _prepare(self, low: float, high: float, unit=None) -> None:  # noqa: B027 - optional hook
        """Hook called by ``ContinuumRegion`` with the region's rest-frame bounds in its unit
        (forms with knots or templates check them here)."""

    def to_dict(self) -> dict:
        return {"type": type(self).__name__}

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(ContinuumForm):
    """``f(λ) = scale + tan(angle)·(λ − norm_wav)``; the slope is ``tan(angle)`` per unit."""

    stan_name = "linear"
    slot_coordinates = {"angle": "slope"}
    affine = True
    # the design column of ``angle`` is tan(1)·(λ − nw): a coefficient c means tan(angle) = c·tan(1)
    least_squares = {"angle": lambda c: math.atan(c * math.tan(1.0))}

    def param_names(self) -> list[str]:
        return ["scale", "angle", "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(-math.pi / 2, math.pi / 2)

    def evaluate(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        return params["scale"] + np.tan(params["angle"]) * (wavelength - norm_wav)

    def antiderivative(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        x = wavelength - norm_wav
        return params["scale"] * x + 0.5 * np.tan(params["angle"]) * x * x


class Polynomial(ContinuumForm):
    """``f(λ) = scale + Σ c_i (λ − norm_wav)^i``, convolved with the region's Gaussian LSF."""

    stan_name = "polynomial"
    uses_lsf = True
    least_squares = {}

    def __init__(self, degree: int = 1):
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
            raise ValueError(f"Polynomial(degree={degree!r}): degree must be an integer >= 0")
        self.degree = int(degree)

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        return [cls(0), cls(1), cls(3)]

    def param_names(self) -> list[str]:
        return ["scale", *(f"c{i}" for i in range(1, self.degree + 1)), "norm_wav"]

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        for i in range(1, self.degree + 1):
            out[f"c{i}"] = (True, u.Unit(flux_unit) / u.Unit(wl_unit) ** i)
        return out

    def _coefficients(self, params) -> list:
        return [params["scale"], *(params[f"c{i}"] for i in range(1, self.degree + 1))]

    @staticmethod
    def convolved_coefficients(coeffs: list, sigma) -> list:
        """Coefficients of ``Σ a_n x^n`` convolved with a Gaussian of standard deviation sigma.

        ``x^n → Σ_j C(n, 2j) (2j − 1)!! σ^{2j} x^{n − 2j}``.
        """
        out = [0.0 * coeffs[0]] * len(coeffs)
        for n, a in enumerate(coeffs):
            for j in range(n // 2 + 1):
                dfact = math.prod(range(2 * j - 1, 0, -2)) if j else 1
                out[n - 2 * j] = out[n - 2 * j] + a * comb(n, 2 * j) * dfact * sigma ** (2 * j)
        return out

    def evaluate(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        sigma = 0.0 if lsf_fwhm is None else np.asarray(lsf_fwhm) * FWHM_TO_SIGMA
        b = self.convolved_coefficients(self._coefficients(params), sigma)
        x = wavelength - norm_wav
        return sum(bn * x**n for n, bn in enumerate(b))

    def antiderivative(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        sigma = 0.0 if lsf_fwhm is None else np.asarray(lsf_fwhm) * FWHM_TO_SIGMA
        b = self.convolved_coefficients(self._coefficients(params), sigma)
        x = wavelength - norm_wav
        return sum(bn * x ** (n + 1) / (n + 1) for n, bn in enumerate(b))

    def to_dict(self) -> dict:
        return {"type": "Polynomial", "degree": self.degree}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.degree == other.degree

    def __hash__(self) -> int:
        return hash(("Polynomial", self.degree))

    def __repr__(self) -> str:
        return f"Polynomial(degree={self.degree})"


class PowerLaw(ContinuumForm):
    """``f(λ) = scale·(λ / norm_wav)^beta``."""

    stan_name = "powerlaw"

    def param_names(self) -> list[str]:
        return ["scale", "beta", "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(-5.0, 5.0)

    def evaluate(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        return params["scale"] * (wavelength / norm_wav) ** params["beta"]

    def antiderivative(
        self,
        wavelength,
        params,
        *,
        obs_low,
        obs_high,
        norm_wav,
        lsf_fwhm=None,
        wl_unit=None,
        z_sys=0.0,
    ):
        beta = np.asarray(params["beta"], dtype=float)
        scale = params["scale"]
        ratio = wavelength / norm_wav
        near_log = np.abs(beta + 1.0) < 1e-10
        safe = np.where(near_log, 0.0, beta + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            power = (
                norm_wav
                * ratio ** np.where(near_log, 1.0, beta + 1.0)
                / np.where(near_log, 1.0, safe)
            )
        return scale * np.where(near_log, norm_wav * np.log(ratio), power)


def get_form(name_or_form: str | ContinuumForm, **kwargs) -> ContinuumForm:
    """A form instance from an instance or its registered class name (case-sensitive)."""
    if isinstance(name_or_form, ContinuumForm):
        return name_or_form
    if isinstance(name_or_form, str) and name_or_form in FORMS:
        return FORMS[name_or_form](**kwargs)
    raise ValueError(f"unknown continuum form {name_or_form!r}; valid forms are {FORMS.names}")


def form_from_dict(d: Mapping) -> ContinuumForm:
    """Rebuild a form from :meth:`ContinuumForm.to_dict` output."""
    kind = d.get("type") if isinstance(d, Mapping) else None
    if kind not in FORMS:
        raise ValueError(f"unknown continuum form type {kind!r}; valid types are {FORMS.names}")
    kwargs = {k: v for k, v in d.items() if k != "type"}
    return FORMS[kind](**kwargs)
