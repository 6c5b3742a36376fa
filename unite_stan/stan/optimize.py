"""Point estimates and Pathfinder for a built model: what ``ModelBuilder.optimize`` and
``ModelBuilder.pathfinder`` run.

The programs unite_stan renders declare one parameter, the unconstrained vector ``xi``, and add
each site's prior density and the Jacobian of its coordinate to ``target`` themselves
(:mod:`unite_stan.stan.coordinates`). Stan's ``jacobian`` switch (``optimize jacobian=0``) has
nothing to act on in such a program: its ``target`` is always the posterior density of the
unconstrained coordinates. So the MAP is found here, on either backend, by L-BFGS on

* ``jacobian=False`` (the default, as Stan's ``optimize``): the posterior density of the sites
  themselves, ``target`` less the log Jacobian of every site's coordinate, whose maximum is the
  mode of the posterior in the parameters' own units, independent of any reparametrisation;
* ``jacobian=True``: unite's ``log_prob`` (the density on unite's unconstrained scale, the
  logistic scale of every bounded prior), whose maximum is the mode NumPyro's unconstrained
  optimisers find.

The gradients are the backend's (Stan's autodiff) plus the Jacobian terms, computed here in
closed form (by central differences only for the part of a bound that depends on other
sites). On the CmdStan backend the optimisation starts from CmdStan's own L-BFGS optimum of
``target`` (one process per start), then finishes here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.special

from unite_stan.prior import literal_value
from unite_stan.stan.coordinates import LOGIT, LOWER, REAL, SLOPE, UPPER, log_prob_offset

__all__ = ["MapResult", "map_estimate", "pathfinder_draws"]

#: L-BFGS starts (the first one also holds the user's start values).
MIN_STARTS = 4
#: Relative step of the central differences of a bound that depends on other sites.
_BOUND_STEP = 1e-6


@dataclass
class MapResult:
    """A posterior mode.

    Attributes
    ----------
    values : dict
        Every site (free and fixed, dependency order) -> value in its own units (those of
        fit()'s samples), plus ``'log_prob'`` (unite's) and ``'log_likelihood'`` (summed over
        spectra) at the mode.
    jacobian : bool
        Whether the Jacobian was included (the mode on unite's unconstrained scale).
    objective : float
        The maximised log density.
    unconstrained : numpy.ndarray
        The mode in the program's coordinates ``xi``.
    backend : str
    message : str
        The optimiser's message at the best start.
    starts : int
        L-BFGS runs, and how many ended at a finite density (``converged``).
    converged : int
    """

    values: dict
    jacobian: bool
    objective: float
    unconstrained: np.ndarray
    backend: str
    message: str
    starts: int
    converged: int


def _starts(args, rng, init_values, n) -> list[np.ndarray]:
    """Start points as the fit's pilot uses them (see ``stages.starts``)."""
    from unite_stan.stan.stages.starts import _point, explicit_values, random_draw

    explicit = explicit_values(args, init_values)
    return [
        _point(args, *random_draw(rng, len(args.free_sites)), explicit, small_fluxes=True)
        for _ in range(n)
    ]


class _Correction:
    """``log density to maximise - target`` and its gradient, at the program's coordinates
    ``u`` (identity whitening)."""

    def __init__(self, args, program, jacobian: bool):
        self.args = args
        self.graph = args.prior_graph
        self.free = list(program.free_sites)
        self.kinds = [program.site_coordinates[n] for n in self.free]
        self.jacobian = jacobian
        self.dependent = [
            k
            for k, name in enumerate(self.free)
            if self.kinds[k] == LOGIT
            and (
                literal_value(self.graph.priors[name].low) is None
                or literal_value(self.graph.priors[name].high) is None
            )
        ]

    def _widths(self, u: np.ndarray) -> np.ndarray:
        """``log(high - low)`` of the logistic sites whose bounds depend on other sites."""
        from unite_stan.stan.run import constrain

        values = self.graph.resolve(constrain(self.args, u))
        bounds = self.graph.bounds(values)
        return np.array(
            [
                math.log(float(bounds[self.free[k]][1] - bounds[self.free[k]][0]))
                for k in self.dependent
            ]
        )

    def __call__(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = 0.0, np.zeros_like(u)
        for k, kind in enumerate(self.kinds):
            x = float(u[k])
            if self.jacobian:
                if kind == SLOPE:  # unite's logistic Jacobian of the angle instead of the slope's
                    s = (math.atan(x) + math.pi / 2) / math.pi
                    value += math.log(s) + math.log1p(-s) + math.log(math.pi) + math.log1p(x * x)
                    gradient[k] = ((1 / s - 1 / (1 - s)) / math.pi + 2 * x) / (1 + x * x)
                continue
            if kind == LOGIT:  # log((high - low) s (1 - s)), the bounds' part below
                s = scipy.special.expit(x)
                value += np.logaddexp(0.0, -x) + np.logaddexp(0.0, x)
                gradient[k] = 2 * s - 1
                prior = self.graph.priors[self.free[k]]
                if k not in self.dependent:
                    value -= math.log(literal_value(prior.high) - literal_value(prior.low))
            elif kind == SLOPE:
                value += math.log1p(x * x)
                gradient[k] = 2 * x / (1 + x * x)
            elif kind in (LOWER, UPPER):
                value -= x
                gradient[k] = -1.0
            elif kind != REAL:  # pragma: no cover - the rendered program has no other kind
                raise ValueError(f"site {self.free[k]!r} has coordinate {kind!r}")
        if self.dependent and not self.jacobian:
            widths = self._widths(u)
            value -= float(np.sum(widths))
            for i in range(u.size):
                step = _BOUND_STEP * max(1.0, abs(float(u[i])))
                up, down = u.copy(), u.copy()
                up[i] += step
                down[i] -= step
                gradient[i] -= float(np.sum(self._widths(up) - self._widths(down))) / (2 * step)
        return float(value), gradient


def map_estimate(
    program,
    args,
    *,
    backend: str = "auto",
    jacobian: bool = False,
    seed: int = 0,
    init_values: dict | None = None,
    num_starts: int = MIN_STARTS,
    progress: bool = False,
) -> MapResult:
    """The posterior mode of a built model (see the module's text for what is maximised).

    Raises
    ------
    ValueError
        For a model with nothing to sample, ``num_starts < 1``, or start values of sites that
        are not sampled or lie outside their priors.
    RuntimeError
        If no start reaches a point with a finite log density.
    """
    from unite_stan.stan.backends import get_backend
    from unite_stan.stan.run import constrain

    if not program.free_sites:
        raise ValueError("nothing to optimise: every parameter of this model is Fixed")
    if isinstance(num_starts, bool) or not isinstance(num_starts, (int, np.integer)):
        raise ValueError(f"num_starts={num_starts!r}: must be a positive integer")
    if num_starts < 1:
        raise ValueError(f"num_starts={num_starts!r}: must be a positive integer")
    if not isinstance(jacobian, bool):
        raise TypeError(f"jacobian={jacobian!r}: must be True or False")
    if program.flux_scales:
        raise ValueError("map_estimate takes the program as build() renders it")
    starts = _starts(args, np.random.default_rng(seed), dict(init_values or {}), num_starts)
    engine = get_backend(backend)
    compiled = engine.compile(program.code, progress=progress)
    density = engine.log_density(compiled, program.data)
    correction = _Correction(args, program, jacobian)

    def objective(u):
        value, gradient = density(u)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return np.inf, np.zeros_like(u)
        extra, extra_gradient = correction(u)
        return -(value + extra), -(gradient + extra_gradient)

    native = getattr(density, "maximize", None)
    if native is not None:  # CmdStan: its own L-BFGS on target first, one process per start
        found = native(starts)
        if found is not None:
            starts = [x if x is not None else s for (x, _, _), s in zip(found, starts, strict=True)]
    best, converged = None, 0
    for start in starts:
        result = scipy.optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 10000, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-9},
        )
        if not np.isfinite(result.fun):
            continue
        converged += 1
        if best is None or result.fun < best.fun:
            best = result
    if best is None:
        raise RuntimeError(
            f"the optimiser found no point with a finite log density from {len(starts)} starts"
        )
    u, message = _polish(objective, np.array(best.x), str(best.message))
    free_values = constrain(args, u)
    values = {n: float(v) for n, v in args.prior_graph.resolve(free_values).items()}
    lp, _ = density(u)
    values["log_prob"] = float(
        lp + log_prob_offset(args, {n: np.array(v) for n, v in values.items()})
    )
    values["log_likelihood"] = _log_likelihood(density, u, lp, program, args, values)
    return MapResult(
        values=values,
        jacobian=jacobian,
        objective=float(-objective(u)[0]),
        unconstrained=u,
        backend=engine.name,
        message=message,
        starts=len(starts),
        converged=converged,
    )


def _polish(objective, x: np.ndarray, message: str) -> tuple[np.ndarray, str]:
    """Newton steps with the Hessian at L-BFGS's end (finite differences of the gradient),
    which L-BFGS's line search may leave short where curvatures differ by many orders of
    magnitude; kept only while they raise the density (the pilot's polishing,
    :mod:`unite_stan.stan.pilot`)."""
    from unite_stan.stan.pilot import _Counted, _dense_chol, _hessian, _newton_polish

    def density(u):
        value, gradient = objective(u)
        return -value, -gradient

    counted = _Counted(density)
    hessian = _hessian(counted, x, 1e-5)
    chol = None if hessian is None else _dense_chol(hessian)
    if chol is None:
        return x, message + "; no Newton polish (the Hessian is not positive definite)"
    value, gradient = counted.gradient(x)
    polished, polished_value = _newton_polish(counted, x, value, gradient, chol)
    if polished_value > value:
        message += f"; Newton polish raised the log density by {polished_value - value:.3g}"
    return polished, message


def _log_likelihood(density, u, lp, program, args, values) -> float:
    """The log likelihood summed over spectra: the program's own (``log_lik_spec``) where the
    backend evaluates it, else ``target`` less the log prior and the log Jacobian."""
    try:
        out = density.write_array(u)
    except NotImplementedError:
        out = None
    if out is not None:
        return float(sum(v for k, v in out.items() if k.startswith("log_lik_spec.")))
    without_jacobian, _ = _Correction(args, program, False)(u)
    return float(lp + without_jacobian - _log_prior(args, values))


def _log_prior(args, values: dict) -> float:
    """Sum of the sampled sites' log prior densities at ``values``."""
    from scipy import stats

    graph = args.prior_graph
    bounds = graph.bounds(values)
    total = 0.0
    for name in graph.free_sites:
        prior = graph.priors[name]
        low, high = (float(b) for b in bounds[name])
        x = values[name]
        if hasattr(prior, "loc"):
            loc = float(graph.evaluate(prior.loc, values))
            a, b = (low - loc) / prior.scale, (high - loc) / prior.scale
            total += float(stats.truncnorm.logpdf(x, a, b, loc=loc, scale=prior.scale))
        else:
            total -= math.log(high - low)
    return total


def pathfinder_draws(
    program,
    args,
    *,
    backend: str = "auto",
    num_samples: int = 1000,
    num_paths: int = 4,
    seed: int = 0,
    init_values: dict | None = None,
    progress: bool = False,
):
    """Stan's Pathfinder (multi-path, PSIS-resampled) through cmdstanpy: ``(draws, info)``,
    ``draws`` a :class:`~unite_stan.draws.Draws` with one chain of ``num_samples`` draws.

    Raises
    ------
    NotImplementedError
        On the embedded backend, which has no Pathfinder.
    ValueError
        For a model with nothing to sample, non-positive counts, or start values of sites that
        are not sampled or lie outside their priors.
    """
    import tempfile

    from unite_stan.stan.backends import get_backend
    from unite_stan.stan.backends.base import RawDraws
    from unite_stan.stan.backends.cmdstan import _quiet_cmdstanpy, _write_json, flat_column_name
    from unite_stan.stan.convert import raw_to_draws

    if not program.free_sites:
        raise ValueError("nothing to sample: every parameter of this model is Fixed")
    for name, value in (("num_samples", num_samples), ("num_paths", num_paths)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: must be a positive integer")
    starts = _starts(args, np.random.default_rng(seed), dict(init_values or {}), 1)
    engine = get_backend(backend)
    if engine.name != "cmdstan":
        raise NotImplementedError(
            f"Pathfinder is not available on the {engine.name!r} backend (its Stan services "
            "offer NUTS only); use backend='cmdstan' (needs a CmdStan installation: "
            "`python -m cmdstanpy.install_cmdstan`), or ModelBuilder.optimize() for the "
            "posterior mode and ModelBuilder.fit() for draws"
        )
    compiled = engine.compile(program.code, progress=progress)
    with tempfile.TemporaryDirectory(prefix="unite_stan_pathfinder_") as folder:
        data_file = f"{folder}/data.json"
        _write_json(data_file, program.data)
        with _quiet_cmdstanpy():
            fit = compiled.handle.model.pathfinder(
                data=data_file,
                draws=int(num_samples),
                num_paths=int(num_paths),
                seed=int(seed),
                inits={"xi": starts[0].tolist()},
                output_dir=folder,
                sig_figs=18,
                show_console=False,
            )
        columns = [flat_column_name(c) for c in fit.column_names]
        values = np.asarray(fit.draws(), dtype=np.float64)[None, :, :]
    dim = len(program.free_sites)
    raw = RawDraws(
        columns=columns,
        values=np.ascontiguousarray(values),
        step_size=np.array([np.nan]),
        inv_metric=np.full((1, dim), np.nan),
        warmup_seconds=np.array([0.0]),
        sampling_seconds=np.array([0.0]),
        seed=int(seed),
        backend=engine.name,
    )
    draws = raw_to_draws(raw, program, args)
    draws.attrs["method"] = "pathfinder"
    draws.attrs["num_paths"] = int(num_paths)
    return draws, {"build_record": compiled.record, "num_paths": int(num_paths)}
