"""unite's plotting style, shipped as a matplotlib style sheet.

Importing :mod:`unite_stan` registers the sheet with matplotlib, so each of these works from
any directory::

    pyplot.style.use("unite.mplstyle")  # the call in unite's tutorials
    pyplot.style.use("unite")
    pyplot.style.use("unite_stan.unite")

Unlike unite's sheet it leaves ``text.usetex`` off; call :func:`use_latex` to render text with
LaTeX instead of matplotlib's mathtext.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["STYLE_FILE", "use_latex"]

STYLE_FILE = Path(__file__).resolve().with_name("unite.mplstyle")
"""Path of the style sheet inside the installed package."""


def use_latex(enable: bool = True) -> None:
    """Switch LaTeX text rendering (``text.usetex``) on or off for this session.

    Parameters
    ----------
    enable : bool, optional
        ``True`` renders all text with LaTeX, as unite's own style does (labels such as
        ``r'$\\lambda$ [\\AA]'`` then typeset ``\\AA`` outside math mode as well); ``False``
        goes back to matplotlib's mathtext.

    Raises
    ------
    RuntimeError
        If ``enable`` is true and no ``latex`` executable is on ``PATH``: failing here is
        clearer than the error matplotlib would raise at the first draw.

    Notes
    -----
    Apply the style first (``pyplot.style.use('unite.mplstyle')``): a later
    ``style.use`` resets ``text.usetex`` to the sheet's ``False``.
    """
    if enable and shutil.which("latex") is None:
        raise RuntimeError(
            "use_latex(True) needs a LaTeX installation, but no 'latex' executable is on PATH; "
            "install TeX Live (with dvipng) or keep use_latex(False) to render text with mathtext"
        )
    import matplotlib

    matplotlib.rcParams["text.usetex"] = bool(enable)
