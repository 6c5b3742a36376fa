"""Stage ``compile``: the backend builds the program of the chosen layout (cached)."""

from __future__ import annotations

from unite_stan.stan.stages.state import FitState

__all__ = ["stage"]


def stage(state: FitState) -> FitState:
    from unite_stan.stan.backends import get_backend

    engine = get_backend(state.settings.backend)
    compiled = engine.compile(state.program_for().code, progress=state.sampler.progress)
    return state.update(engine=engine, compiled=compiled).note(
        "compile", backend=engine.name, build_record=compiled.record
    )
