"""Posterior draws as numpy arrays, convertible to and from an ``xarray.Dataset``.

:class:`Draws` is what a fit keeps: the diagnostics read it directly and
``ModelArgs.dataset`` builds the ``xarray.Dataset`` from it only when first read, so a script
that fits and makes tables never imports xarray (with pandas, a good part of a second).
Variables and coordinates are held in xarray's own tuple form, so that
``Draws.from_dataset(ds).to_dataset()`` is identical to ``ds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Draws", "as_draws"]


@dataclass
class Draws:
    """Draws of an MCMC run: named arrays with dimensions, coordinates and attributes.

    Parameters
    ----------
    variables : dict
        Data variables, name → ``(dims, values)`` or ``(dims, values, attrs)``, with ``dims`` a
        tuple of dimension names (``('chain', 'draw', ...)`` for draws) and ``values`` an
        array with one axis per dimension.
    coords : dict, optional
        Coordinates, name → values along the dimension of that name, or
        ``(dims, values[, attrs])`` as for variables.
    attrs : dict, optional
        Attributes of the run (those of the dataset).
    """

    variables: dict[str, tuple] = field(default_factory=dict)
    coords: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Draws:
        """The draws of ``ds``, its arrays shared (not copied)."""
        return cls(
            {name: _as_tuple(var) for name, var in ds.data_vars.items()},
            {name: _as_tuple(coord) for name, coord in ds.coords.items()},
            dict(ds.attrs),
        )

    def to_dataset(self) -> xr.Dataset:
        """The draws as an ``xarray.Dataset``, its arrays shared (not copied)."""
        import xarray as xr

        return xr.Dataset(self.variables, coords=self.coords, attrs=self.attrs)

    def __contains__(self, name: str) -> bool:
        """Whether ``name`` is a variable or a coordinate (as ``name in dataset``)."""
        return name in self.variables or name in self.coords

    def __getitem__(self, name: str) -> np.ndarray:
        """Values of the variable or coordinate ``name``."""
        return np.asarray(self._entry(name)[1])

    def dims(self, name: str) -> tuple[str, ...]:
        """Dimensions of the variable or coordinate ``name``."""
        return self._entry(name)[0]

    def var_attrs(self, name: str) -> dict:
        """Attributes of the variable or coordinate ``name`` (empty if it has none)."""
        entry = self._entry(name)
        return dict(entry[2]) if len(entry) > 2 else {}

    @property
    def sizes(self) -> dict[str, int]:
        """Length of every dimension."""
        sizes: dict[str, int] = {}
        for name in (*self.variables, *self.coords):
            dims, values = self._entry(name)[:2]
            sizes.update(zip(dims, np.shape(values), strict=True))
        return sizes

    def _entry(self, name: str) -> tuple:
        """``(dims, values[, attrs])`` of a variable or coordinate, ``dims`` as a tuple."""
        if name in self.variables:
            entry = self.variables[name]
        elif name in self.coords:
            entry = self.coords[name]
            if not isinstance(entry, tuple):  # values along the dimension ``name``
                entry = ((name,), entry)
        else:
            raise KeyError(f"no variable or coordinate {name!r} in the draws")
        dims = entry[0]
        return ((dims,) if isinstance(dims, str) else tuple(dims), *entry[1:])


def as_draws(draws: Draws | xr.Dataset) -> Draws:
    """``draws`` itself if a :class:`Draws`, else the draws of the ``xarray.Dataset``."""
    return draws if isinstance(draws, Draws) else Draws.from_dataset(draws)


def _as_tuple(var) -> tuple:
    """An xarray variable in the tuple form of :class:`Draws`."""
    if var.attrs:
        return (tuple(var.dims), var.values, dict(var.attrs))
    return (tuple(var.dims), var.values)
