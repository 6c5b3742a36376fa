"""Registries of model components (line profiles, continuum forms), filled by the classes
themselves as they are defined: a new component is one class and one Stan chunk, never an
entry in a hand-kept list."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

__all__ = ["Registry"]


class Registry:
    """The concrete classes of one kind of component, by class name and by alias.

    Parameters
    ----------
    kind : str
        What the classes are (``'profile'``, ``'continuum form'``), for error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}
        self._aliases: dict[str, type] = {}

    def add(self, cls: type, aliases: tuple[str, ...] = ()) -> None:
        """Enrol ``cls`` (abstract classes are skipped) under its name and ``aliases``.

        Raises
        ------
        TypeError
            If another class already holds the name or one of the aliases.
        """
        if inspect.isabstract(cls):
            return
        for table, keys in ((self._classes, (cls.__name__,)), (self._aliases, aliases)):
            for key in keys:
                held = table.get(key)
                if held is not None and held.__qualname__ != cls.__qualname__:
                    raise TypeError(
                        f"{self.kind} {cls.__name__}: {key!r} is already taken by "
                        f"{held.__module__}.{held.__qualname__}"
                    )
        self._classes[cls.__name__] = cls
        for alias in aliases:
            self._aliases[alias] = cls

    def get(self, name: str) -> type | None:
        """The class named ``name`` (exactly), else the one with alias ``name.lower()``."""
        return self._classes.get(name) or self._aliases.get(name.lower())

    def __getitem__(self, name: str) -> type:
        return self._classes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[type]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)

    @property
    def names(self) -> list[str]:
        """Class names, sorted."""
        return sorted(self._classes)

    @property
    def aliases(self) -> list[str]:
        """Aliases, sorted."""
        return sorted(self._aliases)
