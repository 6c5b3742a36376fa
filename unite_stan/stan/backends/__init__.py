"""Stan backends behind one interface: embedded (httpstan's toolchain) and CmdStan.

Backends are imported lazily: choosing one never loads the other's toolchain.
"""

from __future__ import annotations

import os
from pathlib import Path

from unite_stan.stan.backends.base import Backend, BuildRecord, CompiledModel, LogDensity, RawDraws

__all__ = [
    "BACKENDS",
    "Backend",
    "BuildRecord",
    "CompiledModel",
    "LogDensity",
    "RawDraws",
    "cmdstan_available",
    "get_backend",
]

#: Names accepted by :func:`get_backend`.
BACKENDS = ("auto", "embedded", "cmdstan")
#: Environment variable that sets the backend ``'auto'`` stands for.
ENV_VAR = "UNITE_STAN_BACKEND"


def cmdstan_available() -> tuple[bool, str]:
    """Whether a CmdStan installation is usable, and why not if it is not.

    cmdstanpy (which imports pandas and xarray, most of a second) is imported only when an
    installation may exist where it looks: ``$CMDSTAN``, or a ``cmdstan-*`` directory in
    ``~/.cmdstan``.

    Returns
    -------
    available : bool
    reason : str
        The installation path when available, else the explanation (cmdstanpy's when it was
        asked).
    """
    if not _cmdstan_may_be_installed():
        return False, (
            "no CmdStan installation found: $CMDSTAN is not set and ~/.cmdstan holds no "
            "cmdstan-* directory"
        )
    try:
        import cmdstanpy
    except ImportError as err:
        return False, f"cmdstanpy is not importable: {err}"
    try:
        return True, cmdstanpy.cmdstan_path()
    except (ValueError, RuntimeError) as err:
        return False, str(err)


def _cmdstan_may_be_installed() -> bool:
    """Whether cmdstanpy could find CmdStan: ``$CMDSTAN`` is set, or ``~/.cmdstan`` holds a
    ``cmdstan-*`` directory (where ``cmdstanpy.cmdstan_path`` looks)."""
    if os.environ.get("CMDSTAN"):
        return True
    try:
        return any(
            entry.is_dir() and entry.name.startswith("cmdstan-")
            for entry in (Path.home() / ".cmdstan").iterdir()
        )
    except OSError:
        return False


def get_backend(name: str = "auto") -> Backend:
    """The backend called ``name``.

    Parameters
    ----------
    name : {'auto', 'embedded', 'cmdstan'}
        ``'auto'`` uses the ``UNITE_STAN_BACKEND`` environment variable when it is set, else
        CmdStan when it is installed, else the embedded backend.

    Raises
    ------
    ValueError
        For an unknown name.
    RuntimeError
        For ``'cmdstan'`` when no CmdStan installation is found (the message says how to
        install one).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown Stan backend {name!r}; valid: {', '.join(BACKENDS)}")
    if name == "auto":
        name = os.environ.get(ENV_VAR, "").strip() or "auto"
        if name not in BACKENDS:
            raise ValueError(
                f"{ENV_VAR}={name!r} is not a Stan backend; valid: {', '.join(BACKENDS)}"
            )
    if name == "auto":
        name = "cmdstan" if cmdstan_available()[0] else "embedded"
    if name == "embedded":
        from unite_stan.stan.backends.embedded import EmbeddedBackend

        return EmbeddedBackend()
    available, reason = cmdstan_available()
    if not available:
        raise RuntimeError(
            f"the 'cmdstan' backend needs a CmdStan installation, and none was found ({reason}). "
            "Install one with `python -m cmdstanpy.install_cmdstan` (downloads and builds "
            "CmdStan; needs internet and a C++ toolchain), or use backend='embedded'."
        )
    from unite_stan.stan.backends.cmdstan import CmdStanBackend

    return CmdStanBackend()
