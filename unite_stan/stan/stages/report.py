"""What a fit's stages say: every stage is logged (logger ``unite_stan.fit``, INFO, with its
time and record); a stage that did something the user should see (the pilot's result, a
refinement run, threads, a repeated run) also prints one line through
:func:`unite_stan.progress.report`, whatever ``progress_bar`` says."""

from __future__ import annotations

import logging

from unite_stan.progress import report as say
from unite_stan.stan.stages.state import FitState

__all__ = ["report"]

_logger = logging.getLogger("unite_stan.fit")


def report(name: str, state: FitState) -> None:
    """Log stage ``name``'s time and record; print its ``summary`` line if it left one."""
    info = state.info.get(name, {})
    seconds = state.seconds.get(name, 0.0)
    detail = ", ".join(
        f"{k}={_short(v)}" for k, v in info.items() if k not in ("build_record", "summary")
    )
    _logger.info("stage %s: %.2f s%s", name, seconds, f" ({detail})" if detail else "")
    if info.get("summary"):
        say(name, f"{info['summary']} ({seconds:.1f} s)")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
