"""Astropy table columns accepted wherever a Quantity is, as unite accepts them."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn

__all__ = ["as_quantity"]


def as_quantity(value, what: str):
    """``value`` as a Quantity when it is an astropy :class:`~astropy.table.Column` with a unit
    (e.g. ``Table.read(...)['wave']``); anything else is returned unchanged for the caller to
    check.

    Raises
    ------
    TypeError
        If the column has no unit.
    ValueError
        If it is a masked column with masked entries (their values would be used silently).
    """
    if not isinstance(value, Column):
        return value
    label = f"{what} (column {value.name!r})" if value.name else what
    if value.unit is None:
        raise TypeError(
            f"{label} has no unit; set one (e.g. column.unit = 'Angstrom') or pass a Quantity"
        )
    if isinstance(value, MaskedColumn) and np.any(value.mask):
        raise ValueError(
            f"{label} has {int(np.sum(value.mask))} masked entries; drop them (mask=... of the "
            "loaders takes column.mask) or fill them before passing the column"
        )
    return u.Quantity(np.asarray(value), value.unit)
