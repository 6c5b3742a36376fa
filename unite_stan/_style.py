"""Make unite's style sheet available to matplotlib without importing matplotlib.

unite's tutorials call ``pyplot.style.use('unite.mplstyle')``, which in unite only works from a
directory holding that file. Registering the packaged sheet under that name (and ``'unite'``)
in ``matplotlib.style.library`` makes the unchanged call work from anywhere.

``import unite_stan`` must not import matplotlib (0.4 s, and fits and tables never draw), so
the sheet is registered when ``matplotlib.style`` is imported: at once if it already is,
otherwise by a one-shot import hook that runs :func:`register_style` right after that module
has run (``style.use`` cannot be reached without importing it).
"""

from __future__ import annotations

import sys
import warnings

from unite_stan.styles import STYLE_FILE

__all__ = ["STYLE_NAMES", "register_style"]

STYLE_NAMES = ("unite.mplstyle", "unite")
"""Names under which the sheet is listed in ``matplotlib.style.available``."""

# matplotlib looks names up in its library before resolving "package.style" names, so this
# alias makes the package-style spelling work without a second copy of the sheet next to
# unite_stan/__init__.py ("unite_stan.styles.unite" resolves natively as well).
_PACKAGE_ALIAS = "unite_stan.unite"
_STYLE_MODULE = "matplotlib.style"


def register_style(style_module=None) -> None:
    """Add the packaged sheet to ``matplotlib.style.library`` and ``.available``.

    Parameters
    ----------
    style_module : module, optional
        ``matplotlib.style`` (the import hook passes it while the module is being imported);
        default: import it.

    Notes
    -----
    Safe to call again; ``matplotlib.style.reload_library()`` (which other packages call to
    add their own sheets) registers the sheet again by itself.
    Never raises: the library is not a documented extension point of matplotlib, so if its
    layout changes the failure becomes a warning naming the sheet's path, which
    ``pyplot.style.use`` accepts directly.
    """
    try:
        import matplotlib

        if style_module is None:
            import matplotlib.style as style_module

        params = matplotlib.rc_params_from_file(STYLE_FILE, use_default_template=False)
        for name in (*STYLE_NAMES, _PACKAGE_ALIAS):
            style_module.library[name] = params
        style_module.available[:] = sorted(set(style_module.available).union(STYLE_NAMES))
        _register_again_after_reloads(style_module)
    except Exception as exc:  # a plotting nicety must never break an import
        warnings.warn(
            f"unite_stan could not register its matplotlib style ({exc!r}); "
            f"use pyplot.style.use({str(STYLE_FILE)!r}) instead",
            RuntimeWarning,
            stacklevel=2,
        )


def _register_again_after_reloads(style_module) -> None:
    """Make ``style_module.reload_library()`` register the sheet again.

    Packages that add style sheets of their own (ArviZ on import) append a folder to
    matplotlib's user library paths and reload the library, which rebuilds it from files and
    would drop the sheet.
    """
    reload = style_module.reload_library
    if getattr(reload, "_unite_stan_registers", False):
        return

    def reload_library(*args, **kwargs):
        result = reload(*args, **kwargs)
        register_style(style_module)
        return result

    reload_library._unite_stan_registers = True
    reload_library.__doc__ = reload.__doc__
    style_module.reload_library = reload_library


class _RegisteringLoader:
    """The loader of ``matplotlib.style``, registering the sheet once the module has run."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # everything else (resources, code) from the real loader
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        register_style(module)


class _RegisterOnImport:
    """A ``sys.meta_path`` finder that finds nothing itself: it asks the other finders for
    ``matplotlib.style`` and wraps the loader they return. It removes itself on first use."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _STYLE_MODULE:
            return None
        _remove_hook()
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterOnImport)]


def install() -> None:
    """Register the sheet now if ``matplotlib.style`` is loaded, else when it is imported."""
    if _STYLE_MODULE in sys.modules:
        register_style(sys.modules[_STYLE_MODULE])
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
