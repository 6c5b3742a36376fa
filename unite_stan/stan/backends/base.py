"""The interface every Stan backend implements, and the objects it hands downstream.

A backend turns Stan program text into a :class:`CompiledModel` (through the compile cache),
evaluates the model's log density (:class:`LogDensity`) and runs NUTS (:class:`RawDraws`).
Nothing here imports a Stan toolchain, so the types are usable where none is installed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from unite_stan.stan.settings import SamplerSettings

__all__ = [
    "SAMPLER_COLUMNS",
    "Backend",
    "BuildRecord",
    "CompiledModel",
    "LogDensity",
    "RawDraws",
    "available_cores",
    "check_threads",
    "default_parallel_chains",
]

#: Per-draw sampler diagnostics, in the order Stan writes them before the model's own columns.
SAMPLER_COLUMNS = (
    "lp__",
    "accept_stat__",
    "stepsize__",
    "treedepth__",
    "n_leapfrog__",
    "divergent__",
    "energy__",
)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def default_parallel_chains(num_chains: int, threads_per_chain: int = 1) -> int:
    """Chains run at once when the user sets none: as many as the cores hold with their threads."""
    return max(1, min(num_chains, available_cores() // max(1, threads_per_chain)))


@dataclass(frozen=True)
class BuildRecord:
    """What was built, how, and where; stored as ``build.json`` beside each artifact.

    Attributes
    ----------
    program_hash : str
        sha256 (hex) of the canonical program text, the backend identity and the options.
    backend : str
        ``'embedded'`` or ``'cmdstan'``.
    backend_identity : str
        Versions of everything that shapes the artifact (Stan, stanc, compiler).
    options : dict
        Compiler flags and other build options (part of the key).
    created : str
        ISO 8601 time the build finished.
    compile_seconds : float
        Wall time of the build.
    artifact : str
        Absolute path of the shared library or executable.
    command : str
        The exact command line(s) that produced the artifact.
    warnings : str
        Warnings stanc printed for the program, ``''`` if none.
    artifact_size : int
        Size of the artifact in bytes, ``-1`` in records written before it was recorded.
    artifact_sha256 : str
        sha256 (hex) of the artifact's content, ``''`` in records written before it was
        recorded. The cache fills both in (:func:`~unite_stan.stan.cache.build_entry`) and
        checks them before handing the artifact out, so a damaged artifact is rebuilt rather
        than loaded.
    """

    program_hash: str
    backend: str
    backend_identity: str
    options: dict
    created: str
    compile_seconds: float
    artifact: str
    command: str = ""
    warnings: str = ""
    artifact_size: int = -1
    artifact_sha256: str = ""

    def to_json(self) -> str:
        """Serialise to the JSON text stored in ``build.json``."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BuildRecord:
        """Parse the text of a ``build.json``.

        Raises
        ------
        ValueError
            If the text is not a JSON object holding exactly the record's fields.
        """
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"build record is not valid JSON: {err}") from None
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or not set(fields) <= names:
            raise ValueError(f"build record must be a JSON object with keys among {sorted(names)}")
        try:
            record = cls(**fields)
        except TypeError as err:
            raise ValueError(f"build record is incomplete: {err}") from None
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            value = getattr(record, spec.name)
            # the field's annotation; a float field accepts an integer (JSON writes 2.0 as 2)
            kind = (int, float) if hints[spec.name] is float else hints[spec.name]
            # bool is an int to isinstance; a record never holds one
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(
                    f"build record field {spec.name!r} is {value!r} "
                    f"({type(value).__name__}); it must be {_type_names(kind)}"
                )
        return record

    @property
    def directory(self) -> Path:
        """The cache entry holding the artifact."""
        return Path(self.artifact).parent


def _type_names(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"str": "a string", "dict": "an object", "int": "an integer", "float": "a number"}
    return " or ".join(names[k.__name__] for k in kinds)


@dataclass
class CompiledModel:
    """A built program ready to run.

    Attributes
    ----------
    backend : str
        Name of the backend that built it.
    record : BuildRecord
        How and where it was built.
    handle : Any
        The loaded extension module (embedded) or a ``cmdstanpy.CmdStanModel``.
    code : str
        The Stan program text.
    """

    backend: str
    record: BuildRecord
    handle: Any
    code: str


class LogDensity(ABC):
    """The model's log density on its unconstrained parameter vector, for one data set.

    The density includes the log-Jacobian of the constraining transforms and drops the constants
    that ``~`` statements drop, so it equals the ``lp__`` column of the draws.

    Attributes
    ----------
    dim : int
        Number of unconstrained parameters.
    """

    dim: int

    @abstractmethod
    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and its gradient at ``x`` (shape ``(dim,)``).

        Points Stan rejects (a failed constraint or ``reject`` in the model) give ``-inf`` and a
        gradient of NaN rather than an exception.
        """

    @abstractmethod
    def log_prob(self, x: np.ndarray) -> float:
        """Log density at ``x`` without the gradient."""

    def gradients(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log densities ``(n,)`` and gradients ``(n, dim)`` at each row of ``points``.

        The same values as calling the density on each row; a backend whose calls cost a
        process each (CmdStan) evaluates all rows in one.
        """
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        workers = min(len(points), os.cpu_count() or 1)
        if workers > 1 and getattr(self, "concurrent_calls", False):
            # a density that releases the GIL evaluates the rows in threads, in order
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                rows = list(pool.map(self, points))
        else:
            rows = [self(x) for x in points]
        if not rows:
            return np.empty(0), np.empty((0, self.dim))
        return np.array([v for v, _ in rows], dtype=np.float64), np.array([g for _, g in rows])

    def log_probs(self, points: np.ndarray) -> np.ndarray:
        """Log densities ``(n,)`` at each row of ``points`` (see :meth:`gradients`)."""
        return np.array(
            [self.log_prob(x) for x in np.atleast_2d(np.asarray(points, dtype=np.float64))],
            dtype=np.float64,
        )

    def write_array(self, x: np.ndarray) -> dict[str, float]:
        """Constrained parameters, transformed parameters and generated quantities at ``x``.

        Keys are Stan's flat column names (``'xi.1'``), as in :attr:`RawDraws.columns`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement write_array")

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise ValueError(
                f"unconstrained parameter vector has shape {x.shape}; "
                f"this model needs ({self.dim},)"
            )
        return x


@dataclass
class RawDraws:
    """Draws as Stan writes them, for every chain, before any post-processing.

    Attributes
    ----------
    columns : list of str
        Stan's flat column names: :data:`SAMPLER_COLUMNS`, then parameters, transformed
        parameters and generated quantities (``'xi.1'``, ``'z_narrow'``).
    values : numpy.ndarray
        float64, shape ``(num_chains, num_samples, len(columns))``.
    step_size : numpy.ndarray
        ``(num_chains,)`` adapted step size.
    inv_metric : numpy.ndarray
        ``(num_chains, dim)`` adapted diagonal inverse metric (``(num_chains, dim, dim)`` if dense).
    warmup_seconds, sampling_seconds : numpy.ndarray
        ``(num_chains,)`` wall time of each phase.
    seed : int
        The seed the chains were run with (chain ``c`` uses chain id ``c + 1``).
    backend : str
        Name of the backend that ran them.
    messages : list of list of str
        Stan's informational messages per chain (warnings about rejections and adaptation).
    """

    columns: list[str]
    values: np.ndarray
    step_size: np.ndarray
    inv_metric: np.ndarray
    warmup_seconds: np.ndarray
    sampling_seconds: np.ndarray
    seed: int
    backend: str
    messages: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[2] != len(self.columns):
            raise ValueError(
                f"values has shape {self.values.shape}; "
                f"expected (chains, draws, {len(self.columns)})"
            )

    def xi(self, dim: int) -> np.ndarray:
        """The draws of the sampled coordinates ``xi.1`` … ``xi.dim``, shape
        ``(num_chains, num_samples, dim)``."""
        return self.values[:, :, [self.columns.index(f"xi.{k + 1}") for k in range(dim)]]

    def column(self, name: str) -> np.ndarray:
        """Values of one column, shape ``(num_chains, num_samples)``."""
        try:
            index = self.columns.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; columns are {self.columns}") from None
        return self.values[:, :, index]


class Backend(ABC):
    """Builds and runs Stan programs.

    Attributes
    ----------
    name : str
        ``'embedded'`` or ``'cmdstan'``.
    """

    name: str
    #: Stan metrics this backend can adapt
    metrics: tuple[str, ...] = ("diag_e",)

    @abstractmethod
    def identity(self) -> str:
        """Versions of everything that shapes a build; part of the cache key."""

    @abstractmethod
    def compile(self, code: str, *, progress: bool = True) -> CompiledModel:
        """Build ``code``, or reuse the cached build of the same program.

        Raises
        ------
        ValueError
            If stanc rejects the program (the message names the line).
        """

    @abstractmethod
    def log_density(self, model: CompiledModel, data: dict) -> LogDensity:
        """The log density of ``model`` given ``data``."""

    def sample(
        self,
        model: CompiledModel,
        data: dict,
        settings: SamplerSettings,
        *,
        inits: list[dict[str, np.ndarray]] | None = None,
    ) -> RawDraws:
        """Run NUTS with Stan's windowed adaptation of the metric and step size.

        Parameters
        ----------
        model : CompiledModel
            Built by this backend.
        data : dict
            Stan data: python or numpy numbers and arrays, passed to Stan unchanged.
        settings : SamplerSettings
            Iterations, chains, seed and sampler controls (validated when made).
        inits : list of dict, optional
            One dict per chain mapping a parameter name to its initial (constrained) value;
            ``None`` lets Stan draw uniformly in ``(-2, 2)`` on the unconstrained scale.

        Raises
        ------
        ValueError
            If ``inits`` does not hold one dict per chain, or this backend cannot adapt the
            metric.
        RuntimeError
            If a chain fails; the message carries Stan's error messages.
        """
        if inits is not None and len(inits) != settings.num_chains:
            raise ValueError(
                f"got {len(inits)} init dicts for num_chains={settings.num_chains}: need one "
                "per chain"
            )
        if settings.metric not in self.metrics:
            raise ValueError(
                f"metric={settings.metric!r} is not available on the {self.name} backend; "
                f"valid: {', '.join(self.metrics)}"
            )
        # resolved here once, so every adapter runs the same number of chains at once
        resolved = settings.replace(parallel_chains=settings.chains_at_once)
        return self._sample(model, data, resolved, inits)

    @abstractmethod
    def _sample(
        self,
        model: CompiledModel,
        data: dict,
        settings: SamplerSettings,
        inits: list[dict[str, np.ndarray]] | None,
    ) -> RawDraws:
        """Backend-specific NUTS run; ``settings.parallel_chains`` is resolved (at most
        ``num_chains``) and ``inits`` checked by :meth:`sample`."""


def check_threads(threads_per_chain: int, parallel_chains: int | None, num_chains: int) -> None:
    """Refuse more threads in total than available cores.

    Raises
    ------
    ValueError
        If ``threads_per_chain`` is not a positive integer, or if the chains run at once times
        ``threads_per_chain`` exceeds :func:`available_cores`.
    """
    if (
        isinstance(threads_per_chain, bool)
        or not isinstance(threads_per_chain, (int, np.integer))
        or threads_per_chain < 1
    ):
        raise ValueError(f"threads_per_chain={threads_per_chain!r}: must be a positive integer")
    cores = available_cores()
    at_once = min(
        num_chains, parallel_chains or default_parallel_chains(num_chains, threads_per_chain)
    )
    if at_once * threads_per_chain > cores:
        raise ValueError(
            f"threads_per_chain={threads_per_chain} with {at_once} chains at once needs "
            f"{at_once * threads_per_chain} threads; this machine has {cores} cores: lower "
            "threads_per_chain or parallel_chains"
        )
