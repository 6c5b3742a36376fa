"""Register unite's style sheet with matplotlib when :mod:`unite_stan` is imported.

unite's tutorials call ``pyplot.style.use('unite.mplstyle')``, which in unite only works from a
directory holding that file. Registering the packaged sheet under that name (and ``'unite'``)
in ``matplotlib.style.library`` makes the unchanged call work from anywhere.
"""

from __future__ import annotations

import warnings

from unite_stan.styles import STYLE_FILE

__all__ = ["STYLE_NAMES", "register_style"]

STYLE_NAMES = ("unite.mplstyle", "unite")
"""Names under which the sheet is listed in ``matplotlib.style.available``."""

# matplotlib looks names up in its library before resolving "package.style" names, so this
# alias makes the package-style spelling work without a second copy of the sheet next to
# unite_stan/__init__.py ("unite_stan.styles.unite" resolves natively as well).
_PACKAGE_ALIAS = "unite_stan.unite"


def register_style() -> None:
    """Add the packaged sheet to ``matplotlib.style.library`` and ``.available``.

    Safe to call again, e.g. after ``matplotlib.style.reload_library()`` dropped the entries.
    Never raises: the library is not a documented extension point of matplotlib, so if its
    layout changes the failure becomes a warning naming the sheet's path, which
    ``pyplot.style.use`` accepts directly.
    """
    try:
        import matplotlib
        import matplotlib.style as mpl_style

        params = matplotlib.rc_params_from_file(STYLE_FILE, use_default_template=False)
        for name in (*STYLE_NAMES, _PACKAGE_ALIAS):
            mpl_style.library[name] = params
        mpl_style.available[:] = sorted(set(mpl_style.available).union(STYLE_NAMES))
    except Exception as exc:  # a plotting nicety must never break ``import unite_stan``
        warnings.warn(
            f"unite_stan could not register its matplotlib style ({exc!r}); "
            f"use pyplot.style.use({str(STYLE_FILE)!r}) instead",
            RuntimeWarning,
            stacklevel=2,
        )


register_style()
