"""Numpy reference kernels of the eleven line profiles (spec §3.6, §3.7).

Every profile has a cumulative kernel ``<name>_cdf`` (used for the analytic pixel integration,
called with the LSF of each pixel edge) and a density kernel ``<name>_pdf`` (1 / wavelength; used
for the tau normalisation, convolution mode and diagnostics). They all read

    f(x, *, <slots>, lsf)

with ``x = λ − centre`` in wavelength units, every ``fwhm_*`` slot a FWHM in wavelength units
(already converted from km/s), ``lsf`` the LSF FWHM broadcastable with ``x``, and the
dimensionless slots (``h3``, ``h4``, ``alpha``) by name. Keyword names are the profiles' slot
names, so ``KERNELS[name].cdf(x, **slots, lsf=lsf)`` works for every profile. All arithmetic is
float64 and broadcasts over any leading shape.

These are the "numpy twin" of the Stan function chunks: the same formulas, written so that values
stay finite (and smooth where the spec's formulas are smooth) wherever a fit can go.

Numerics that differ from a literal reading of the spec (the mathematics is the same):

- Every ``exp(·)·erfc(·)`` product is evaluated through :func:`scipy.special.erfcx` on the side
  where the exponential would overflow, so none of them overflows or turns into ``inf·0``.
  The spec's overflow guards (``T_MAX``) are *kept* by default where they change values,
  because unite has them; pass ``t_max=np.inf`` for the exact, guard-free function
  (SEMG, Laplace, GaussianSplitLaplace).
- CDFs use ``erfc`` / ``expit`` / ``arctan2`` forms that keep relative precision in the lower
  tail (``½ erfc(−z)`` rather than ``½(1 + erf z)``) and BoxGauss uses its symmetry and a series
  for a box narrower than the Gaussian (the spec's ``[Q(x,h) − Q(x,−h)]/W_box`` cancels to 0/0).

Deliberate departures from unite, each because unite's value is not finite or jumps:

- Voigt and Laplace densities with a Gaussian width of exactly 0 (Cauchy or Laplace with
  ``lsf = 0``, i.e. convolution mode) return their exact limits (Lorentzian, Laplace) instead of
  NaN (§3.15).
- BoxGauss with ``fwhm_box = 0`` returns the Gaussian limit instead of 0/0.
- GaussianSplitLaplace's *density*: the spec writes its red term as the guarded ``J`` (zero where
  ``a(a − 2t) > T_MAX²``) and its blue term as the bare product. Here both terms are exact and the
  density falls back to the Gaussian where both ``a_r`` and ``a_b`` exceed ``t_max`` (SEMG's own
  rule), because the guarded ``J`` drops half the density at the centre once ``a_r > T_MAX``
  (Laplace wings narrower than ~1/60 of the Gaussian; all of it, so an infinite area tau, if the
  blue term is guarded too) and breaks the spec's statement that the profile reduces to SEMG when
  both sides are equal. Its *CDF* keeps the guard.
- SkewVoigt's empirical boost ``exp(log_boost)`` is capped smoothly at ``exp(LOG_BOOST_CAP)``:
  the boost diverges as the Gaussian width or ``alpha`` goes to 0 (``|alpha|^-0.347`` in the
  exponent), which overflows to ``alpha_eff = inf`` and NaN at the centre. Below
  ``log_boost ≈ LOG_BOOST_CAP − 37`` the cap changes nothing in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, erfcx, expit, owens_t

from unite_stan.constants import FWHM_TO_SIGMA, K_FWHM

__all__ = [
    "KERNELS",
    "LOG_BOOST_CAP",
    "TAU_NORMALISATION_LSF",
    "T_MAX",
    "ProfileKernels",
    "boxgauss_cdf",
    "boxgauss_pdf",
    "cauchy_cdf",
    "cauchy_pdf",
    "gaussian_cdf",
    "gaussian_pdf",
    "gausshermite_cdf",
    "gausshermite_pdf",
    "gaussiansplitlaplace_cdf",
    "gaussiansplitlaplace_pdf",
    "laplace_cdf",
    "laplace_pdf",
    "peak_density",
    "pseudovoigt_cdf",
    "pseudovoigt_pdf",
    "semg_cdf",
    "semg_pdf",
    "skewnormal_cdf",
    "skewnormal_pdf",
    "skewvoigt_cdf",
    "skewvoigt_pdf",
    "splitnormal_cdf",
    "splitnormal_pdf",
]

#: unite's exp·erfc overflow threshold in float64: floor(sqrt(ln(max float64))) = 26 (9 in float32)
T_MAX = float(math.floor(math.sqrt(math.log(np.finfo(np.float64).max))))
#: LSF FWHM that replaces the instrument's in the peak -> area tau conversion (spec §3.7)
TAU_NORMALISATION_LSF = 1e-10
#: smooth upper bound of SkewVoigt's log_boost (see the module docstring)
LOG_BOOST_CAP = 50.0

_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

# Ida, Ando & Toraya (2000) Table 1, coefficients of rho^0 ... rho^6 (spec §3.6.2)
_IDA_A = (0.66000, 0.15021, -1.24984, 4.74052, -9.48291, 8.48252, -2.95553)
_IDA_B = (-0.42179, -1.25693, 10.30003, -23.45651, 29.14158, -16.50453, 3.19974)
_IDA_C = (1.19913, 1.43021, -15.36331, 47.06071, -73.61822, 57.92559, -17.80614)
_IDA_D = (1.10186, -0.47745, -0.68688, 2.76622, -4.55466, 4.05475, -1.26571)
_IDA_F = (-0.30165, -1.38927, 9.31550, -24.10743, 34.96491, -21.18862, 3.70290)
_IDA_G = (0.25437, -0.14107, 3.23653, -11.09215, 22.10544, -24.12407, 9.76947)
_IDA_H = (1.01579, 1.50429, -9.21815, 23.59717, -39.71134, 32.83023, -10.02142)
# FWHM -> scale of the irrational (gamma_I) and squared-sech (gamma_P) components
_IRRATIONAL_SCALE = 1.0 / (2.0 * math.sqrt(2.0 ** (2.0 / 3.0) - 1.0))
_SECH2_SCALE = 1.0 / (2.0 * math.log1p(math.sqrt(2.0)))

# Thompson et al. (1987) Voigt FWHM, as the spec writes it (§3.6.10)
_THOMPSON_DELTA = 0.099 * _LN2
_THOMPSON_C1 = (1.0 + _THOMPSON_DELTA) / 2.0
_THOMPSON_C2 = ((1.0 - _THOMPSON_DELTA) / 2.0) ** 2

# BoxGauss switches to its Taylor series in the half-box h/sigma below this (times 1 + |u|):
# the next omitted term is below 2e-19 relative; the direct difference loses ~1e-13 at the switch
_BOX_SERIES = 2e-3


def _f64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, accurate relative to its value in the lower tail."""
    return 0.5 * erfc(-z / _SQRT2)


def _std_normal_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / _SQRT2PI


def _gaussian_fwhm_cdf(x: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """½[1 + erf(k x / F)] written as ½ erfc(−k x / F) (same value, no lower-tail cancellation)."""
    return 0.5 * erfc(-K_FWHM * x / fwhm)


def _faddeeva(z: np.ndarray) -> np.ndarray:
    """Faddeeva function w(z) = exp(−z²) erfc(−iz); the one place the implementation is chosen:
    :func:`unite_stan.special.faddeeva`, the same algorithm as the Stan programs'."""
    from unite_stan.special import faddeeva

    return faddeeva(z)


def _voigt(x: np.ndarray, sigma: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Voigt density Re w(z) / (σ √(2π)), z = (x + iγ) / (σ √2); the Lorentzian when σ = 0."""
    x, sigma, gamma = np.broadcast_arrays(_f64(x), _f64(sigma), _f64(gamma))
    positive = sigma > 0
    # a placeholder width where sigma = 0 keeps the unused branch free of 0/0
    s = np.where(positive, sigma, 1.0)
    voigt = _faddeeva((x + 1j * gamma) / (s * _SQRT2)).real / (s * _SQRT2PI)
    with np.errstate(divide="ignore", invalid="ignore"):
        lorentz = gamma / (np.pi * (x * x + gamma * gamma))
    return np.where(positive, voigt, lorentz)


def _exp_erfc(t: np.ndarray, a: np.ndarray, lam_x: np.ndarray) -> np.ndarray:
    """J(t, a) = exp(a(a − 2t)) erfc(a − t) for a ≥ 0, without overflow.

    ``lam_x`` is ``2 a t`` (= λ x) passed separately so that t = ±inf with a = 0 (a zero
    Gaussian width) gives the Laplace limit rather than 0·inf. Where a − t ≥ 0 the product is
    exp(−t²) erfcx(a − t); elsewhere t > a, so the exponent a² − λx is below −a² and the direct
    product cannot overflow. Each branch is fed arguments clipped to its own domain so neither
    overflows where it is discarded.
    """
    d = a - t
    inner = np.exp(-t * t) * erfcx(np.maximum(d, 0.0))
    outer = np.exp(np.minimum(a * a - lam_x, 0.0)) * erfc(d)
    return np.where(d >= 0.0, inner, outer)


# --- Gaussian ------------------------------------------------------------------------------------


def gaussian_cdf(x, *, fwhm_gauss, lsf) -> np.ndarray:
    """Gaussian CDF with the LSF added in quadrature (spec §3.6.1).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss : array_like
        Intrinsic FWHM (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x`` (wavelength units).

    Returns
    -------
    numpy.ndarray
        ``Φ_G(x)`` with ``G = sqrt(lsf² + fwhm_gauss²)``.
    """
    return _gaussian_fwhm_cdf(_f64(x), np.hypot(_f64(lsf), _f64(fwhm_gauss)))


def gaussian_pdf(x, *, fwhm_gauss, lsf) -> np.ndarray:
    """Gaussian density with the LSF added in quadrature (spec §3.6.1).

    Parameters
    ----------
    x, fwhm_gauss, lsf : array_like
        As in :func:`gaussian_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    sigma = np.hypot(_f64(lsf), _f64(fwhm_gauss)) * FWHM_TO_SIGMA
    return _std_normal_pdf(_f64(x) / sigma) / sigma


# --- PseudoVoigt and Cauchy ----------------------------------------------------------------------


def _ida_components(gauss_fwhm: np.ndarray, lorentz_fwhm: np.ndarray):
    """Total width W, component FWHMs and weights of Ida et al.'s extended pseudo-Voigt."""
    total = gauss_fwhm + lorentz_fwhm
    rho = lorentz_fwhm / total
    poly = np.polynomial.polynomial.polyval
    fwhm_g = total * (1.0 - rho * poly(rho, _IDA_A))
    fwhm_l = total * (1.0 - (1.0 - rho) * poly(rho, _IDA_B))
    fwhm_i = total * poly(rho, _IDA_C)
    fwhm_p = total * poly(rho, _IDA_D)
    eta_l = rho * (1.0 + (1.0 - rho) * poly(rho, _IDA_F))
    eta_i = rho * (1.0 - rho) * poly(rho, _IDA_G)
    eta_p = rho * (1.0 - rho) * poly(rho, _IDA_H)
    eta_g = 1.0 - eta_l - eta_i - eta_p
    return (fwhm_g, fwhm_l, fwhm_i, fwhm_p), (eta_g, eta_l, eta_i, eta_p)


def _ida_cdf(x: np.ndarray, gauss_fwhm: np.ndarray, lorentz_fwhm: np.ndarray) -> np.ndarray:
    """Extended pseudo-Voigt CDF for a Gaussian FWHM (LSF included) and a Lorentzian FWHM."""
    (fwhm_g, fwhm_l, fwhm_i, fwhm_p), (eta_g, eta_l, eta_i, eta_p) = _ida_components(
        gauss_fwhm, lorentz_fwhm
    )
    gauss = _gaussian_fwhm_cdf(x, fwhm_g)
    # ½ + arctan(y)/π = arctan2(1, −y)/π, which keeps its relative precision as y → −∞
    lorentz = np.arctan2(1.0, -2.0 * x / fwhm_l) / np.pi
    t = x / (fwhm_i * _IRRATIONAL_SCALE)
    root = np.hypot(1.0, t)
    # ½(1 + t/√(1+t²)) = ½ / (√(1+t²)(√(1+t²) − t)) for t < 0: no cancellation in the lower tail
    irrational = np.where(t < 0.0, 0.5 / (root * (root - np.minimum(t, 0.0))), 0.5 + 0.5 * t / root)
    # ½ + ½ tanh(y) = expit(2y)
    sech2 = expit(2.0 * x / (fwhm_p * _SECH2_SCALE))
    return eta_g * gauss + eta_l * lorentz + eta_i * irrational + eta_p * sech2


def _ida_pdf(x: np.ndarray, gauss_fwhm: np.ndarray, lorentz_fwhm: np.ndarray) -> np.ndarray:
    """Density of the extended pseudo-Voigt (the x-derivative of :func:`_ida_cdf`).

    Not unite's PseudoVoigt density (that is the exact Voigt); it checks the CDF.
    """
    (fwhm_g, fwhm_l, fwhm_i, fwhm_p), (eta_g, eta_l, eta_i, eta_p) = _ida_components(
        gauss_fwhm, lorentz_fwhm
    )
    sigma = fwhm_g * FWHM_TO_SIGMA
    gauss = _std_normal_pdf(x / sigma) / sigma
    half = 0.5 * fwhm_l
    lorentz = half / (np.pi * (x * x + half * half))
    gamma_i = fwhm_i * _IRRATIONAL_SCALE
    irrational = 0.5 / gamma_i * np.hypot(1.0, x / gamma_i) ** -3
    gamma_p = fwhm_p * _SECH2_SCALE
    e = np.exp(-2.0 * np.abs(x / gamma_p))
    sech2 = 2.0 / gamma_p * e / (1.0 + e) ** 2  # sech²(y) / 2, overflow-free
    return eta_g * gauss + eta_l * lorentz + eta_i * irrational + eta_p * sech2


def pseudovoigt_cdf(x, *, fwhm_gauss, fwhm_lorentz, lsf) -> np.ndarray:
    """Extended pseudo-Voigt CDF (Ida, Ando & Toraya 2000), spec §3.6.2.

    The LSF adds in quadrature to the Gaussian part only. The CDF is an approximation of the
    Voigt CDF (about 1e-3 absolute) with Lorentzian tails.

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss, fwhm_lorentz : array_like
        Intrinsic Gaussian and Lorentzian FWHMs (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    gauss = np.hypot(_f64(lsf), _f64(fwhm_gauss))
    return _ida_cdf(_f64(x), gauss, _f64(fwhm_lorentz))


def pseudovoigt_pdf(x, *, fwhm_gauss, fwhm_lorentz, lsf) -> np.ndarray:
    """Exact Voigt density of Gaussian ``sqrt(lsf² + fwhm_gauss²)`` ⊛ Lorentzian (spec §3.6.2).

    Parameters
    ----------
    x, fwhm_gauss, fwhm_lorentz, lsf : array_like
        As in :func:`pseudovoigt_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength (Lorentzian when the Gaussian width is 0).
    """
    sigma = np.hypot(_f64(lsf), _f64(fwhm_gauss)) * FWHM_TO_SIGMA
    return _voigt(_f64(x), sigma, 0.5 * _f64(fwhm_lorentz))


def cauchy_cdf(x, *, fwhm_lorentz, lsf) -> np.ndarray:
    """Cauchy CDF: :func:`pseudovoigt_cdf` with ``fwhm_gauss = 0`` (spec §3.6.3).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_lorentz : array_like
        Lorentzian FWHM (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x`` (the whole Gaussian part).

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    return pseudovoigt_cdf(x, fwhm_gauss=0.0, fwhm_lorentz=fwhm_lorentz, lsf=lsf)


def cauchy_pdf(x, *, fwhm_lorentz, lsf) -> np.ndarray:
    """Voigt density with the Gaussian part from the LSF only (spec §3.6.3).

    Parameters
    ----------
    x, fwhm_lorentz, lsf : array_like
        As in :func:`cauchy_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength; the Lorentzian when ``lsf = 0`` (unite gives NaN there).
    """
    return pseudovoigt_pdf(x, fwhm_gauss=0.0, fwhm_lorentz=fwhm_lorentz, lsf=lsf)


# --- SEMG and Laplace ----------------------------------------------------------------------------


def semg_cdf(x, *, fwhm_gauss, fwhm_exp, lsf, t_max=T_MAX) -> np.ndarray:
    """CDF of a Gaussian convolved with a symmetric Laplace (spec §3.6.4).

    ``Φ_G(x) + ¼ I(t, a)`` with ``G = sqrt(lsf² + fwhm_gauss²)``, ``s = G/k``, ``t = x/s``,
    ``a = s λ/2``, ``λ = 2 ln 2 / fwhm_exp``. unite's guards are kept: the first product of ``I``
    is 0 where ``|t| + a > t_max`` and the whole correction is 0 where ``a > t_max``.

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss : array_like
        Intrinsic Gaussian FWHM (wavelength units).
    fwhm_exp : array_like
        Laplace FWHM ``2 b ln 2`` (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.
    t_max : float, optional
        Guard threshold; ``np.inf`` gives the exact convolution.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    x = _f64(x)
    s = np.hypot(_f64(lsf), _f64(fwhm_gauss)) / K_FWHM
    lam = 2.0 * _LN2 / _f64(fwhm_exp)
    a = 0.5 * s * lam
    t = x / s
    abs_t, lam_abs_x = np.abs(t), lam * np.abs(x)
    near = _exp_erfc(-abs_t, a, -lam_abs_x)  # exp(a² + 2|t|a) erfc(|t| + a)
    far = _exp_erfc(abs_t, a, lam_abs_x)  # exp(a² − 2|t|a) erfc(a − |t|)
    near = np.where(abs_t + a > t_max, 0.0, near)
    correction = np.where(a > t_max, 0.0, 0.25 * np.sign(t) * (near - far))
    return 0.5 * erfc(-t) + correction


def semg_pdf(x, *, fwhm_gauss, fwhm_exp, lsf, t_max=T_MAX) -> np.ndarray:
    """Density of a Gaussian convolved with a symmetric Laplace (spec §3.6.4).

    The Gaussian density where ``a' = λσ/√2 > t_max`` (unite's rule); the Laplace density
    ``λ/2 exp(−λ|x|)`` when the Gaussian width is 0.

    Parameters
    ----------
    x, fwhm_gauss, fwhm_exp, lsf, t_max
        As in :func:`semg_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    x = _f64(x)
    sigma = np.hypot(_f64(lsf), _f64(fwhm_gauss)) * FWHM_TO_SIGMA
    lam = 2.0 * _LN2 / _f64(fwhm_exp)
    x, sigma, lam = np.broadcast_arrays(x, sigma, lam)
    positive = sigma > 0
    s = np.where(positive, sigma, 1.0)
    u = np.abs(x) / (s * _SQRT2)
    a = lam * s / _SQRT2
    lam_abs_x = lam * np.abs(x)
    convolved = 0.25 * lam * (_exp_erfc(-u, a, -lam_abs_x) + _exp_erfc(u, a, lam_abs_x))
    gauss = _std_normal_pdf(x / s) / s
    laplace = 0.5 * lam * np.exp(-lam_abs_x)
    return np.where(positive, np.where(a > t_max, gauss, convolved), laplace)


def laplace_cdf(x, *, fwhm_exp, lsf, t_max=T_MAX) -> np.ndarray:
    """Laplace CDF: :func:`semg_cdf` with ``fwhm_gauss = 0`` (the Gaussian is the LSF), §3.6.5.

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_exp : array_like
        Laplace FWHM ``2 b ln 2`` (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.
    t_max : float, optional
        Guard threshold; ``np.inf`` gives the exact convolution.

    Returns
    -------
    numpy.ndarray
        The cumulative profile (NaN at ``x = 0`` if ``lsf = 0``; the CDF path always has an LSF).
    """
    return semg_cdf(x, fwhm_gauss=0.0, fwhm_exp=fwhm_exp, lsf=lsf, t_max=t_max)


def laplace_pdf(x, *, fwhm_exp, lsf, t_max=T_MAX) -> np.ndarray:
    """Laplace density: :func:`semg_pdf` with ``fwhm_gauss = 0`` (spec §3.6.5).

    Parameters
    ----------
    x, fwhm_exp, lsf, t_max
        As in :func:`laplace_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength; the Laplace density itself when ``lsf = 0``.
    """
    return semg_pdf(x, fwhm_gauss=0.0, fwhm_exp=fwhm_exp, lsf=lsf, t_max=t_max)


# --- GaussianSplitLaplace ------------------------------------------------------------------------


def gaussiansplitlaplace_cdf(
    x, *, fwhm_gauss, fwhm_l_blue, fwhm_l_red, lsf, t_max=T_MAX
) -> np.ndarray:
    """CDF of a Gaussian convolved with an asymmetric Laplace (spec §3.6.6).

    ``Φ_G(x) − [W_r J(t, a_r) − W_b J(−t, a_b)] / (2(W_r + W_b))`` with
    ``J(t, a) = exp(a(a − 2t)) erfc(a − t)``, set to 0 where ``a(a − 2t) > t_max²`` (unite's
    guard).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss : array_like
        Intrinsic Gaussian FWHM (wavelength units).
    fwhm_l_blue, fwhm_l_red : array_like
        Laplace FWHMs of the blue (x < 0) and red sides (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.
    t_max : float, optional
        Guard threshold; ``np.inf`` gives the exact convolution.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    x = _f64(x)
    w_b, w_r = _f64(fwhm_l_blue), _f64(fwhm_l_red)
    s = np.hypot(_f64(lsf), _f64(fwhm_gauss)) / K_FWHM
    lam_r, lam_b = 2.0 * _LN2 / w_r, 2.0 * _LN2 / w_b
    a_r, a_b = 0.5 * s * lam_r, 0.5 * s * lam_b
    t = x / s
    red = _exp_erfc(t, a_r, lam_r * x)
    blue = _exp_erfc(-t, a_b, -lam_b * x)
    limit = t_max * t_max
    red = np.where(a_r * a_r - lam_r * x > limit, 0.0, red)
    blue = np.where(a_b * a_b + lam_b * x > limit, 0.0, blue)
    return 0.5 * erfc(-t) - (w_r * red - w_b * blue) / (2.0 * (w_r + w_b))


def gaussiansplitlaplace_pdf(
    x, *, fwhm_gauss, fwhm_l_blue, fwhm_l_red, lsf, t_max=T_MAX
) -> np.ndarray:
    """Density of a Gaussian convolved with an asymmetric Laplace (spec §3.6.6).

    ``λ_r λ_b / (2(λ_r + λ_b)) [J(t, a_r) + J(−t, a_b)]`` evaluated exactly; the Gaussian density
    where both ``a_r`` and ``a_b`` exceed ``t_max`` (SEMG's rule, so that equal sides give
    :func:`semg_pdf`); the asymmetric Laplace density when the Gaussian width is 0. The spec
    guards the red ``J`` here as in the CDF, which drops half the density at the centre for
    narrow Laplace wings; this kernel does not (see the module docstring).

    Parameters
    ----------
    x, fwhm_gauss, fwhm_l_blue, fwhm_l_red, lsf, t_max
        As in :func:`gaussiansplitlaplace_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    x = _f64(x)
    w_b, w_r = _f64(fwhm_l_blue), _f64(fwhm_l_red)
    sigma = np.hypot(_f64(lsf), _f64(fwhm_gauss)) * FWHM_TO_SIGMA
    x, sigma, w_b, w_r = np.broadcast_arrays(x, sigma, w_b, w_r)
    lam_r, lam_b = 2.0 * _LN2 / w_r, 2.0 * _LN2 / w_b
    # λ_r λ_b / (λ_r + λ_b) = 2 ln 2 / (W_r + W_b), finite for any widths
    weight = 2.0 * _LN2 / (w_r + w_b)
    positive = sigma > 0
    s = np.where(positive, sigma, 1.0)
    t = x / (s * _SQRT2)
    a_r, a_b = lam_r * s / _SQRT2, lam_b * s / _SQRT2
    convolved = 0.5 * weight * (_exp_erfc(t, a_r, lam_r * x) + _exp_erfc(-t, a_b, -lam_b * x))
    gauss = _std_normal_pdf(x / s) / s
    laplace = weight * np.exp(np.where(x > 0, -lam_r * x, lam_b * x))
    guarded = np.where(np.minimum(a_r, a_b) > t_max, gauss, convolved)
    return np.where(positive, guarded, laplace)


# --- GaussHermite --------------------------------------------------------------------------------


def _gauss_hermite_terms(x, fwhm_gauss, h3, h4, lsf):
    fwhm_gauss = _f64(fwhm_gauss)
    total = np.hypot(_f64(lsf), fwhm_gauss)
    r = fwhm_gauss / total
    c3 = _f64(h3) * r**3 / math.sqrt(6.0)
    c4 = _f64(h4) * r**4 / math.sqrt(24.0)
    sigma = total * FWHM_TO_SIGMA
    return _f64(x) / sigma, sigma, c3, c4


def gausshermite_cdf(x, *, fwhm_gauss, h3, h4, lsf) -> np.ndarray:
    """Gauss-Hermite CDF (spec §3.6.7).

    ``Φ(y) − φ(y)[c3 (y² − 1) + c4 (y³ − 3y)]``, ``y = x/σ_tot``, where ``c3 = h3 r³/√6``,
    ``c4 = h4 r⁴/√24`` and ``r = fwhm_gauss / sqrt(lsf² + fwhm_gauss²)``: ``h3``, ``h4`` describe
    the intrinsic profile and the LSF convolution rescales them by ``r^m``. Not monotone where the
    density is negative (large ``|h3|``, ``|h4|``).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss : array_like
        FWHM of the intrinsic Gaussian (wavelength units).
    h3, h4 : array_like
        Intrinsic Gauss-Hermite coefficients (dimensionless).
    lsf : array_like
        LSF FWHM at each ``x``.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    y, _, c3, c4 = _gauss_hermite_terms(x, fwhm_gauss, h3, h4, lsf)
    return _phi(y) - _std_normal_pdf(y) * (c3 * (y * y - 1.0) + c4 * y * (y * y - 3.0))


def gausshermite_pdf(x, *, fwhm_gauss, h3, h4, lsf) -> np.ndarray:
    """Gauss-Hermite density ``φ_N(x; σ_tot)[1 + c3 He3(y) + c4 He4(y)]`` (spec §3.6.7).

    Parameters
    ----------
    x, fwhm_gauss, h3, h4, lsf : array_like
        As in :func:`gausshermite_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength (negative where the series is).
    """
    y, sigma, c3, c4 = _gauss_hermite_terms(x, fwhm_gauss, h3, h4, lsf)
    y2 = y * y
    series = 1.0 + c3 * y * (y2 - 3.0) + c4 * (y2 * (y2 - 6.0) + 3.0)
    return _std_normal_pdf(y) / sigma * series


# --- SplitNormal ---------------------------------------------------------------------------------


def splitnormal_cdf(x, *, fwhm_blue, fwhm_red, lsf) -> np.ndarray:
    """Split-normal CDF, the LSF added in quadrature to each side (spec §3.6.8).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_blue, fwhm_red : array_like
        FWHMs of the Gaussians of the blue (x ≤ 0) and red sides (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.

    Returns
    -------
    numpy.ndarray
        ``w_b (1 + erf(kx/B))`` for ``x ≤ 0``, ``w_b + w_r erf(kx/R)`` above, with
        ``w_b = B/(B + R)``.
    """
    x, lsf = _f64(x), _f64(lsf)
    blue, red = np.hypot(lsf, _f64(fwhm_blue)), np.hypot(lsf, _f64(fwhm_red))
    w_b = blue / (blue + red)
    lower = w_b * erfc(-K_FWHM * np.minimum(x, 0.0) / blue)
    upper = 1.0 - (1.0 - w_b) * erfc(K_FWHM * np.maximum(x, 0.0) / red)
    return np.where(x <= 0.0, lower, upper)


def splitnormal_pdf(x, *, fwhm_blue, fwhm_red, lsf) -> np.ndarray:
    """Split-normal density ``exp(−x²/2σ_side²) / ((σ_b + σ_r) √(π/2))`` (spec §3.6.8).

    Parameters
    ----------
    x, fwhm_blue, fwhm_red, lsf : array_like
        As in :func:`splitnormal_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    x, lsf = _f64(x), _f64(lsf)
    sigma_b = np.hypot(lsf, _f64(fwhm_blue)) * FWHM_TO_SIGMA
    sigma_r = np.hypot(lsf, _f64(fwhm_red)) * FWHM_TO_SIGMA
    side = np.where(x <= 0.0, sigma_b, sigma_r)
    return np.exp(-0.5 * (x / side) ** 2) / ((sigma_b + sigma_r) * math.sqrt(0.5 * math.pi))


# --- SkewNormal ----------------------------------------------------------------------------------


def _skewnormal_terms(x, fwhm_gauss, alpha, lsf):
    fwhm_gauss, alpha, lsf = _f64(fwhm_gauss), _f64(alpha), _f64(lsf)
    sigma = np.hypot(lsf, fwhm_gauss) * FWHM_TO_SIGMA
    # the skewness parameter of the skew normal that a Gaussian LSF convolution produces
    alpha_eff = alpha * fwhm_gauss / np.sqrt(fwhm_gauss**2 + (1.0 + alpha**2) * lsf**2)
    return _f64(x) / sigma, sigma, alpha_eff


def skewnormal_cdf(x, *, fwhm_gauss, alpha, lsf) -> np.ndarray:
    """Skew-normal CDF ``Φ(z) − 2 T(z, α_eff)`` with Owen's T (spec §3.6.9).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss : array_like
        FWHM of the intrinsic skew normal's Gaussian (wavelength units).
    alpha : array_like
        Intrinsic skewness; positive shifts flux redward.
    lsf : array_like
        LSF FWHM at each ``x``; ``α_eff = α W / sqrt(W² + (1 + α²) L²)``.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    z, _, alpha_eff = _skewnormal_terms(x, fwhm_gauss, alpha, lsf)
    return _phi(z) - 2.0 * owens_t(z, alpha_eff)


def skewnormal_pdf(x, *, fwhm_gauss, alpha, lsf) -> np.ndarray:
    """Skew-normal density ``φ_N(x; σ_tot)[1 + erf(α_eff z/√2)]`` (spec §3.6.9).

    Parameters
    ----------
    x, fwhm_gauss, alpha, lsf : array_like
        As in :func:`skewnormal_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    z, sigma, alpha_eff = _skewnormal_terms(x, fwhm_gauss, alpha, lsf)
    return _std_normal_pdf(z) / sigma * erfc(-alpha_eff * z / _SQRT2)


# --- SkewVoigt -----------------------------------------------------------------------------------


def _thompson_fwhm(gauss_fwhm, lorentz_fwhm):
    """Voigt FWHM from its Gaussian and Lorentzian FWHMs (Thompson et al. 1987)."""
    return _THOMPSON_C1 * lorentz_fwhm + np.sqrt(_THOMPSON_C2 * lorentz_fwhm**2 + gauss_fwhm**2)


def _skewvoigt_log_boost(alpha, fwhm_gauss, fwhm_lorentz, lsf):
    """unite's empirical log of the skew boost (spec §3.6.10), uncapped."""
    sigma_l, sigma_g, gamma = lsf * FWHM_TO_SIGMA, fwhm_gauss * FWHM_TO_SIGMA, 0.5 * fwhm_lorentz
    ell = gamma / (sigma_g + 1e-30)
    eta = sigma_l / (sigma_g + 1e-30)
    xi = ell / (eta + 1e-30)
    abs_alpha = np.where(alpha == 0.0, 1.0, np.abs(alpha))
    return 0.27045 * xi**0.53872 * eta**1.0461 / (1.0 + 1.1286 * xi**1.7778) / abs_alpha**0.34693


def _skewvoigt_alpha(alpha, fwhm_gauss, fwhm_lorentz, lsf):
    """The skew factor's ``α_eff`` and scale ``w0`` for an LSF FWHM ``lsf`` (spec §3.6.10)."""
    alpha, fwhm_gauss, fwhm_lorentz, lsf = map(_f64, (alpha, fwhm_gauss, fwhm_lorentz, lsf))
    w0 = _thompson_fwhm(np.hypot(lsf, fwhm_gauss), fwhm_lorentz) / K_FWHM
    w0_int = _thompson_fwhm(fwhm_gauss, fwhm_lorentz) / K_FWHM
    sigma_l = lsf * FWHM_TO_SIGMA
    alpha_gauss = alpha * w0_int / np.sqrt(w0**2 + 2.0 * alpha**2 * sigma_l**2)
    log_boost = _skewvoigt_log_boost(alpha, fwhm_gauss, fwhm_lorentz, lsf)
    # smooth min(log_boost, LOG_BOOST_CAP) = −log(e^−b + e^−cap): exact to the last bit below
    # cap − 37, finite (and differentiable) above
    log_boost = -np.logaddexp(-log_boost, -LOG_BOOST_CAP)
    return alpha_gauss * np.exp(log_boost), w0


def _interp_at_centre(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.interp(0, x, values)`` along the last axis (clamped at the ends), keeping that axis."""
    x, values = np.broadcast_arrays(x, values)
    n = x.shape[-1]
    k = np.clip(np.sum(x <= 0.0, axis=-1, keepdims=True) - 1, 0, n - 2)
    x0, x1 = np.take_along_axis(x, k, -1), np.take_along_axis(x, k + 1, -1)
    v0, v1 = np.take_along_axis(values, k, -1), np.take_along_axis(values, k + 1, -1)
    span = x1 - x0
    frac = np.clip(np.divide(-x0, span, out=np.zeros_like(span), where=span > 0), 0.0, 1.0)
    return v0 + frac * (v1 - v0)


def skewvoigt_cdf(x, *, fwhm_gauss, fwhm_lorentz, alpha, lsf) -> np.ndarray:
    """SkewVoigt cumulative profile over an array of pixel edges (spec §3.6.10).

    Unlike the other CDFs this is built pixel by pixel and only makes sense on the edges of a
    spectrum: ``p_i = [C(x_{i+1}) − C(x_i)] [1 + erf(α_eff m_i / w0)]`` with ``C`` the
    extended pseudo-Voigt CDF (per-edge LSF) and ``m_i`` the pixel midpoint; the result is
    ``(0, cumsum p)``, so pixel differences are ``p_i``. ``α_eff`` and ``w0`` use one LSF value,
    the edge LSF interpolated linearly at the centre (clamped to the end values). The total is
    only approximately 1.

    Parameters
    ----------
    x : array_like, shape (..., E)
        Pixel edges minus the line centre, increasing along the last axis (E ≥ 2).
    fwhm_gauss, fwhm_lorentz : array_like
        Intrinsic Gaussian and Lorentzian FWHMs; broadcastable with ``x[..., :1]``.
    alpha : array_like
        Skewness; broadcastable with ``x[..., :1]``.
    lsf : array_like
        LSF FWHM at each edge.

    Returns
    -------
    numpy.ndarray, shape (..., E)
        The cumulative profile, 0 at the first edge.
    """
    x, lsf = _f64(x), _f64(lsf)
    fwhm_gauss = _f64(fwhm_gauss)
    lsf_centre = _interp_at_centre(x, lsf)
    alpha_eff, w0 = _skewvoigt_alpha(alpha, fwhm_gauss, fwhm_lorentz, lsf_centre)
    cdf = _ida_cdf(x, np.hypot(lsf, fwhm_gauss), _f64(fwhm_lorentz))
    mid = 0.5 * (x[..., 1:] + x[..., :-1])
    p = np.diff(cdf, axis=-1) * erfc(-alpha_eff * mid / w0)
    zero = np.zeros(p.shape[:-1] + (1,))
    return np.concatenate([zero, np.cumsum(p, axis=-1)], axis=-1)


def skewvoigt_pdf(x, *, fwhm_gauss, fwhm_lorentz, alpha, lsf) -> np.ndarray:
    """SkewVoigt density: exact Voigt × ``[1 + erf(α_eff x / w0)]`` (spec §3.6.10).

    ``α_eff`` and ``w0`` use the LSF at the point. Normalised only approximately.

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_gauss, fwhm_lorentz : array_like
        Intrinsic Gaussian and Lorentzian FWHMs (wavelength units).
    alpha : array_like
        Skewness.
    lsf : array_like
        LSF FWHM at each ``x``.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength.
    """
    x, lsf, fwhm_gauss, fwhm_lorentz = map(_f64, (x, lsf, fwhm_gauss, fwhm_lorentz))
    alpha_eff, w0 = _skewvoigt_alpha(alpha, fwhm_gauss, fwhm_lorentz, lsf)
    voigt = _voigt(x, np.hypot(lsf, fwhm_gauss) * FWHM_TO_SIGMA, 0.5 * fwhm_lorentz)
    return voigt * erfc(-alpha_eff * x / w0)


# --- BoxGauss ------------------------------------------------------------------------------------


def _boxgauss_terms(x, fwhm_box, fwhm_gauss, lsf):
    """``u = −|x|/σ`` (the profile is even), the half-box in σ and the series mask."""
    sigma = np.hypot(_f64(lsf), _f64(fwhm_gauss)) * FWHM_TO_SIGMA
    u = -np.abs(_f64(x)) / sigma
    delta = 0.5 * _f64(fwhm_box) / sigma
    return u, delta, sigma, delta * (1.0 + np.abs(u)) < _BOX_SERIES


def boxgauss_cdf(x, *, fwhm_box, fwhm_gauss, lsf) -> np.ndarray:
    """CDF of a boxcar convolved with a Gaussian (spec §3.6.11).

    ``[Q(x, h) − Q(x, −h)] / W_box`` with ``Q(z, a) = (z + a)Φ((z + a)/σ) + σφ((z + a)/σ)``,
    evaluated at ``−|x|`` and reflected (``C(x) = 1 − C(−x)``) so the upper tail does not cancel,
    and through its Taylor series in ``h/σ`` when the box is much narrower than the Gaussian (the
    Gaussian CDF at ``fwhm_box = 0``).

    Parameters
    ----------
    x : array_like
        Offset from the line centre (wavelength units).
    fwhm_box : array_like
        Full width of the boxcar (wavelength units).
    fwhm_gauss : array_like
        Intrinsic Gaussian FWHM (wavelength units).
    lsf : array_like
        LSF FWHM at each ``x``.

    Returns
    -------
    numpy.ndarray
        The cumulative profile.
    """
    u, delta, _, series = _boxgauss_terms(x, fwhm_box, fwhm_gauss, lsf)

    def integral_of_phi(v):  # ∫_{-∞}^{v} Φ = vΦ(v) + φ(v), i.e. Q / σ
        return v * _phi(v) + _std_normal_pdf(v)

    with np.errstate(divide="ignore", invalid="ignore"):
        direct = (integral_of_phi(u + delta) - integral_of_phi(u - delta)) / (2.0 * delta)
    d2 = delta * delta
    taylor = _phi(u) - _std_normal_pdf(u) * (d2 / 6.0 * u + d2 * d2 / 120.0 * u * (u * u - 3.0))
    lower = np.where(series, taylor, direct)
    return np.where(_f64(x) <= 0.0, lower, 1.0 - lower)


def boxgauss_pdf(x, *, fwhm_box, fwhm_gauss, lsf) -> np.ndarray:
    """Boxcar ⊛ Gaussian density ``[Φ((x + h)/σ) − Φ((x − h)/σ)] / W_box`` (spec §3.6.11).

    Parameters
    ----------
    x, fwhm_box, fwhm_gauss, lsf : array_like
        As in :func:`boxgauss_cdf`.

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength (the Gaussian density at ``fwhm_box = 0``).
    """
    u, delta, sigma, series = _boxgauss_terms(x, fwhm_box, fwhm_gauss, lsf)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = (_phi(u + delta) - _phi(u - delta)) / (2.0 * delta * sigma)
    d2, u2 = delta * delta, u * u
    factor = 1.0 + d2 / 6.0 * (u2 - 1.0) + d2 * d2 / 120.0 * (u2 * (u2 - 6.0) + 3.0)
    taylor = _std_normal_pdf(u) / sigma * factor
    return np.where(series, taylor, direct)


# --- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileKernels:
    """The numpy kernels of one profile.

    Attributes
    ----------
    cdf, pdf : callable
        ``cdf(x, **slots, lsf=...)`` and ``pdf(x, **slots, lsf=...)``.
    slots : tuple of str
        Keyword names of the profile's parameters, in the profile's slot order.
    edge_cumulative : bool
        True when ``cdf`` is only defined over an increasing array of pixel edges (SkewVoigt):
        it returns a cumulative that starts at 0, not a CDF.
    """

    cdf: Callable[..., np.ndarray]
    pdf: Callable[..., np.ndarray]
    slots: tuple[str, ...]
    edge_cumulative: bool = False


class _Kernels(Mapping):
    """The numpy twins of every registered profile (``line.library.PROFILES``), by class name,
    in unite's code order: each class names its own kernels, so a new profile needs no entry
    here."""

    def _classes(self) -> dict:
        from unite_stan.line.library import PROFILES

        return {cls.__name__: cls for cls in sorted(PROFILES, key=lambda c: c.code)}

    def __getitem__(self, name: str) -> ProfileKernels:
        return self._classes()[name].kernels()

    def __iter__(self):
        return iter(self._classes())

    def __len__(self) -> int:
        return len(self._classes())


#: kernels of every profile, keyed by the profile class name of the spec (§2.3)
KERNELS: Mapping[str, ProfileKernels] = _Kernels()


def peak_density(profile: str, **params) -> np.ndarray:
    """Intrinsic density at the line centre, ``φ^int(c)``, for the peak -> area tau (spec §3.7).

    The profile's PDF at ``x = 0`` with the LSF replaced by :data:`TAU_NORMALISATION_LSF`
    (for a Gaussian ``1/(σ_int √(2π))``); for asymmetric profiles this is the value at the
    nominal centre, not the maximum.

    Parameters
    ----------
    profile : str
        Profile class name, a key of :data:`KERNELS`.
    **params : array_like
        The profile's slots (widths in wavelength units).

    Returns
    -------
    numpy.ndarray
        Density in 1 / wavelength; ``τ̃ = τ0 / peak_density``.
    """
    if profile not in KERNELS:
        raise ValueError(f"unknown profile {profile!r}; valid profiles are {sorted(KERNELS)}")
    return KERNELS[profile].pdf(0.0, **params, lsf=TAU_NORMALISATION_LSF)
