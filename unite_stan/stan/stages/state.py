"""What the fit's stages hand each other: :class:`FitState` in, :class:`FitState` out, and the
:class:`FitResult` the pipeline returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from unite_stan.stan.render import Layout, RenderedProgram
from unite_stan.stan.settings import FitSettings, SamplerSettings

__all__ = ["FitResult", "FitState"]


@dataclass(frozen=True)
class FitState:
    """The fit so far. Stages never change a state: each returns a new one
    (:meth:`update`), so a stage can be run and tested on its own from any state.

    Attributes
    ----------
    program : RenderedProgram
        The program as rendered (identity coordinates, one pixel block per spectrum).
    args : ModelArgs
        The model's numbers; read only.
    settings : FitSettings
        The user's settings, validated once.
    rng : numpy.random.Generator
        The fit's random stream (seeded by ``settings.sampler.seed``), shared by the stages in
        their fixed order, so the same seed gives the same fit.
    sampler : SamplerSettings
        The main run's NUTS settings (threads chosen by the layout stage).
    layout : Layout
        How the likelihood is laid out over the data (blocks, line windows, statistics).
    engine, compiled
        The backend and the built program (the compile stage).
    starts : tuple of numpy.ndarray
        Unconstrained start points (at least four, for the pilot's optimiser), with the user's
        start values where given.
    loc, chol : numpy.ndarray
        The sampling coordinates ``u = loc + chol @ xi`` (identity until the pilot).
    inits : tuple of numpy.ndarray
        Whitened start of each chain of the main run.
    draws : Draws, optional
        The main run's draws (the sample stage); ``main`` is the program they ran.
    info : mapping
        What each stage recorded, by stage name.
    seconds : mapping
        Wall time of each stage, by stage name.
    """

    program: RenderedProgram
    args: Any
    settings: FitSettings
    rng: np.random.Generator
    sampler: SamplerSettings
    layout: Layout = Layout()
    engine: Any = None
    compiled: Any = None
    starts: tuple[np.ndarray, ...] = ()
    loc: np.ndarray | None = None
    chol: np.ndarray | None = None
    inits: tuple[np.ndarray, ...] = ()
    flux_scales: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    draws: Any = None
    main: RenderedProgram | None = None
    info: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    seconds: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def update(self, **changes: Any) -> FitState:
        """A new state with ``changes``."""
        return dataclasses.replace(self, **changes)

    def note(self, stage: str, **info: Any) -> FitState:
        """A new state with ``info`` added to what ``stage`` recorded."""
        merged = dict(self.info)
        merged[stage] = {**merged.get(stage, {}), **info}
        return self.update(info=MappingProxyType(merged))

    def recorded(self, stage: str, key: str, default: Any = None) -> Any:
        """What ``stage`` recorded under ``key``."""
        return self.info.get(stage, {}).get(key, default)

    def program_for(self, layout: Layout | None = None) -> RenderedProgram:
        """The program laid out as ``layout`` (default: this state's), in the current
        sampling coordinates."""
        laid = self.program.laid_out(self.layout if layout is None else layout)
        if self.flux_scales:
            laid = laid.with_flux_scales(dict(self.flux_scales))
        if self.loc is None:
            return laid
        return laid.with_coordinates(self.loc, self.chol)


@dataclass(frozen=True)
class FitResult:
    """What a fit returns; ``ModelBuilder.fit`` attaches it to ``args`` (unite's contract).

    Attributes
    ----------
    program : RenderedProgram
        The program of the main run (its layout and coordinates).
    draws : Draws
        The draws with the run's attributes (``args.dataset`` builds the xarray from them).
    run_info : dict
        The stages' records (``'pilot'``, ``'windows'``, ``'build_record'``, ``'stages'``,
        ``'seconds'``) and ``'convergence'`` (:func:`~unite_stan.diagnostics.convergence_statistics`
        of the free sites).
    samples : dict
        unite's flat samples: each free site, ``log_prob`` and ``log_likelihood``.
    """

    program: RenderedProgram
    draws: Any
    run_info: dict
    samples: dict
