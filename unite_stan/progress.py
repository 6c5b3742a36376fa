"""What unite_stan tells the user while it works: one line per stage, bars only on a terminal.

Two functions, used by every stage that takes noticeable time (compiling, the pilot, its
refinement, sampling):

* :func:`report` writes one line, always: a fit run in a notebook, a terminal, a batch job's log
  or CI says what it is doing (a first compile takes minutes), whatever ``progress_bar`` says.
* :func:`show_bar` decides whether a live progress bar (``tqdm``) may be drawn: only when the
  caller wants progress and stderr is a terminal or a Jupyter kernel's stream. A bar in a log
  file is hundreds of carriage-return updates; there the stage's :func:`report` lines stand in
  for it.

Example, for a stage that has a bar on a terminal and two lines elsewhere::

    bar = show_bar(progress)
    if not bar:
        report("sample", "Sampling 4 chains (1000 warmup + 1000 draws each)…")
    with tqdm(total=n, disable=not bar) as pbar:
        ...
    if not bar:
        report("sample", f"Sampled 4 chains in {seconds:.0f} s")
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["LOGGER", "report", "show_bar"]

#: Name of the logger :func:`report` writes to (at INFO).
LOGGER = "unite_stan.progress"

_logger = logging.getLogger(LOGGER)


def report(stage: str, message: str) -> None:
    """Say one line about a stage: logged at INFO and printed to stderr.

    Parameters
    ----------
    stage : str
        Short lower-case name of the stage: ``'compile'``, ``'pilot'``, ``'refine'``,
        ``'sample'``… It prefixes the printed line (``unite_stan [compile] …``) and is passed to
        the log record as ``extra={'stage': stage}``.
    message : str
        One line, no trailing newline.
    """
    _logger.info(message, extra={"stage": stage})
    print(f"unite_stan [{stage}] {message}", file=sys.stderr, flush=True)


def show_bar(progress: bool, stream: TextIO | None = None) -> bool:
    """Whether a live progress bar may be drawn on ``stream`` (default: ``sys.stderr``).

    ``True`` only when ``progress`` is true and the stream is a terminal or a Jupyter kernel's
    output stream (whose ``isatty()`` is false, but which renders bars in place).
    """
    if not progress:
        return False
    stream = sys.stderr if stream is None else stream
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
