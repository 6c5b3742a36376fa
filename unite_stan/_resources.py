"""Locate files shipped with the package (Stan templates, styles, instrument tables)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_dir() -> Path:
    """Directory holding the Jinja2 Stan templates.

    In an installed wheel the top-level ``templates/`` folder lives inside the package; in a
    source checkout (editable install) it is the repository's ``templates/`` folder.
    """
    installed = _PACKAGE_DIR / "templates"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"unite_stan's Stan templates were found neither in {installed} nor in {checkout}; "
        "reinstall the package"
    )


def data_dir() -> Path:
    """Directory holding bundled data files (instrument tables)."""
    return _PACKAGE_DIR / "data"
