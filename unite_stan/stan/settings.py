"""Settings of a fit, validated once where the user gives them.

:class:`SamplerSettings` is what one NUTS run needs (every backend's ``sample`` takes it);
:class:`FitSettings` adds what the fit's stages decide with (backend, pilot, start values,
threads, the adapt_delta ladder). Both are frozen: a stage that runs NUTS differently (the
pilot's short refinement run, a retry at a higher ``adapt_delta``) derives its own settings with
:meth:`SamplerSettings.replace`, which validates again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["ADAPT_DELTA_LADDER", "FitSettings", "SamplerSettings"]

#: adapt_delta values tried in turn, while divergences remain, when the user sets none.
ADAPT_DELTA_LADDER = (0.8, 0.95, 0.99)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class SamplerSettings:
    """One NUTS run with Stan's windowed adaptation.

    Attributes
    ----------
    num_warmup, num_samples, num_chains : int
        Iterations per chain (warmup may be 0) and number of chains.
    seed : int
        In ``[0, 2**32)``; chain ``c`` runs with this seed and chain id ``c + 1``, so the same
        seed, data and starts give identical draws on either backend.
    adapt_delta : float
        Target acceptance statistic, in (0, 1).
    max_treedepth : int
        Maximal tree depth, >= 1.
    metric : {'diag_e', 'dense_e', 'unit_e'}
        Stan's metric.
    parallel_chains : int, optional
        Chains run at once; ``None``: as many as the cores hold with ``threads_per_chain``.
    threads_per_chain : int
        Threads each chain may use for ``reduce_sum``; ``parallel_chains *
        threads_per_chain`` may not exceed the available cores.
    progress : bool
        Show a progress bar (on a terminal).
    """

    num_warmup: int
    num_samples: int
    num_chains: int
    seed: int
    adapt_delta: float = 0.8
    max_treedepth: int = 10
    metric: str = "diag_e"
    parallel_chains: int | None = None
    threads_per_chain: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        for name, low in (("num_warmup", 0), ("num_samples", 1), ("num_chains", 1)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                word = "non-negative" if low == 0 else "positive"
                raise ValueError(f"{name}={value!r} must be a {word} integer")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed={self.seed!r} must be an integer in [0, 2**32)")
        if isinstance(self.adapt_delta, bool) or not (
            isinstance(self.adapt_delta, (int, float, np.floating)) and 0 < self.adapt_delta < 1
        ):
            raise ValueError(f"adapt_delta={self.adapt_delta!r}: must be in (0, 1)")
        if not _is_int(self.max_treedepth) or self.max_treedepth < 1:
            raise ValueError(f"max_treedepth={self.max_treedepth!r}: must be an integer >= 1")
        if self.metric not in ("diag_e", "dense_e", "unit_e"):
            raise ValueError(
                f"metric={self.metric!r} is not a Stan metric; valid: diag_e, dense_e, unit_e"
            )
        if self.parallel_chains is not None and (
            not _is_int(self.parallel_chains) or self.parallel_chains < 1
        ):
            raise ValueError(f"parallel_chains={self.parallel_chains!r}: must be >= 1 or None")
        from unite_stan.stan.backends.base import check_threads

        check_threads(self.threads_per_chain, self.parallel_chains, self.num_chains)
        object.__setattr__(self, "adapt_delta", float(self.adapt_delta))
        for name in ("num_warmup", "num_samples", "num_chains", "seed", "max_treedepth"):
            object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "threads_per_chain", int(self.threads_per_chain))

    def replace(self, **changes: Any) -> SamplerSettings:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def chains_at_once(self) -> int:
        """Chains run at the same time: ``parallel_chains``, or as many as the cores hold."""
        from unite_stan.stan.backends.base import default_parallel_chains

        return min(
            self.num_chains,
            self.parallel_chains
            or default_parallel_chains(self.num_chains, self.threads_per_chain),
        )


@dataclass(frozen=True)
class FitSettings:
    """Everything a fit's stages decide with; made once by ``ModelBuilder.fit``.

    Attributes
    ----------
    sampler : SamplerSettings
        The main run's settings; ``adapt_delta`` and ``threads_per_chain`` are decided here
        (the ladder) and by the layout stage, which set them in the runs' own copies.
    adapt_delta : float, optional
        The user's target acceptance; ``None`` tries :data:`ADAPT_DELTA_LADDER` in turn while
        divergences remain.
    threads_per_chain : int, optional
        The user's choice; ``None`` lets the layout stage choose from the problem's size.
    backend : {'auto', 'embedded', 'cmdstan'}
    pilot : bool
        Run the Laplace pilot and sample in its whitened coordinates.
    init_values : mapping
        Start values (site name -> value in the parameter's units) for every chain, the
        user's ``init_strategy`` over the priors' ``init``.
    """

    sampler: SamplerSettings
    adapt_delta: float | None = None
    threads_per_chain: int | None = None
    backend: str = "auto"
    pilot: bool = True
    init_values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from unite_stan.stan.backends import BACKENDS

        if self.backend not in BACKENDS:
            raise ValueError(f"unknown Stan backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if self.adapt_delta is not None:
            self.sampler.replace(adapt_delta=self.adapt_delta)  # validates it
        if self.threads_per_chain is not None:
            self.sampler.replace(threads_per_chain=self.threads_per_chain)
        values = {}
        for name, value in dict(self.init_values).items():
            try:
                values[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"init value for {name!r} is {value!r}: must be a number in the "
                    "parameter's units"
                ) from None
        object.__setattr__(self, "init_values", MappingProxyType(values))

    @property
    def ladder(self) -> tuple[float, ...]:
        """The adapt_delta values to try, in order."""
        return ADAPT_DELTA_LADDER if self.adapt_delta is None else (float(self.adapt_delta),)
