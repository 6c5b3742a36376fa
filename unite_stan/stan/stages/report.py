"""One line per stage of a fit, logged (``logging``, logger ``unite_stan.fit``)."""

from __future__ import annotations

import logging

from unite_stan.stan.stages.state import FitState

__all__ = ["report"]

_logger = logging.getLogger("unite_stan.fit")


def report(name: str, state: FitState) -> None:
    """Log what stage ``name`` did and how long it took."""
    info = state.info.get(name, {})
    detail = ", ".join(f"{k}={_short(v)}" for k, v in info.items() if k != "build_record")
    seconds = state.seconds.get(name, 0.0)
    _logger.info("stage %s: %.2f s%s", name, seconds, f" ({detail})" if detail else "")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
