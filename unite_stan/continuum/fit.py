"""Weighted least-squares fit of one continuum form to data, used to estimate scales.

Forms linear in their parameters (``ContinuumForm.least_squares``: Linear, Polynomial) are
solved directly; every other form by Gauss–Newton iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from unite_stan.continuum.library import ContinuumForm

__all__ = ["ContinuumFitResult", "fit_continuum_form"]

_MAX_ITER = 30
_STEP_RTOL = 1e-8
_MAX_HALVINGS = 20


@dataclass
class ContinuumFitResult:
    """Outcome of :func:`fit_continuum_form`.

    Attributes
    ----------
    model : numpy.ndarray
        The fitted form at the input wavelengths.
    params : dict
        Slot → fitted value (``norm_wav`` included with the value used).
    chi2_red : float or None
        χ² per degree of freedom; None when ``dof <= 0``.
    dof : int
        Number of data points minus fitted slots (``norm_wav`` is not fitted).
    """

    model: np.ndarray
    params: dict[str, float]
    chi2_red: float | None
    dof: int


def _solve(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least squares with unit-norm columns: raw flux units make column scales differ by >1e16."""
    norms = np.linalg.norm(design, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    coef, *_ = np.linalg.lstsq(design / norms, target, rcond=None)
    return coef / norms


def fit_continuum_form(
    form: ContinuumForm,
    wavelength,
    flux,
    error,
    center: float,
    obs_low: float,
    obs_high: float,
    norm_wav: float | None = None,
    *,
    wl_unit=None,
    z_sys: float = 0.0,
) -> ContinuumFitResult:
    """Fit ``form`` to ``flux ± error`` at observed ``wavelength`` by weighted least squares.

    Parameters
    ----------
    form : ContinuumForm
        The continuum form; its ``evaluate`` is called pointwise without LSF.
    wavelength, flux, error : array_like
        Data (one wavelength unit throughout; flux in any unit, the fitted amplitudes come out
        in the same unit). ``error`` must be positive.
    center : float
        Observed region centre, the default ``norm_wav``.
    obs_low, obs_high : float
        Observed region bounds (passed to forms that use them).
    norm_wav : float, optional
        Normalisation wavelength; defaults to ``center``.
    wl_unit : astropy unit, optional
        Unit of the wavelengths (Å when None), for forms with physical wavelengths
        (blackbodies, DLAPowerLaw, BSpline knots, Template).
    z_sys : float, optional
        Systemic redshift (forms evaluated in the rest frame; default 0).

    Returns
    -------
    ContinuumFitResult

    Raises
    ------
    ValueError
        If the inputs have different lengths, an error is not positive, or the fit produces
        non-finite values.
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    y = np.asarray(flux, dtype=np.float64)
    sigma = np.asarray(error, dtype=np.float64)
    if not wl.shape == y.shape == sigma.shape or wl.ndim != 1:
        raise ValueError(
            f"wavelength, flux and error must be 1-D with equal lengths; got shapes "
            f"{wl.shape}, {y.shape}, {sigma.shape}"
        )
    if np.any(~(sigma > 0)):
        raise ValueError("fit_continuum_form: every error must be > 0")
    nw = float(center if norm_wav is None else norm_wav)
    slots = [s for s in form.param_names() if s != "norm_wav"]
    weight = 1.0 / sigma

    def evaluate(params: Mapping[str, float]) -> np.ndarray:
        values = {**params, "norm_wav": nw}
        return np.asarray(
            form.evaluate(
                wl,
                values,
                obs_low=obs_low,
                obs_high=obs_high,
                norm_wav=nw,
                wl_unit=wl_unit,
                z_sys=z_sys,
            ),
            dtype=np.float64,
        ) * np.ones_like(wl)

    back_maps = form.least_squares
    if back_maps is not None:
        columns = [evaluate({t: float(t == s) for t in slots}) for s in slots]
        design = np.column_stack(columns) * weight[:, None]
        coef = _solve(design, y * weight)
        params = {s: back_maps.get(s, float)(float(c)) for s, c in zip(slots, coef, strict=True)}
    else:
        start = np.array([form.fit_start(s, y) for s in slots])
        params = _gauss_newton(evaluate, slots, start, y, weight)

    model = evaluate(params)
    if not (np.all(np.isfinite(model)) and all(map(math.isfinite, params.values()))):
        raise ValueError(f"fit of {form!r} produced non-finite values: {params}")
    chi2 = float(np.sum(((y - model) * weight) ** 2))
    dof = wl.size - len(slots)
    if "norm_wav" in form.param_names():
        params["norm_wav"] = nw
    return ContinuumFitResult(model, params, chi2 / dof if dof > 0 else None, dof)


def _gauss_newton(
    evaluate: Callable[[Mapping[str, float]], np.ndarray],
    slots: list[str],
    start: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
) -> dict[str, float]:
    """Gauss–Newton with forward-difference Jacobians from ``start``, halving steps that
    raise χ²."""
    p = np.asarray(start, dtype=float)

    def residual(values: np.ndarray) -> np.ndarray:
        return (y - evaluate(dict(zip(slots, values, strict=True)))) * weight

    r = residual(p)
    chi2 = float(r @ r)
    eps = math.sqrt(np.finfo(np.float64).eps)
    for _ in range(_MAX_ITER):
        jac = np.empty((y.size, p.size))
        for k in range(p.size):
            h = eps * (abs(p[k]) if p[k] != 0 else 1.0)
            shifted = p.copy()
            shifted[k] += h
            jac[:, k] = (r - residual(shifted)) / h
        if not np.all(np.isfinite(jac)):
            raise ValueError("Gauss-Newton: non-finite Jacobian")
        step = _solve(jac, r)
        for _ in range(_MAX_HALVINGS):
            trial = p + step
            r_trial = residual(trial)
            chi2_trial = float(r_trial @ r_trial)
            if np.isfinite(chi2_trial) and chi2_trial <= chi2:
                break
            step = 0.5 * step
        else:
            break  # no step lowers χ²: at a minimum to numerical precision
        p, r, chi2 = trial, r_trial, chi2_trial
        if np.all(np.abs(step) <= _STEP_RTOL * np.abs(p)):
            break
    return dict(zip(slots, map(float, p), strict=True))
