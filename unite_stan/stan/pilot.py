"""Laplace pilot: the posterior mode and an affine map that whitens the posterior around it.

NUTS with a diagonal metric struggles when posterior scales differ by orders of magnitude or
parameters are strongly correlated (a line's redshift and a continuum slope). The pilot finds
the mode on the unconstrained scale with L-BFGS, takes the Hessian there by finite differences
of the gradient, and returns ``loc`` and lower-triangular ``chol`` with
``chol @ chol.T`` = inverse Hessian. Sampling ``xi`` with ``u = loc + chol @ xi`` then sees a
posterior close to a standard normal.

A bad posterior never raises here: the pilot degrades to a diagonal map, or to the identity,
and says why in :attr:`PilotResult.message`.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy
import scipy.linalg
import scipy.optimize

if TYPE_CHECKING:
    from unite_stan.stan.backends.base import LogDensity

__all__ = [
    "Mode",
    "PilotResult",
    "comparable_modes",
    "dispersed_inits",
    "laplace_check",
    "laplace_pilot",
]

# Finite-difference steps larger than this fraction of a coordinate's posterior scale are
# redone smaller: the Hessian must describe the mode, not the wider neighbourhood.
_MAX_STEP_PER_SCALE = 1e-2
# Newton polishing after L-BFGS: at most this many steps, stopping once the gradient in
# whitened units is this small; the Hessian is recomputed if the mode moved further than
# _REHESSIAN_DISTANCE posterior standard deviations.
_NEWTON_STEPS = 5
#: Corrections L-BFGS keeps (scipy's maxcor, CmdStan's history_size). 30 instead of scipy's 10:
#: from 4 random starts (2026-12-03), the AGN scenario of benchmarks/ took 126-137 evaluations
#: per start instead of 490-933 and two more starts reached the mode; dozen_lines 105-155
#: instead of 157-188; low_snr 62-83 instead of 45-150, all four starts at the mode.
LBFGS_HISTORY = 30
# scipy's L-BFGS-B is thread-safe from 1.15 on (C translation of the Fortran, which kept state
# between calls); before, the pilot's starts run one after another.
_THREADED = tuple(int(p) for p in scipy.__version__.split(".")[:2]) >= (1, 15)
_NEWTON_TOLERANCE = 1e-8
# Fractions of the Newton step tried in turn before polishing stops.
_NEWTON_SHRINKS = (1.0, 0.5, 0.25)
# Where the Hessian at L-BFGS's end is not positive definite, L-BFGS restarts there in
# coordinates scaled by the Hessian's diagonal, at most this many times.
_RESCALED_RESTARTS = 3
_REHESSIAN_DISTANCE = 0.1


@dataclass
class PilotResult:
    """Outcome of :func:`laplace_pilot`.

    Attributes
    ----------
    loc : numpy.ndarray
        ``(d,)`` mode on the unconstrained scale (the first start when no optimisation worked).
    chol : numpy.ndarray
        ``(d, d)`` lower-triangular ``L`` with ``L @ L.T`` = inverse Hessian at the mode
        (``'dense'``), its diagonal approximation (``'diagonal'``), or the identity.
    kind : str
        ``'dense'``, ``'diagonal'`` or ``'identity'``.
    mode_log_density : float
        Log density at ``loc`` (``-inf`` when no start could be evaluated).
    n_evaluations : int
        Log-density evaluations used, optimisation and Hessian together.
    seconds : float
        Wall time.
    message : str
        Why a fallback happened; ``''`` for a dense result.
    optima : tuple of (numpy.ndarray, float)
        Where the optimiser ended from each start with a finite log density, and that log
        density (the best of them is ``loc`` before Newton polishing).
    """

    loc: np.ndarray
    chol: np.ndarray
    kind: str
    mode_log_density: float
    n_evaluations: int
    seconds: float
    message: str
    optima: tuple = ()

    def modes(
        self,
        log_density: Callable[[np.ndarray], tuple[float, np.ndarray]],
        *,
        distance: float = 3.0,
        hessian_step: float = 1e-5,
    ) -> list[Mode]:
        """The distinct optima, each with its Laplace approximation and evidence, the mode's
        own first, then by decreasing log density.

        An optimum is distinct when it lies further than ``distance`` whitened units from every
        mode kept before it (in that mode's own map). Its Hessian comes from finite differences
        of ``log_density``'s gradient (one batch per optimum); where it is not positive
        definite, its diagonal stands in, and where that fails the optimum is kept with the
        mode's own map.
        """
        if self.kind == "identity":
            return []
        counted = _Counted(log_density)
        found = [Mode(self.loc, self.chol, self.mode_log_density)]
        for point, value in sorted(self.optima, key=lambda pair: -pair[1]):
            if any(m.whitened_distance(point) <= distance for m in found):
                continue
            hessian = _hessian(counted, point, hessian_step)
            chol = None if hessian is None else _dense_chol(hessian)
            if chol is None and hessian is not None and np.all(np.diag(hessian) > 0):
                chol = np.diag(1.0 / np.sqrt(np.diag(hessian)))
            found.append(Mode(np.array(point), self.chol if chol is None else chol, value))
        return found

    def unwhiten(self, xi: np.ndarray) -> np.ndarray:
        """Unconstrained point ``loc + chol @ xi`` of whitened coordinates ``xi``."""
        return self.loc + self.chol @ np.asarray(xi, dtype=np.float64)


@dataclass
class Mode:
    """One optimum of the posterior with its Laplace approximation.

    Attributes
    ----------
    loc : numpy.ndarray
        The optimum on the unconstrained scale.
    chol : numpy.ndarray
        Lower-triangular factor of the inverse Hessian there (``L @ L.T``).
    log_density : float
        The log density at ``loc``.
    """

    loc: np.ndarray
    chol: np.ndarray
    log_density: float

    @property
    def log_evidence(self) -> float:
        """The Laplace approximation of the mode's posterior mass (up to the normalising
        constant every mode shares): ``log p(mode) + log |det L|``."""
        return float(self.log_density + np.sum(np.log(np.abs(np.diag(self.chol)))))

    def whitened_distance(self, point: np.ndarray) -> float:
        """Distance of ``point`` from the mode in the mode's whitened units."""
        return float(
            np.linalg.norm(scipy.linalg.solve_triangular(self.chol, point - self.loc, lower=True))
        )

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One draw of the mode's Laplace approximation (unconstrained scale)."""
        return self.loc + self.chol @ rng.standard_normal(self.loc.size)


def comparable_modes(modes: list[Mode], depth: float) -> list[Mode]:
    """The modes whose Laplace evidence is within ``depth`` (natural log) of the largest: the
    others hold a negligible share of the posterior mass, ``exp(-depth)`` of the largest or
    less, and no chain should start in them."""
    if not modes:
        return []
    best = max(m.log_evidence for m in modes)
    return [m for m in modes if m.log_evidence >= best - depth]


class _Counted:
    """Wraps the log density: counts evaluations, batches them where the density can, and
    turns it into a finite-valued objective."""

    def __init__(self, log_density: Callable[[np.ndarray], tuple[float, np.ndarray]]):
        self.log_density = log_density
        self.count = 0
        self._lock = threading.Lock()

    def gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        with self._lock:
            self.count += 1
        value, gradient = self.log_density(x)
        return float(value), np.asarray(gradient, dtype=np.float64)

    def gradients(self, points: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
        """``gradient`` at every point, in one call where the density evaluates batches
        (:meth:`~unite_stan.stan.backends.base.LogDensity.gradients`)."""
        batch = getattr(self.log_density, "gradients", None)
        if not points:
            return []
        if batch is None:
            return [self.gradient(x) for x in points]
        self.count += len(points)
        values, gradients = batch(np.array(points))
        return [
            (float(v), np.asarray(g, dtype=np.float64))
            for v, g in zip(values, gradients, strict=True)
        ]

    def objective(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = self.gradient(x)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            # L-BFGS-B backtracks from an infinite value; NaN would derail it.
            return np.inf, np.zeros_like(x)
        return -value, -gradient

    def maximize(self, points: list[np.ndarray]) -> list[tuple[np.ndarray | None, str]]:
        """Run L-BFGS from each point: ``(end point or None, message)`` per start.

        A density with its own optimiser (CmdStan's ``optimize``, one process per start
        instead of one per evaluation) provides ``maximize(starts)`` returning the same pairs;
        otherwise scipy's L-BFGS-B runs here. End points are evaluated afterwards, in one
        batch, so both paths compare optima by the same log density.
        """
        native = getattr(self.log_density, "maximize", None)
        if native is not None:
            found = native(points)
            if found is not None:
                self.count += sum(evaluations for _, _, evaluations in found)
                return [(x, message) for x, message, _ in found]
        workers = min(len(points), os.cpu_count() or 1)
        if workers > 1 and getattr(self.log_density, "concurrent_calls", False) and _THREADED:
            # one optimiser per start, in threads (the density releases the GIL); each start's
            # path is its own, so the ends do not depend on the threads
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                return list(pool.map(self._minimize, points))
        return [self._minimize(start) for start in points]

    def _minimize(self, start: np.ndarray) -> tuple[np.ndarray | None, str]:
        result = scipy.optimize.minimize(
            self.objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 5000, "maxcor": LBFGS_HISTORY},
        )
        return (np.array(result.x) if np.isfinite(result.fun) else None, result.message)


def laplace_pilot(
    log_density: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: Sequence[np.ndarray],
    *,
    hessian_step: float = 1e-5,
    coordinates: Callable[[np.ndarray, np.ndarray], LogDensity] | None = None,
) -> PilotResult:
    """Find the mode of ``log_density`` and the Cholesky factor of its inverse Hessian.

    Parameters
    ----------
    log_density : callable
        ``x -> (log density, gradient)`` on the unconstrained scale, e.g. a
        :class:`~unite_stan.stan.backends.base.LogDensity`. It may return ``-inf`` for points
        outside the support.
    starts : sequence of numpy.ndarray
        Starting points, each of shape ``(d,)``; L-BFGS runs from each and the best finite
        result wins.
    hessian_step : float
        Finite-difference step, relative to ``max(1, |x_i|)``; a step is shortened to 1 % of a
        coordinate's posterior scale when that is smaller.
    coordinates : callable, optional
        ``coordinates(loc, chol)`` gives the same density in the coordinates
        ``xi = solve(chol, x - loc)``. Where the Hessian at the best optimum is not positive
        definite, L-BFGS then restarts there in coordinates scaled by its diagonal; without
        it, the diagonal map is returned.

    Returns
    -------
    PilotResult

    Raises
    ------
    ValueError
        If ``starts`` is empty, the starts differ in shape or are not finite vectors, or
        ``hessian_step`` is not positive.
    """
    start_time = time.perf_counter()
    points = _check_starts(starts)
    if not hessian_step > 0:
        raise ValueError(f"hessian_step={hessian_step}: must be > 0")
    counted = _Counted(log_density)
    dim = points[0].size

    optima = []

    def result(loc, chol, kind, value, message) -> PilotResult:
        return PilotResult(
            loc=loc,
            chol=chol,
            kind=kind,
            mode_log_density=value,
            n_evaluations=counted.count,
            seconds=time.perf_counter() - start_time,
            message=message,
            optima=tuple(optima),
        )

    best_x, best_value, best_gradient, failures = None, -np.inf, None, []
    best_index = -1
    ends = counted.maximize(points)
    finite = [x for x, _ in ends if x is not None]
    evaluated = iter(counted.gradients(finite))
    for index, (end, message) in enumerate(ends):
        value, gradient = next(evaluated) if end is not None else (-np.inf, None)
        if np.isfinite(value):
            optima.append((np.array(end), value))
            if value > best_value:
                best_x, best_value, best_gradient = end, value, gradient
                best_index = len(optima) - 1
        else:
            failures.append(f"start {index}: {message}")
    if best_x is None:
        return result(
            points[0].copy(),
            np.eye(dim),
            "identity",
            -np.inf,
            "optimisation found no point with a finite log density ("
            + "; ".join(failures)
            + "); using the identity map at the first start",
        )

    hessian = _hessian(counted, best_x, hessian_step)
    if hessian is None:
        return result(
            best_x,
            np.eye(dim),
            "identity",
            best_value,
            "the gradient is not finite next to the mode; using the identity map",
        )
    chol = _dense_chol(hessian)
    for _ in range(_RESCALED_RESTARTS if coordinates is not None else 0):
        if chol is not None or hessian is None:
            break
        # L-BFGS stopped short of the mode: curvatures 1e13 apart (a continuum slope next to a
        # weak line's flux) defeat its line search. It goes on in coordinates where each has
        # unit curvature, u = x + D xi (the same density: the map is linear).
        diagonal = np.abs(np.diag(hessian))
        scale = np.where(np.isfinite(diagonal) & (diagonal > 0), diagonal, 1.0) ** -0.5
        rescaled = _Counted(coordinates(best_x, np.diag(scale)))
        ((end, _),) = rescaled.maximize([np.zeros(dim)])
        counted.count += rescaled.count
        if end is None:
            break
        x = best_x + scale * end
        value, gradient = counted.gradient(x)
        if not value > best_value:
            break
        best_x, best_value, best_gradient = x, value, gradient
        optima[best_index] = (np.array(x), value)  # the same optimum, reached
        hessian = _hessian(counted, best_x, hessian_step)
        chol = None if hessian is None else _dense_chol(hessian)
    if chol is not None:
        mode, value = _newton_polish(counted, best_x, best_value, best_gradient, chol)
        moved = scipy.linalg.solve_triangular(chol, mode - best_x, lower=True)
        if np.linalg.norm(moved) > _REHESSIAN_DISTANCE:
            hessian = _hessian(counted, mode, hessian_step)
            moved_chol = None if hessian is None else _dense_chol(hessian)
            if moved_chol is not None:
                chol = moved_chol
        return result(mode, chol, "dense", value, "")

    diagonal = np.diag(hessian)
    positive = np.isfinite(diagonal) & (diagonal > 0)
    if not positive.any():
        return result(
            best_x,
            np.eye(dim),
            "identity",
            best_value,
            "the Hessian at the mode has no positive diagonal element; using the identity map",
        )
    scales = np.ones(dim)
    scales[positive] = 1.0 / np.sqrt(diagonal[positive])
    message = "the Hessian at the mode is not positive definite; using its diagonal"
    if not positive.all():
        message += f" (scale 1 for coordinates {np.flatnonzero(~positive).tolist()})"
    return result(best_x, np.diag(scales), "diagonal", best_value, message)


def laplace_check(
    log_prob: Callable[[np.ndarray], float] | LogDensity,
    pilot: PilotResult,
    rng: np.random.Generator | int | None,
    n_draws: int = 32,
) -> float:
    """How well the Laplace approximation describes the posterior: the standard deviation of
    the log importance weights of ``n_draws`` draws from it.

    For a draw ``xi ~ N(0, I)`` at ``u = loc + chol @ xi`` the weight is
    ``log p(u) - log p(loc) + |xi|^2 / 2``: zero for every draw when the posterior is exactly
    the Laplace Gaussian. Values below 1 mean the approximation is good over its bulk; draws
    outside the support count as a large misfit. Uses log densities only (no gradients); a
    :class:`~unite_stan.stan.backends.base.LogDensity` is evaluated in one batch.
    """
    generator = np.random.default_rng(rng)
    xi = generator.standard_normal((n_draws, pilot.loc.size))
    points = np.array([pilot.unwhiten(x) for x in xi])
    batch = getattr(log_prob, "log_probs", None)
    values = batch(points) if batch is not None else np.array([log_prob(u) for u in points])
    weights = values - pilot.mode_log_density + 0.5 * np.sum(xi**2, axis=1)
    if not np.all(np.isfinite(weights)):
        return np.inf
    return float(np.std(weights))


def dispersed_inits(
    pilot: PilotResult,
    n_chains: int,
    rng: np.random.Generator | int | None,
    scale: float = 1.0,
) -> list[np.ndarray]:
    """Initial whitened coordinates ``xi ~ N(0, scale**2 I)``, one vector per chain.

    With the pilot's map, ``pilot.unwhiten(xi)`` are draws of the Laplace approximation
    (widened by ``scale``), so chains start apart rather than all at the mode.

    Parameters
    ----------
    pilot : PilotResult
    n_chains : int
    rng : numpy.random.Generator or int or None
        Random generator, or a seed for one.
    scale : float
        Standard deviation in whitened units.

    Raises
    ------
    ValueError
        If ``n_chains < 1`` or ``scale < 0``.
    """
    if n_chains < 1:
        raise ValueError(f"n_chains={n_chains}: must be >= 1")
    if not scale >= 0:
        raise ValueError(f"scale={scale}: must be >= 0")
    generator = np.random.default_rng(rng)
    return [scale * generator.standard_normal(pilot.loc.size) for _ in range(n_chains)]


def _newton_polish(
    counted: _Counted, x: np.ndarray, value: float, gradient: np.ndarray, chol: np.ndarray
) -> tuple[np.ndarray, float]:
    """Newton steps with a fixed Hessian while they raise the log density.

    L-BFGS stops early along directions whose scale is many orders of magnitude above the
    smallest one; with the Hessian in hand, each step is exact for a Gaussian. Where the full
    step overshoots (the density is not Gaussian that far out), it is halved, twice at most.
    """
    for _ in range(_NEWTON_STEPS):
        whitened_gradient = chol.T @ gradient
        if np.linalg.norm(whitened_gradient) < _NEWTON_TOLERANCE:
            break
        for shrink in _NEWTON_SHRINKS:
            candidate = x + shrink * (chol @ whitened_gradient)
            candidate_value, candidate_gradient = counted.gradient(candidate)
            if candidate_value > value and np.all(np.isfinite(candidate_gradient)):
                break
        else:
            break
        x, value, gradient = candidate, candidate_value, candidate_gradient
    return x, value


def _check_starts(starts: Sequence[np.ndarray]) -> list[np.ndarray]:
    points = [np.asarray(start, dtype=np.float64) for start in starts]
    if not points:
        raise ValueError("starts is empty: give at least one starting point")
    shape = points[0].shape
    for index, point in enumerate(points):
        if point.ndim != 1 or point.shape != shape or point.size == 0:
            raise ValueError(
                f"start {index} has shape {point.shape}; every start must have shape {shape} "
                "(a non-empty vector)"
            )
        if not np.all(np.isfinite(point)):
            raise ValueError(f"start {index} is not finite: {point}")
    return points


def _hessian(counted: _Counted, x: np.ndarray, relative_step: float) -> np.ndarray | None:
    """Symmetrised Hessian of ``-log_density`` at ``x``, or ``None`` if a gradient is not finite."""
    steps = relative_step * np.maximum(1.0, np.abs(x))
    hessian = _central_differences(counted, x, steps)
    if hessian is None:
        return None
    diagonal = np.diag(hessian)
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = np.where(diagonal > 0, 1.0 / np.sqrt(diagonal), np.inf)
    if np.any(steps > _MAX_STEP_PER_SCALE * scales):
        steps = np.minimum(steps, _MAX_STEP_PER_SCALE * scales)
        hessian = _central_differences(counted, x, steps)
    return hessian


def _central_differences(counted: _Counted, x: np.ndarray, steps: np.ndarray) -> np.ndarray | None:
    dim = x.size
    shifts = np.diag(steps)
    # one batch: x + step_i and x - step_i for every coordinate i
    evaluated = counted.gradients([*(x + shifts), *(x - shifts)])
    if not all(np.isfinite(v) and np.isfinite(g).all() for v, g in evaluated):
        return None
    hessian = np.empty((dim, dim))
    for i in range(dim):
        hessian[:, i] = -(evaluated[i][1] - evaluated[dim + i][1]) / (2 * steps[i])
    return 0.5 * (hessian + hessian.T)


def _dense_chol(hessian: np.ndarray) -> np.ndarray | None:
    """Lower-triangular ``L`` with ``L @ L.T = inv(hessian)``, or ``None`` if not PD."""
    diagonal = np.diag(hessian)
    if not np.all(diagonal > 0):
        return None
    # Unit-diagonal scaling keeps the factorisation accurate when scales differ by 1e4 or more.
    scale = 1.0 / np.sqrt(diagonal)
    scaled = hessian * np.outer(scale, scale)
    try:
        factor = scipy.linalg.cholesky(scaled, lower=True)
    except np.linalg.LinAlgError:
        return None
    inverse = scipy.linalg.cho_solve((factor, True), np.eye(hessian.shape[0]))
    try:
        chol_scaled = scipy.linalg.cholesky(0.5 * (inverse + inverse.T), lower=True)
    except np.linalg.LinAlgError:
        return None
    return scale[:, None] * chol_scaled
