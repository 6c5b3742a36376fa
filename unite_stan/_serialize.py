"""Dictionaries and YAML files of configurations, in unite's layout (spec §5).

One module holds the machinery every configuration uses: strict reading of prior dicts and
bound expressions, checks of keys, safe YAML, and the methods (``to_yaml``, ``from_yaml``,
``save``, ``load``) that the configurations get from :class:`YamlMixin`. The layout of each
configuration is written and read here too, so that the classes only call it.

Reading is strict: a key that is not part of the layout, an unknown ``type``, a reference to a
parameter the file does not define, or a parameter no line, region or disperser uses raises
``ValueError`` naming it (and the file, when reading one). Only PyYAML's ``safe_load`` is used,
so a file with ``!!python/...`` tags is refused.
"""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from unite_stan.prior import Fixed, Parameter, Prior, TruncatedNormal, Uniform, make_operation

__all__ = [
    "YamlMixin",
    "dump_yaml",
    "load_yaml",
    "prior_from_yaml",
    "prior_to_yaml",
]


# --------------------------------------------------------------------------------------------
# YAML text
# --------------------------------------------------------------------------------------------


def dump_yaml(d: Mapping) -> str:
    """YAML text of a configuration dict, as unite writes it (block style, keys in order)."""
    return yaml.safe_dump(d, default_flow_style=False, sort_keys=False)


def load_yaml(text: str, source: str | None = None) -> Any:
    """Parse YAML text with ``yaml.safe_load``; python tags and syntax errors raise ValueError."""
    where = f" in {source}" if source else ""
    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as err:
        tag = getattr(err, "problem", "") or str(err)
        raise ValueError(
            f"cannot read the configuration{where}: {tag.strip()}; configuration files are read "
            "with yaml.safe_load, which refuses Python object tags (!!python/...); write plain "
            "YAML (numbers, strings, lists and mappings) as to_yaml() does"
        ) from None
    except yaml.YAMLError as err:
        raise ValueError(f"cannot read the configuration{where}: not valid YAML ({err})") from None


@contextlib.contextmanager
def in_file(path) -> Iterator[None]:
    """Prefix the message of a ValueError, TypeError or KeyError raised inside with ``path``."""
    try:
        yield
    except (ValueError, TypeError, KeyError) as err:
        message = err.args[0] if err.args else str(err)
        raise type(err)(f"{os.fspath(path)}: {message}") from None


class YamlMixin:
    """``to_yaml``, ``from_yaml``, ``save`` and ``load`` from ``to_dict`` and ``from_dict``."""

    def to_dict(self) -> dict:  # pragma: no cover - every configuration defines it
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: Mapping):  # pragma: no cover - every configuration defines it
        raise NotImplementedError

    def to_yaml(self) -> str:
        """The configuration as YAML text (unite's layout)."""
        return dump_yaml(self.to_dict())

    @classmethod
    def from_yaml(cls, text: str):
        """The configuration a YAML text describes (read with ``yaml.safe_load``)."""
        return cls.from_dict(load_yaml(text))

    def save(self, path) -> None:
        """Write :meth:`to_yaml` to ``path``."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_yaml())

    @classmethod
    def load(cls, path):
        """Read a configuration written by :meth:`save` (or by unite); errors name the file."""
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"configuration file {os.fspath(path)} does not exist"
            ) from None
        data = load_yaml(text, os.fspath(path))
        with in_file(path):
            return cls.from_dict(data)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def check_mapping(d: Any, where: str) -> Mapping:
    if not isinstance(d, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(d).__name__} {d!r}")
    return d


def check_keys(d: Any, where: str, required: tuple = (), optional: tuple = ()) -> Mapping:
    """``d`` is a mapping with every ``required`` key and no key outside ``required + optional``."""
    check_mapping(d, where)
    valid = (*required, *optional)
    for key in d:
        if key not in valid:
            raise ValueError(f"unknown key {key!r} in {where}; valid keys are {list(valid)}")
    for key in required:
        if key not in d:
            raise ValueError(f"missing key {key!r} in {where}")
    return d


def check_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}={value!r} must be a number")
    return float(value)


def check_string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}={value!r} must be a non-empty string")
    return value


def check_length_unit(value: Any, where: str):
    """An astropy length unit from its string (``'Angstrom'``, ``'um'``)."""
    import astropy.units as u

    check_string(value, where)
    try:
        unit = u.Unit(value)
    except ValueError:
        raise ValueError(f"{where}={value!r} is not an astropy unit") from None
    if not unit.is_equivalent(u.m):
        raise ValueError(f"{where}={value!r} is not a length unit")
    return unit


def lookup(registry: Mapping[str, Parameter], site: Any, where: str) -> Parameter:
    """The token of site name ``site``; an unknown name raises ValueError naming it."""
    if not isinstance(site, str) or site not in registry:
        raise ValueError(
            f"{where} refers to unknown parameter {site!r}; parameters defined in the file are "
            f"{list(registry)}"
        )
    return registry[site]


def check_all_used(registry: Mapping[str, Parameter], used: set[str], what: str) -> None:
    """Every parameter the file defines is used: nothing the user wrote is dropped."""
    unused = [name for name in registry if name not in used]
    if unused:
        raise ValueError(f"parameters {unused} are defined but no {what} uses them")


def plain(value: Any) -> Any:
    """Numbers as Python floats/ints (numpy scalars are not safe YAML)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


# --------------------------------------------------------------------------------------------
# Priors and bound expressions
# --------------------------------------------------------------------------------------------

#: the keys of each prior type's dict (required, optional)
PRIOR_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Uniform": (("type", "low", "high"), ("init",)),
    "TruncatedNormal": (("type", "loc", "scale", "low", "high"), ("init",)),
    "Fixed": (("type", "value"), ()),
}


def prior_to_yaml(prior: Prior) -> dict:
    """unite's prior dict: ``{type, low/high/loc/scale/value, [init]}``; tokens by site name."""
    return prior.to_dict(lambda token: token.name)


def expression_from_yaml(d: Any, registry: Mapping[str, Parameter], where: str) -> Any:
    """A number, token or expression from ``{'ref': site}`` / ``{'op', 'left', 'right'}``."""
    if isinstance(d, numbers.Real) and not isinstance(d, bool):
        return float(d)
    if isinstance(d, Mapping) and "ref" in d:
        check_keys(d, where, ("ref",))
        return lookup(registry, d["ref"], where)
    if isinstance(d, Mapping) and "op" in d:
        check_keys(d, where, ("op", "left", "right"))
        if d["op"] not in ("+", "-", "*", "/"):
            raise ValueError(
                f"unknown operator {d['op']!r} in {where}; valid operators are + - * /"
            )
        left = expression_from_yaml(d["left"], registry, where)
        right = expression_from_yaml(d["right"], registry, where)
        return make_operation(d["op"], left, right)
    raise ValueError(
        f"{where}={d!r} is not a number, {{ref: name}} or {{op: ..., left: ..., right: ...}}"
    )


def prior_from_yaml(d: Any, registry: Mapping[str, Parameter], where: str) -> Prior:
    """A prior from unite's dict, with strict keys; ``registry`` resolves ``{ref: site}``."""
    check_mapping(d, where)
    kind = d.get("type")
    if kind not in PRIOR_KEYS:
        raise ValueError(
            f"unknown prior type {kind!r} in {where}; valid types are {list(PRIOR_KEYS)}"
        )
    required, optional = PRIOR_KEYS[kind]
    check_keys(d, where, required, optional)

    def bound(key):
        return expression_from_yaml(d[key], registry, f"{where}.{key}")

    init = check_number(d["init"], f"{where}.init") if d.get("init") is not None else None
    try:
        if kind == "Fixed":
            return Fixed(bound("value"))
        if kind == "Uniform":
            return Uniform(bound("low"), bound("high"), init=init)
        scale = check_number(d["scale"], f"{where}.scale")
        return TruncatedNormal(bound("loc"), scale, bound("low"), bound("high"), init=init)
    except ValueError as err:  # the prior's own check (low < high, init inside...): say where
        if str(err).startswith(f"{where}"):
            raise
        raise ValueError(f"{where}: {err}") from err


def read_tokens(
    declared: Mapping[str, tuple[type[Parameter], Any, str]],
    *,
    label: Callable[[str, type[Parameter]], str | None] | None = None,
) -> dict[str, Parameter]:
    """Tokens of site names, then their priors (so a bound may refer to any of them).

    ``declared`` maps site name → (token class, prior dict, where). Tokens get the site name
    as their name, or the label ``label(site, cls)`` returns (calibration tokens).
    """
    registry: dict[str, Parameter] = {}
    for site, (cls, _, _) in declared.items():
        token_label = label(site, cls) if label is not None else None
        token = cls(token_label, prior=Fixed(0.0))
        if token_label is None:
            token.name = site
        registry[site] = token
    for site, (_, prior_dict, where) in declared.items():
        registry[site].prior = prior_from_yaml(prior_dict, registry, where)
    return registry
