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
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy.special import comb

from unite_stan._registry import Registry
from unite_stan.constants import C_KMS, FWHM_TO_SIGMA
from unite_stan.prior import Fixed, Prior, Uniform, literal_value

__all__ = [
    "FORMS",
    "AttenuatedBlackbody",
    "BSpline",
    "Bernstein",
    "Blackbody",
    "Chebyshev",
    "ContinuumForm",
    "DLAPowerLaw",
    "Legendre",
    "Linear",
    "ModifiedBlackbody",
    "Polynomial",
    "PowerLaw",
    "Template",
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
        if not isinstance(prior, Uniform):
            return 0.0
        low, high = literal_value(prior.low), literal_value(prior.high)
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

    #: the constructor's arguments, kept as attributes of the same names: they make the
    #: form's dict, equality, hash and repr
    init_args: tuple[str, ...] = ()

    def _args(self) -> dict:
        return {name: getattr(self, name) for name in self.init_args}

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, **self._args()}

    @classmethod
    def from_dict(cls, d: Mapping) -> ContinuumForm:
        """The form :meth:`to_dict` describes (its constructor's arguments)."""
        return cls(**{k: v for k, v in d.items() if k != "type"})

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._args() == other._args()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._args().values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


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

    init_args = ("degree",)

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


# --------------------------------------------------------------------------------------------
# helpers shared by several forms
# --------------------------------------------------------------------------------------------


def _wl_unit(wl_unit) -> u.UnitBase:
    """The unit of the wavelengths a form is given (Å when None)."""
    return u.AA if wl_unit is None else u.Unit(wl_unit)


def _factor(wl_unit, target: u.UnitBase) -> float:
    """Multiply a wavelength in ``wl_unit`` (Å when None) by this to have it in ``target``."""
    return float((1.0 * _wl_unit(wl_unit)).to_value(target))


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: must be an integer >= {minimum}")
    return int(value)


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}={value!r}: must be a number")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r}: must be finite and > 0")
    return float(value)


def _horner(coeffs: list, x):
    """``Σ_k coeffs[k] x^k`` (Horner; the chunks' ``poly_at``)."""
    out = coeffs[-1] * np.ones_like(x)
    for c in coeffs[-2::-1]:
        out = out * x + c
    return out


def _horner_integral(coeffs: list, x):
    """``Σ_k coeffs[k] x^(k+1) / (k+1)`` (Horner; the chunks' ``poly_integral``)."""
    m = len(coeffs)
    out = coeffs[-1] / m * np.ones_like(x)
    for k in range(m - 2, -1, -1):
        out = out * x + coeffs[k] / (k + 1)
    return out * x


def _combine(matrix: np.ndarray, coeffs: list) -> list:
    """``matrix @ coeffs`` for a list of (possibly array) coefficients."""
    return [sum(matrix[k, i] * c for i, c in enumerate(coeffs)) for k in range(matrix.shape[0])]


def _monomial_matrix(kind: str, n: int) -> np.ndarray:
    """Column ``i``: the power-series coefficients of basis polynomial ``i`` of ``kind``
    (``'chebyshev'`` T_i, ``'legendre'`` P_i, ``'bernstein'`` C(n, i) t^i (1 - t)^(n - i)),
    ``i = 0..n``."""
    from numpy.polynomial import chebyshev, legendre

    out = np.zeros((n + 1, n + 1))
    for i in range(n + 1):
        if kind == "bernstein":
            for k in range(i, n + 1):
                out[k, i] = (
                    comb(n, i, exact=True) * comb(n - i, k - i, exact=True) * (-1) ** (k - i)
                )
            continue
        unit = np.zeros(i + 1)
        unit[i] = 1.0
        series = (chebyshev.cheb2poly if kind == "chebyshev" else legendre.leg2poly)(unit)
        out[: series.size, i] = series
    return out


class _BasisPolynomial(ContinuumForm):
    """A series ``Σ_i c_i φ_i(s)`` of polynomials in the normalised wavelength
    ``s = (λ − origin) / length`` (``_frame``), convolved with the region's Gaussian LSF (FWHM
    ``L_r / length`` in ``s``) and integrated exactly: the series is turned into a power series
    (``_monomial_matrix``, a constant of the region), whose Gaussian convolution is
    :meth:`Polynomial.convolved_coefficients`.

    ``_series(params)`` gives the coefficients ``c_i`` and the amplitude the normalised series
    is multiplied by; with ``normalised`` the value is divided by the unconvolved series at
    ``s(norm_wav)``. Constants: ``[origin, length, matrix (column-major)]``.
    """

    uses_lsf = True
    stan_requires = ("special/polynomial.stan",)
    basis: str
    normalised: bool = True

    def _frame(self, obs_low: float, obs_high: float) -> tuple[float, float]:
        raise NotImplementedError

    def _degree(self) -> int:
        raise NotImplementedError

    def _series(self, params) -> tuple[list, object]:
        raise NotImplementedError

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        origin, length = self._frame(obs_low, obs_high)
        matrix = _monomial_matrix(self.basis, self._degree())
        return np.concatenate([[origin, length], matrix.ravel(order="F")])

    def _power_series(self, params, obs_low, obs_high, norm_wav, lsf_fwhm):
        origin, length = self._frame(obs_low, obs_high)
        coeffs, amplitude = self._series(params)
        a = _combine(_monomial_matrix(self.basis, self._degree()), coeffs)
        sigma = 0.0 if lsf_fwhm is None else FWHM_TO_SIGMA * np.asarray(lsf_fwhm) / length
        b = Polynomial.convolved_coefficients(a, sigma)
        if self.normalised:
            amplitude = amplitude / _horner(a, (np.asarray(norm_wav) - origin) / length)
        return b, amplitude, origin, length

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
        b, amplitude, origin, length = self._power_series(
            params, obs_low, obs_high, norm_wav, lsf_fwhm
        )
        return amplitude * _horner(b, (np.asarray(wavelength) - origin) / length)

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
        b, amplitude, origin, length = self._power_series(
            params, obs_low, obs_high, norm_wav, lsf_fwhm
        )
        return amplitude * length * _horner_integral(b, (np.asarray(wavelength) - origin) / length)


class Chebyshev(_BasisPolynomial):
    """``f = scale·S̃(u)/S(u_nw)``, ``S(u) = T_0 + Σ c_i T_i(u)``,
    ``u = (λ − λ_c)/(hw·stretch)`` (observed centre and half-width of the region).

    ``S̃`` is ``S`` convolved with the region's LSF. The normaliser ``S(u_nw)`` is the series
    itself wherever ``u_nw`` lies (unite evaluates it as ``cos(n acos u)``, NaN outside
    [−1, 1]).
    """

    init_args = ("order", "stretch")

    stan_name = "chebyshev"
    basis = "chebyshev"

    def __init__(self, order: int = 2, stretch: float = 1.0):
        self.order = _count("Chebyshev order", order, 0)
        self.stretch = _positive("Chebyshev stretch", stretch)

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        return [cls(), cls(0), cls(4, stretch=0.7)]

    def param_names(self) -> list[str]:
        return ["scale", *(f"c{i}" for i in range(1, self.order + 1)), "norm_wav"]

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out.update({f"c{i}": (True, u.Unit(flux_unit)) for i in range(1, self.order + 1)})
        return out

    def _frame(self, obs_low, obs_high):
        return 0.5 * (obs_low + obs_high), 0.5 * (obs_high - obs_low) * self.stretch

    def _degree(self) -> int:
        return self.order

    def _series(self, params):
        coeffs = [1.0, *(params[f"c{i}"] for i in range(1, self.order + 1))]
        return coeffs, params["scale"]


class Legendre(_BasisPolynomial):
    """``f = Σ_{i=0..order} p_i P_i(u)``, ``p_0 = scale`` (the mean over the region),
    ``u = (λ − λ_c)/hw``; no ``norm_wav``. Linear in its slots."""

    init_args = ("order",)

    stan_name = "legendre"
    basis = "legendre"
    normalised = False
    least_squares = {}

    def __init__(self, order: int = 2):
        self.order = _count("Legendre order", order, 0)

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        return [cls(), cls(0), cls(5)]

    def param_names(self) -> list[str]:
        return ["scale", *(f"p{i}" for i in range(1, self.order + 1))]

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out.update({f"p{i}": (True, u.Unit(flux_unit)) for i in range(1, self.order + 1)})
        return out

    def _frame(self, obs_low, obs_high):
        return 0.5 * (obs_low + obs_high), 0.5 * (obs_high - obs_low)

    def _degree(self) -> int:
        return self.order

    def _series(self, params):
        coeffs = [params["scale"], *(params[f"p{i}"] for i in range(1, self.order + 1))]
        return coeffs, 1.0


class Bernstein(_BasisPolynomial):
    """``f = scale·B̃(t)/B(t_nw)``, ``B(t) = Σ_{i=0..n} b_i C(n, i) t^i (1 − t)^(n − i)``,
    ``b_0 = 1``, ``b_i = coeff_i``, ``t = (u + 1)/2``, ``u`` as in :class:`Chebyshev`."""

    init_args = ("degree", "stretch")

    stan_name = "bernstein"
    basis = "bernstein"

    def __init__(self, degree: int = 4, stretch: float = 1.0):
        self.degree = _count("Bernstein degree", degree, 0)
        self.stretch = _positive("Bernstein stretch", stretch)

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        return [cls(), cls(1), cls(6, stretch=1.3)]

    def param_names(self) -> list[str]:
        return ["scale", *(f"coeff_{i}" for i in range(1, self.degree + 1)), "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(0.0, 10.0)

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out.update({f"coeff_{i}": (True, u.Unit(flux_unit)) for i in range(1, self.degree + 1)})
        return out

    def fit_start(self, slot: str, flux: np.ndarray) -> float:
        # every b_i = 1: the basis sums to one, a flat start
        return super().fit_start(slot, flux) if slot == "scale" else 1.0

    def _frame(self, obs_low, obs_high):
        half = 0.5 * (obs_high - obs_low) * self.stretch
        return 0.5 * (obs_low + obs_high) - half, 2.0 * half

    def _degree(self) -> int:
        return self.degree

    def _series(self, params):
        coeffs = [1.0, *(params[f"coeff_{i}"] for i in range(1, self.degree + 1))]
        return coeffs, params["scale"]


def _bspline_sum(s, coeffs: list, knots: np.ndarray):
    """``Σ_i coeffs[i] B_i(s)``: B-spline basis on ``knots`` by Cox–de Boor, ``s`` clipped to
    ``[knots[0], knots[-1] − 1e−14]`` (the chunk's ``bspline_sum``)."""
    t = np.asarray(knots, dtype=float)
    nt, nb = t.size, len(coeffs)
    v = np.clip(s, t[0], t[-1] - 1e-14)
    b = [np.where((t[i] <= v) & (v < t[i + 1]), 1.0, 0.0) for i in range(nt - 1)]
    for k in range(1, nt - nb):
        for i in range(nt - 1 - k):
            left = (v - t[i]) / (t[i + k] - t[i]) * b[i] if t[i + k] > t[i] else 0.0
            right = (
                (t[i + k + 1] - v) / (t[i + k + 1] - t[i + 1]) * b[i + 1]
                if t[i + k + 1] > t[i + 1]
                else 0.0
            )
            b[i] = left + right
    total = 0.0
    for i in range(nb):
        total = total + coeffs[i] * b[i]
    return total


class BSpline(ContinuumForm):
    """``f = scale·S(u)/S(u_nw)``, ``S = Σ_i c_i B_i(u)`` (``c_0 = 1``, ``c_i = coeff_i``),
    ``u = (λ − λ_c)/hw`` over the observed region.

    The knot vector is the region's bounds, each repeated ``degree + 1`` times, around
    ``knots`` (rest frame, strictly inside the region); the knots are taken to the observed
    frame in the wavelengths' unit (``knots·(1 + z_sys)``) before they are mapped to ``u``
    (unite maps the rest-frame values in the region's unit with the observed bounds, which is
    right only at ``z_sys = 0`` with the region unit canonical). No LSF; midpoint rule.
    Constants: ``[λ_c, hw, knot vector in u]``.
    """

    stan_name = "bspline"
    midpoint_rule = True
    stan_requires = ("special/midpoint.stan",)

    def __init__(self, knots: u.Quantity, degree: int = 3):
        if not isinstance(knots, u.Quantity):
            raise TypeError(
                f"BSpline knots={knots!r} must be a length Quantity (e.g. [6500, 6600] * u.AA)"
            )
        knots.to(u.AA)  # UnitConversionError for non-length units
        values = np.atleast_1d(np.asarray(knots.value, dtype=float))
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(
                f"BSpline knots={knots!r} must be a non-empty 1-D array of finite values"
            )
        self.knots = np.sort(values) * knots.unit
        self.degree = _count("BSpline degree", degree, 0)

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        return [
            cls([6480.0, 6530.0, 6620.0] * u.AA),
            cls([6500.0, 6600.0] * u.AA, degree=1),
            cls([652.0] * u.nm, degree=2),
        ]

    @property
    def n_basis(self) -> int:
        return self.knots.size + self.degree + 1

    def param_names(self) -> list[str]:
        return ["scale", *(f"coeff_{i}" for i in range(1, self.n_basis)), "norm_wav"]

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out.update({f"coeff_{i}": (True, u.Unit(flux_unit)) for i in range(1, self.n_basis)})
        return out

    def fit_start(self, slot: str, flux: np.ndarray) -> float:
        # every c_i = 1: the basis sums to one, a flat start (at 0 the normaliser may vanish)
        return super().fit_start(slot, flux) if slot == "scale" else 1.0

    def _prepare(self, low: float, high: float, unit=None) -> None:
        unit = _wl_unit(unit)
        for knot in self.knots.to_value(unit):
            if not low < knot < high:
                raise ValueError(
                    f"BSpline knot {knot:g} {unit} lies outside the region ({low:g}, {high:g}) "
                    f"{unit}: knots must lie strictly inside the region"
                )

    def _knot_frame(self, obs_low, obs_high, wl_unit, z_sys) -> tuple[float, float, np.ndarray]:
        centre, half = 0.5 * (obs_low + obs_high), 0.5 * (obs_high - obs_low)
        inner = (self.knots.to_value(_wl_unit(wl_unit)) * (1.0 + z_sys) - centre) / half
        ends = np.ones(self.degree + 1)
        return centre, half, np.concatenate([-ends, inner, ends])

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        centre, half, knots = self._knot_frame(obs_low, obs_high, wl_unit, z_sys)
        return np.concatenate([[centre, half], knots])

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
        centre, half, knots = self._knot_frame(obs_low, obs_high, wl_unit, z_sys)
        coeffs = [1.0, *(params[f"coeff_{i}"] for i in range(1, self.n_basis))]
        norm = _bspline_sum((np.asarray(norm_wav) - centre) / half, coeffs, knots)
        value = _bspline_sum((np.asarray(wavelength) - centre) / half, coeffs, knots)
        return params["scale"] / norm * value

    def antiderivative(self, wavelength, params, **kwargs):
        return self._midpoint_antiderivative(wavelength, params, **kwargs)

    #: keys of the form's dict besides its constructor's arguments
    dict_extra_keys = ("unit",)

    def to_dict(self) -> dict:
        return {
            "type": "BSpline",
            "knots": [float(k) for k in self.knots.value],
            "unit": self.knots.unit.to_string(),
            "degree": self.degree,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> BSpline:
        knots = d["knots"]
        if not isinstance(knots, u.Quantity):
            knots = np.asarray(knots, dtype=float) * u.Unit(d.get("unit", "Angstrom"))
        return cls(knots, degree=d.get("degree", 3))

    def __eq__(self, other) -> bool:
        return (
            type(self) is type(other)
            and self.degree == other.degree
            and self.knots.unit == other.knots.unit
            and np.array_equal(self.knots.value, other.knots.value)
        )

    def __hash__(self) -> int:
        return hash(("BSpline", self.degree, self.knots.unit.to_string(), *self.knots.value))

    def __repr__(self) -> str:
        return f"BSpline(knots={self.knots!r}, degree={self.degree})"


#: h c / k_B in µm K, from astropy's constants (unite's 14387.7688 is it rounded: 1.7e-9)
HC_OVER_K_UM_K = 14387.768775039336


class Blackbody(ContinuumForm):
    """``f = scale·B_λ(λ_r, T)/B_λ(nw_r, T)`` at the rest-frame wavelengths
    ``λ_r = λ/(1 + z_sys)`` (µm, converted from the wavelengths' unit), so ``temperature`` is
    the source's rest-frame temperature.

    unite evaluates the Planck function at observed wavelengths with a unit factor taken from
    the region's unit; its temperature is ``T_rest/(1 + z)``. Computed as
    ``(nw/λ)^5 e^(a − b) expm1(−a)/expm1(−b)``, ``a = hc/(k T nw)``, ``b = hc/(k T λ)``, which
    is finite where the exponentials overflow. No LSF; midpoint rule. Constants:
    ``[µm per wavelength unit / (1 + z_sys), hc/k in µm K]``.
    """

    stan_name = "blackbody"
    midpoint_rule = True
    stan_requires = ("special/midpoint.stan", "special/planck.stan")

    def param_names(self) -> list[str]:
        return ["scale", "temperature", "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(100.0, 50000.0)

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out["temperature"] = (False, u.K)
        return out

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        return np.array([_factor(wl_unit, u.um) / (1.0 + z_sys), HC_OVER_K_UM_K])

    @staticmethod
    def planck_ratio(lam, nw, temperature):
        """``B_λ(lam, T)/B_λ(nw, T)``, wavelengths in µm (the chunk's ``planck_ratio``)."""
        x = HC_OVER_K_UM_K / np.asarray(temperature)
        a, b = x / nw, x / lam
        with np.errstate(over="ignore", invalid="ignore"):  # T <= 0 (a fit's trial step)
            return (nw / lam) ** 5 * np.exp(a - b) * (np.expm1(-a) / np.expm1(-b))

    def _shape(self, lam, nw, params):
        """The factor multiplying the Planck ratio (rest-frame µm)."""
        return 1.0

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
        rest = self.stan_constants(obs_low=obs_low, obs_high=obs_high, wl_unit=wl_unit, z_sys=z_sys)
        lam, nw = rest[0] * np.asarray(wavelength), rest[0] * np.asarray(norm_wav)
        ratio = self.planck_ratio(lam, nw, params["temperature"])
        return params["scale"] * (ratio * self._shape(lam, nw, params))

    def antiderivative(self, wavelength, params, **kwargs):
        return self._midpoint_antiderivative(wavelength, params, **kwargs)


class ModifiedBlackbody(Blackbody):
    """:class:`Blackbody` × ``(λ/nw)^beta``."""

    stan_name = "modifiedblackbody"

    def param_names(self) -> list[str]:
        return ["scale", "temperature", "beta", "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        return Uniform(-4.0, 4.0) if slot == "beta" else super()._shape_prior(slot)

    def _shape(self, lam, nw, params):
        return (lam / nw) ** params["beta"]


class AttenuatedBlackbody(Blackbody):
    """:class:`Blackbody` × ``exp(−tau_v [(λ/λ_ext)^alpha − (nw/λ_ext)^alpha])``, rest-frame
    wavelengths (``lambda_ext``, default 5500 Å, is a rest-frame wavelength).

    Constants: the Blackbody's and ``λ_ext`` in µm.
    """

    stan_name = "attenuatedblackbody"

    def __init__(self, lambda_ext: u.Quantity = 5500.0 * u.AA):
        if not isinstance(lambda_ext, u.Quantity):
            raise TypeError(
                f"AttenuatedBlackbody lambda_ext={lambda_ext!r} must be a length Quantity "
                "(e.g. 5500 * u.AA)"
            )
        value = float(lambda_ext.to_value(u.um))
        if not (np.isscalar(lambda_ext.value) and math.isfinite(value) and value > 0):
            raise ValueError(f"AttenuatedBlackbody lambda_ext={lambda_ext!r} must be > 0")
        self.lambda_ext = lambda_ext

    def param_names(self) -> list[str]:
        return ["scale", "temperature", "tau_v", "alpha", "norm_wav"]

    def _shape_prior(self, slot: str) -> Prior:
        if slot == "tau_v":
            return Uniform(0.0, 5.0)
        if slot == "alpha":
            return Uniform(-2.0, 0.0)
        return super()._shape_prior(slot)

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        rest = super().stan_constants(
            obs_low=obs_low, obs_high=obs_high, wl_unit=wl_unit, z_sys=z_sys
        )
        return np.append(rest, self.lambda_ext.to_value(u.um))

    def _shape(self, lam, nw, params):
        ext = float(self.lambda_ext.to_value(u.um))
        alpha = params["alpha"]
        return np.exp(-params["tau_v"] * ((lam / ext) ** alpha - (nw / ext) ** alpha))

    dict_extra_keys = ("lambda_ext_unit",)

    def to_dict(self) -> dict:
        # a float and its unit (unite stores the Quantity, which safe YAML cannot hold)
        return {
            "type": "AttenuatedBlackbody",
            "lambda_ext": float(self.lambda_ext.value),
            "lambda_ext_unit": self.lambda_ext.unit.to_string(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> AttenuatedBlackbody:
        value = d.get("lambda_ext", 5500.0)
        if not isinstance(value, u.Quantity):
            value = float(value) * u.Unit(d.get("lambda_ext_unit", "Angstrom"))
        return cls(value)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and math.isclose(
            self.lambda_ext.to_value(u.AA), other.lambda_ext.to_value(u.AA), rel_tol=1e-15
        )

    def __hash__(self) -> int:
        return hash(("AttenuatedBlackbody", round(float(self.lambda_ext.to_value(u.AA)), 9)))

    def __repr__(self) -> str:
        return f"AttenuatedBlackbody(lambda_ext={self.lambda_ext!r})"


class DLAPowerLaw(ContinuumForm):
    """``f = scale·(λ/nw)^beta·T(λ_r)``: a power law behind a damped Lyman-α absorber at
    ``λ_r = λ/(1 + z_sys + redshift)`` (Å; ``redshift`` is an offset from ``z_sys`` and may
    share a line's ``Redshift`` token).

    ``T = 0`` for ``λ_r ≤ 1215.67 Å``, else ``exp(−N_HI σ(λ_r))``, ``N_HI = 10^log_NHI``,
    ``σ = K λ_Lyα[km]/b H(a, x)``, ``x = c(1215.67 − λ_r)/(λ_r b)``,
    ``a = A_Lyα λ_Lyα[km]/(4π b)``, ``H(a, x) = Re w(x + i a)`` (:mod:`unite_stan.special`).
    The Å factor is that of the wavelengths' unit (unite: the region's). No LSF; midpoint
    rule. Constants: ``[Å per wavelength unit, z_sys, 1215.67, c (km/s), A_Lyα, K,
    λ_Lyα[km]]``.
    """

    stan_name = "dlapowerlaw"
    midpoint_rule = True
    stan_requires = ("special/midpoint.stan", "special/faddeeva.stan")
    #: Lyman α: rest wavelength (Å), Einstein A (1/s), K = f e² / (4 √π ε0 m_e c) (cm²/s;
    #: from astropy's constants with f = 0.41641: unite's 6.23517e-3 is this rounded, which
    #: moved the DLA's transmission by 6.5e-7 τ against unite's own tables) and the wavelength
    #: in km
    LYA_AA, LYA_A, LYA_K, LYA_KM = 1215.67, 6.2649e8, 6.235174049339231e-3, 1.21567e-10

    def param_names(self) -> list[str]:
        return ["scale", "beta", "norm_wav", "log_NHI", "b", "redshift"]

    def _shape_prior(self, slot: str) -> Prior:
        return {
            "beta": Uniform(-3.0, 0.0),
            "log_NHI": Uniform(17.0, 22.0),
            "b": Uniform(10.0, 200.0),
            "redshift": Uniform(-0.05, 0.05),
        }[slot]

    def param_units(self, flux_unit, wl_unit):
        out = super().param_units(flux_unit, wl_unit)
        out["b"] = (False, u.km / u.s)
        return out

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        return np.array(
            [
                _factor(wl_unit, u.AA),
                float(z_sys),
                self.LYA_AA,
                C_KMS,
                self.LYA_A,
                self.LYA_K,
                self.LYA_KM,
            ]
        )

    def transmission(self, lam_rest, log_nhi, b):
        """``T`` at rest-frame wavelengths in Å (the chunk's)."""
        from unite_stan.special import voigt_hjerting

        b = np.asarray(b, dtype=float)
        valid = b > 0  # NaN elsewhere (a fit's trial step), where H(a, x) is not defined
        b = np.where(valid, b, 1.0)
        a = self.LYA_A * self.LYA_KM / (4 * np.pi * b)
        x = C_KMS * (self.LYA_AA - lam_rest) / (lam_rest * b)
        h = voigt_hjerting(a, x)
        with np.errstate(over="ignore", invalid="ignore"):
            depth = 10.0 ** np.asarray(log_nhi) * self.LYA_K * self.LYA_KM / b
            out = np.where(lam_rest > self.LYA_AA, 1.0, 0.0) * np.exp(-depth * h)
        return np.where(valid, out, np.nan)

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
        wl = np.asarray(wavelength, dtype=float)
        lam = _factor(wl_unit, u.AA) * wl / (1 + z_sys + np.asarray(params["redshift"]))
        trans = self.transmission(lam, params["log_NHI"], params["b"])
        return params["scale"] * ((wl / norm_wav) ** params["beta"] * trans)

    def antiderivative(self, wavelength, params, **kwargs):
        return self._midpoint_antiderivative(wavelength, params, **kwargs)


_F_LAMBDA = u.erg / u.s / u.cm**2 / u.AA


def _read_table(path):
    from astropy.io.registry import IORegistryError
    from astropy.table import Table

    try:
        return Table.read(path)
    except IORegistryError:  # astropy cannot tell the format from the name: plain text
        return Table.read(path, format="ascii")


_EXAMPLES_FOLDER: list[Path] = []


def _examples_folder() -> Path:
    """The process's temporary folder for :meth:`Template.contract_examples`, made once and
    removed at exit (the contract test builds the examples many times)."""
    if not _EXAMPLES_FOLDER:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="unite_stan_template_"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _EXAMPLES_FOLDER.append(folder)
    return _EXAMPLES_FOLDER[0]


class Template(ContinuumForm):
    """``F = Σ_cols scale_col·T_col(λ_r)/T_col(nw_r)``: the columns of a template file at the
    rest-frame wavelengths ``λ_r = λ/(1 + z_sys)``, interpolated linearly and clamped at the
    template's ends.

    The file is read with astropy's ``Table.read``; its wavelength column is the one column
    with a length unit (or ``wavelength_colname``; Å when it has no unit), the flux columns
    ``usecols`` (default: every other column), one ``{col}_scale`` slot each. Wavelengths must
    increase strictly and cover each region; NaN or infinite values are rejected. No LSF;
    midpoint rule; linear in its slots. Constants: ``[1/(1 + z_sys)``, the template's
    wavelengths in the wavelengths' unit, each column's values``]``.
    """

    stan_name = "template"
    midpoint_rule = True
    least_squares = {}
    stan_requires = ("special/midpoint.stan", "special/interp.stan")

    def __init__(self, path, *, wavelength_colname: str | None = None, usecols=None):
        self.path = os.fspath(path)
        self.wavelength_colname = wavelength_colname
        self.usecols = (
            None if usecols is None else [usecols] if isinstance(usecols, str) else list(usecols)
        )
        table = _read_table(self.path)
        names = list(table.colnames)
        if wavelength_colname is not None:
            if wavelength_colname not in names:
                raise ValueError(
                    f"Template {self.path}: no column {wavelength_colname!r}; columns are {names}"
                )
            wave_name = wavelength_colname
        else:
            lengths = [
                n
                for n in names
                if table[n].unit is not None and table[n].unit.physical_type == "length"
            ]
            if len(lengths) != 1:
                raise ValueError(
                    f"Template {self.path}: {len(lengths)} columns with a length unit "
                    f"({lengths}); name the wavelength column with wavelength_colname"
                )
            wave_name = lengths[0]
        unit = table[wave_name].unit
        if unit is None:
            warnings.warn(
                f"Template {self.path}: wavelength column {wave_name!r} has no unit; taken as Å",
                UserWarning,
                stacklevel=2,
            )
            unit = u.AA
        columns = self.usecols if self.usecols is not None else [n for n in names if n != wave_name]
        missing = [c for c in columns if c not in names or c == wave_name]
        if missing or not columns:
            raise ValueError(
                f"Template {self.path}: flux columns {missing or columns} are not among the "
                f"columns {names} besides the wavelength {wave_name!r}"
            )
        for name in [wave_name, *columns]:
            values = np.asarray(table[name], dtype=float)
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    f"Template {self.path}: column {name!r} holds NaN or infinite values"
                )
        wave = np.asarray(table[wave_name], dtype=float)
        if wave.size < 2 or np.any(np.diff(wave) <= 0):
            raise ValueError(
                f"Template {self.path}: the wavelengths of column {wave_name!r} must increase "
                "strictly (at least two rows)"
            )
        for name in columns:
            col_unit = table[name].unit
            if col_unit is None or not col_unit.is_equivalent(_F_LAMBDA):
                warnings.warn(
                    f"Template {self.path}: column {name!r} has unit {col_unit}, not a flux "
                    "density per wavelength (f_λ); its scale multiplies it as it is",
                    UserWarning,
                    stacklevel=2,
                )
        self.wavelength = wave * unit
        self.columns = list(columns)
        self.flux = {name: np.asarray(table[name], dtype=float) for name in columns}

    @classmethod
    def contract_examples(cls) -> list[ContinuumForm]:
        """Two small templates written to a temporary folder: two f_λ columns in Å, and one
        in µm. The folder is one per process and removed when the process exits."""
        folder = _examples_folder()
        wave = np.linspace(6301.3, 6797.9, 41)  # no node at the contract test's norm_wav
        stars = 1 + 0.3 * np.sin(wave / 37.0)
        gas = np.exp(-(((wave - 6550.0) / 90.0) ** 2)) + 0.2
        rows = "\n".join(
            f"{w:.6f} {a:.12g} {b:.12g}" for w, a, b in zip(wave, stars, gas, strict=True)
        )
        (folder / "two.ecsv").write_text(
            "# %ECSV 1.0\n# ---\n# datatype:\n"
            "# - {name: wave, unit: Angstrom, datatype: float64}\n"
            "# - {name: stars, unit: erg / (Angstrom s cm2), datatype: float64}\n"
            "# - {name: gas, unit: erg / (Angstrom s cm2), datatype: float64}\n"
            f"wave stars gas\n{rows}\n"
        )
        rows = "\n".join(f"{w / 1e4:.7f} {(w / 6500.0) ** -1.5:.12g}" for w in wave)
        (folder / "one.ecsv").write_text(
            "# %ECSV 1.0\n# ---\n# datatype:\n"
            "# - {name: lam, unit: micron, datatype: float64}\n"
            "# - {name: flam, unit: erg / (Angstrom s cm2), datatype: float64}\n"
            f"lam flam\n{rows}\n"
        )
        return [cls(folder / "two.ecsv"), cls(folder / "one.ecsv")]

    def param_names(self) -> list[str]:
        return [*(f"{c}_scale" for c in self.columns), "norm_wav"]

    def _prepare(self, low: float, high: float, unit=None) -> None:
        wave = self.wavelength.to_value(_wl_unit(unit))
        if not (wave[0] <= low and high <= wave[-1]):
            raise ValueError(
                f"Template {self.path} covers {wave[0]:g}-{wave[-1]:g} {_wl_unit(unit)} (rest "
                f"frame), not the whole region [{low:g}, {high:g}] {_wl_unit(unit)}"
            )

    def stan_constants(self, *, obs_low, obs_high, wl_unit=None, z_sys=0.0):
        wave = self.wavelength.to_value(_wl_unit(wl_unit))
        return np.concatenate([[1.0 / (1.0 + z_sys)], wave, *(self.flux[c] for c in self.columns)])

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
        rest = 1.0 / (1.0 + z_sys)
        wave = self.wavelength.to_value(_wl_unit(wl_unit))
        lam, nw = rest * np.asarray(wavelength), rest * np.asarray(norm_wav)
        total = 0.0
        for c in self.columns:
            norm = np.interp(nw, wave, self.flux[c])
            total = total + params[f"{c}_scale"] / norm * np.interp(lam, wave, self.flux[c])
        return total

    def antiderivative(self, wavelength, params, **kwargs):
        return self._midpoint_antiderivative(wavelength, params, **kwargs)

    def to_dict(self) -> dict:
        # the optional arguments only when given, as unite writes them
        d = {"type": "Template", "path": self.path}
        if self.wavelength_colname is not None:
            d["wavelength_colname"] = self.wavelength_colname
        if self.usecols is not None:
            d["usecols"] = list(self.usecols)
        return d

    def _key(self) -> tuple:
        return (
            self.path,
            self.wavelength_colname,
            None if self.usecols is None else tuple(self.usecols),
        )

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("Template", *self._key()))

    def __repr__(self) -> str:
        extra = "".join(
            f", {k}={v!r}"
            for k, v in (("wavelength_colname", self.wavelength_colname), ("usecols", self.usecols))
            if v is not None
        )
        return f"Template({self.path!r}{extra})"


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
    return FORMS[kind].from_dict(d)
