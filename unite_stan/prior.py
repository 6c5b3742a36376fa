"""Priors, parameter tokens and the bound-expression algebra.

Priors are inert descriptions: nothing here knows about Stan. A *bound* (or a ``Fixed`` value) is a
plain number, a token, or an arithmetic expression (``+ - * /``) of tokens and numbers. Tokens are
shared by identity: the same instance used in several places is one parameter.

Code outside this module reads an expression through :func:`fold_expression` (and
:func:`literal_value`, :func:`bound_repr`), never through its node classes.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Union

import numpy as np

__all__ = [
    "Bound",
    "Fixed",
    "Parameter",
    "Prior",
    "TruncatedNormal",
    "Uniform",
    "apply_operation",
    "bound_repr",
    "fold_expression",
    "literal_value",
    "prior_from_dict",
    "topological_sort",
]


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------


class _Expr:
    """Node of a bound expression. Supports ``+ - * /`` with numbers, tokens and expressions."""

    def _combine(self, op: str, other: Any, reflected: bool = False) -> _BinOpExpr:
        other_node = _as_node(other)
        if other_node is None:
            return NotImplemented
        if reflected:
            return _BinOpExpr(op, other_node, self)
        return _BinOpExpr(op, self, other_node)

    def __add__(self, other):
        return self._combine("+", other)

    def __radd__(self, other):
        return self._combine("+", other, reflected=True)

    def __sub__(self, other):
        return self._combine("-", other)

    def __rsub__(self, other):
        return self._combine("-", other, reflected=True)

    def __mul__(self, other):
        return self._combine("*", other)

    def __rmul__(self, other):
        return self._combine("*", other, reflected=True)

    def __truediv__(self, other):
        return self._combine("/", other)

    def __rtruediv__(self, other):
        return self._combine("/", other, reflected=True)

    def dependencies(self) -> set[Parameter]:
        """The tokens the expression refers to."""
        return fold_expression(
            self, number=lambda v: set(), token=lambda t: {t}, operation=lambda op, a, b: a | b
        )

    def evaluate(self, context: Mapping[Parameter, Any]) -> Any:
        """The value, with token values from ``context`` (numbers, arrays, or anything else
        with ``+ - * /``)."""
        return fold_expression(
            self,
            number=lambda v: v,
            token=lambda t: _context_value(context, t),
            operation=apply_operation,
        )

    def to_dict(self, param_namer=None) -> Any:
        """Serialisable form: a number, ``{'ref': site_name}`` or ``{'op', 'left', 'right'}``."""
        return fold_expression(
            self,
            number=lambda v: v,
            token=lambda t: {"ref": param_namer(t) if param_namer is not None else t.name},
            operation=lambda op, a, b: {"op": op, "left": a, "right": b},
        )


def _context_value(context: Mapping[Parameter, Any], token: Parameter) -> Any:
    try:
        return context[token]
    except KeyError:
        raise KeyError(f"no value for parameter {token.display_name} in the context") from None


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _as_node(x: Any) -> _Expr | None:
    if isinstance(x, _Expr):
        return x
    if _is_number(x):
        return _LiteralLeaf(float(x))
    return None


class _LiteralLeaf(_Expr):
    __slots__ = ("value",)

    def __init__(self, value: float):
        self.value = float(value)

    def __repr__(self) -> str:
        return repr(self.value)


#: The arithmetic of bound expressions: operator symbol -> function of the two operands.
_OPERATIONS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def apply_operation(op: str, left: Any, right: Any) -> Any:
    """``left op right`` for one of the operators of bound expressions (``+ - * /``)."""
    return _OPERATIONS[op](left, right)


class _BinOpExpr(_Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: _Expr, right: _Expr):
        if op not in _OPERATIONS:
            raise ValueError(f"unknown operator {op!r}; valid operators are + - * /")
        self.op = op
        self.left = left
        self.right = right

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


Bound = Union[float, "Parameter", _BinOpExpr]


def fold_expression(
    bound: Bound,
    *,
    number: Callable[[float], Any],
    token: Callable[[Parameter], Any],
    operation: Callable[[str, Any, Any], Any],
) -> Any:
    """Reduce a bound expression from its leaves up; every walk over an expression is one.

    Parameters
    ----------
    bound : float, Parameter or expression
        A bound or ``Fixed`` value as priors hold it (a plain number counts as a leaf).
    number : callable
        ``number(value)``: what a numeric leaf (a float) becomes.
    token : callable
        ``token(parameter)``: what a token leaf becomes.
    operation : callable
        ``operation(op, left, right)``: what ``left op right`` becomes, given what its operands
        became; ``op`` is one of ``+ - * /`` (:func:`apply_operation` does the arithmetic).

    Examples
    --------
    >>> a = Parameter("a")
    >>> fold_expression(2 * a + 1, number=str, token=lambda t: t.label,
    ...                 operation=lambda op, x, y: f"({x} {op} {y})")
    '((2.0 * a) + 1.0)'
    """

    def walk(node):
        if isinstance(node, _LiteralLeaf):
            return number(node.value)
        if isinstance(node, _BinOpExpr):
            return operation(node.op, walk(node.left), walk(node.right))
        if isinstance(node, Parameter):
            return token(node)
        if _is_number(node):
            return number(float(node))
        raise TypeError(f"{node!r} is not a bound expression")

    return walk(bound)


def literal_value(bound: Bound) -> float | None:
    """The number of a bound that is a plain number; None for one that refers to tokens."""
    return fold_expression(
        bound, number=lambda v: v, token=lambda t: None, operation=lambda op, a, b: None
    )


def _bound_node(value: Any, what: str) -> _Expr:
    node = _as_node(value)
    if node is None:
        raise TypeError(
            f"{what}={value!r} ({type(value).__name__}): a bound must be a number, a parameter "
            "token or an arithmetic expression of tokens"
        )
    return node


def _node_from_dict(d: Any, registry: Mapping[str, Parameter] | None) -> _Expr:
    if _is_number(d):
        return _LiteralLeaf(float(d))
    if isinstance(d, Mapping) and "ref" in d:
        name = d["ref"]
        if registry is None or name not in registry:
            raise ValueError(f"expression refers to unknown parameter {name!r}")
        return registry[name]
    if isinstance(d, Mapping) and "op" in d:
        return _BinOpExpr(
            d["op"], _node_from_dict(d["left"], registry), _node_from_dict(d["right"], registry)
        )
    raise ValueError(f"cannot read a bound expression from {d!r}")


def bound_repr(bound: Bound) -> str:
    """How priors show a bound: numbers with ``:g``, tokens by site name (or label)."""
    return fold_expression(
        bound,
        number=lambda v: f"{v:g}",
        token=lambda t: t.display_name,
        operation=lambda op, a, b: f"({a} {op} {b})",
    )


# --------------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------------


class Prior(ABC):
    """Base class of the three prior families (``Uniform``, ``TruncatedNormal``, ``Fixed``)."""

    init: float | None = None

    @abstractmethod
    def dependencies(self) -> set[Parameter]:
        """Tokens referenced by the prior's bounds or value."""

    @abstractmethod
    def to_dict(self, param_namer=None) -> dict:
        """Serialisable description; tokens become ``{'ref': site_name}``."""

    def to_dist(self, context: Mapping[Parameter, Any]):
        """``(family, arguments)`` with bounds resolved from ``context`` (None for Fixed)."""
        return None

    @classmethod
    def from_dict(cls, d: Mapping, token_registry: Mapping[str, Parameter] | None = None) -> Prior:
        return prior_from_dict(d, token_registry)

    def _check_init(self, low: _Expr, high: _Expr) -> None:
        if self.init is None:
            return
        init = self.init
        if not _is_number(init) or not math.isfinite(float(init)):
            raise ValueError(f"{self!r}: init={init!r} must be a finite number")
        lo, hi = literal_value(low), literal_value(high)
        if lo is not None and hi is not None and not (lo < float(init) < hi):
            raise ValueError(
                f"{self!r}: init={init!r} must lie strictly inside the bounds ({lo:g}, {hi:g})"
            )
        self.init = float(init)


def _init_dict(d: dict, init: float | None) -> dict:
    if init is not None:
        d["init"] = init
    return d


class Uniform(Prior):
    """Uniform prior on ``[low, high]``; bounds may be numbers, tokens or expressions.

    Parameters
    ----------
    low, high : float, Parameter or expression
        The interval. When both are numbers, ``low < high`` is required.
    init : float, optional
        Start value for the sampler, strictly inside the bounds.
    """

    def __init__(self, low: Bound = 0.0, high: Bound = 1.0, *, init: float | None = None):
        self.low = _bound_node(low, "low")
        self.high = _bound_node(high, "high")
        lo, hi = literal_value(self.low), literal_value(self.high)
        for name, v in (("low", lo), ("high", hi)):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"Uniform({name}={v!r}): bounds must be finite")
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"Uniform(low={lo:g}, high={hi:g}): low must be < high")
        self.init = init
        self._check_init(self.low, self.high)

    def dependencies(self) -> set[Parameter]:
        return self.low.dependencies() | self.high.dependencies()

    def to_dist(self, context):
        return ("uniform", (self.low.evaluate(context), self.high.evaluate(context)))

    def to_dict(self, param_namer=None) -> dict:
        return _init_dict(
            {
                "type": "Uniform",
                "low": self.low.to_dict(param_namer),
                "high": self.high.to_dict(param_namer),
            },
            self.init,
        )

    def __repr__(self) -> str:
        s = f"Uniform(low={bound_repr(self.low)}, high={bound_repr(self.high)}"
        return s + (f", init={self.init:g})" if self.init is not None else ")")


class TruncatedNormal(Prior):
    """Normal(loc, scale) truncated to ``[low, high]`` and normalised on that interval.

    ``loc``, ``low`` and ``high`` may be expressions; ``scale`` must be a positive number.
    ``low=-inf`` and/or ``high=inf`` leave that side open, as in unite (both open: a plain
    Normal). The sampler then works on ``log(value - low)``, ``log(high - value)`` or the value
    itself, as NumPyro does, instead of the logistic scale of a finite interval.
    """

    def __init__(
        self,
        loc: Bound = 0.0,
        scale: float = 1.0,
        low: Bound = -math.inf,
        high: Bound = math.inf,
        *,
        init: float | None = None,
    ):
        self.loc = _bound_node(loc, "loc")
        if not _is_number(scale):
            raise TypeError(
                f"TruncatedNormal(scale={scale!r}): scale must be a plain positive number"
            )
        if not (math.isfinite(float(scale)) and float(scale) > 0):
            raise ValueError(f"TruncatedNormal(scale={scale!r}): scale must be finite and > 0")
        self.scale = float(scale)
        self.low = _bound_node(low, "low")
        self.high = _bound_node(high, "high")
        lo, hi = literal_value(self.low), literal_value(self.high)
        for name, v, open_end in (("low", lo, -math.inf), ("high", hi, math.inf)):
            if v is not None and not (math.isfinite(v) or v == open_end):
                raise ValueError(
                    f"TruncatedNormal({name}={v!r}): a bound must be a finite number or "
                    f"{open_end!r} (that side open)"
                )
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"TruncatedNormal(low={lo:g}, high={hi:g}): low must be < high")
        self.init = init
        self._check_init(self.low, self.high)

    def dependencies(self) -> set[Parameter]:
        return self.loc.dependencies() | self.low.dependencies() | self.high.dependencies()

    def to_dist(self, context):
        return (
            "truncated_normal",
            (
                self.loc.evaluate(context),
                self.scale,
                self.low.evaluate(context),
                self.high.evaluate(context),
            ),
        )

    def to_dict(self, param_namer=None) -> dict:
        return _init_dict(
            {
                "type": "TruncatedNormal",
                "loc": self.loc.to_dict(param_namer),
                "scale": self.scale,
                "low": self.low.to_dict(param_namer),
                "high": self.high.to_dict(param_namer),
            },
            self.init,
        )

    def __repr__(self) -> str:
        s = (
            f"TruncatedNormal(loc={bound_repr(self.loc)}, scale={self.scale:g}, "
            f"low={bound_repr(self.low)}, high={bound_repr(self.high)}"
        )
        return s + (f", init={self.init:g})" if self.init is not None else ")")


class Fixed(Prior):
    """A parameter held at a value: a number, a token, or an expression of tokens."""

    def __init__(self, value: Bound):
        if isinstance(value, np.floating) and not isinstance(value, np.float64):
            raise TypeError(
                f"Fixed(value={value!r}): {type(value).__name__} is not accepted; "
                "use a Python float or numpy.float64"
            )
        if isinstance(value, _Expr):
            self.value = value
        elif _is_number(value):
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"Fixed(value={value!r}): the value must be finite")
            self.value = _LiteralLeaf(v)
        else:
            raise TypeError(
                f"Fixed(value={value!r}) ({type(value).__name__}): the value must be a number, "
                "a parameter token or an expression of tokens"
            )

    @property
    def init(self):  # Fixed parameters are never sampled
        return None

    def dependencies(self) -> set[Parameter]:
        return self.value.dependencies()

    def resolved_value(self, context: Mapping[Parameter, Any]) -> Any:
        """The value, with token values taken from ``context`` (``{}`` for literals)."""
        return self.value.evaluate(context)

    def to_dict(self, param_namer=None) -> dict:
        return {"type": "Fixed", "value": self.value.to_dict(param_namer)}

    def __repr__(self) -> str:
        return f"Fixed({bound_repr(self.value)})"


_PRIOR_TYPES = {"Uniform": Uniform, "TruncatedNormal": TruncatedNormal, "Fixed": Fixed}


def prior_from_dict(d: Mapping, token_registry: Mapping[str, Parameter] | None = None) -> Prior:
    """Rebuild a prior from :meth:`Prior.to_dict` output.

    ``token_registry`` maps site names to tokens for expressions that reference parameters.
    """
    kind = d.get("type")
    if kind not in _PRIOR_TYPES:
        raise ValueError(f"unknown prior type {kind!r}; valid types are {sorted(_PRIOR_TYPES)}")

    def node(key, default=None):
        return _node_from_dict(d[key], token_registry) if key in d else default

    if kind == "Fixed":
        return Fixed(node("value"))
    if kind == "Uniform":
        return Uniform(node("low"), node("high"), init=d.get("init"))
    return TruncatedNormal(
        node("loc"), float(d["scale"]), node("low"), node("high"), init=d.get("init")
    )


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------


class Parameter(_Expr):
    """A named model parameter ("token"), shared by identity.

    Parameters
    ----------
    name : str, optional
        A user label; the site name becomes ``{prefix}_{label}``.
    prior : Prior, optional
        Defaults to the token class's default prior.
    """

    _default_prior: Prior = Uniform(0.0, 1.0)
    _site_prefix: str | None = None

    def __init__(self, name: str | None = None, *, prior: Prior | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}(name={name!r}): a label must be a string")
        if name == "":
            raise ValueError(f"{type(self).__name__}(name=''): a label must not be empty")
        self.label = name
        self._name: str | None = None
        self.prior = prior if prior is not None else self._fresh_default_prior()

    @classmethod
    def _fresh_default_prior(cls) -> Prior:
        return prior_from_dict(cls._default_prior.to_dict())

    # identity semantics: tokens are dictionary keys
    __hash__ = object.__hash__

    def __eq__(self, other):  # noqa: D105 - identity equality, never elementwise
        return self is other

    @property
    def prior(self) -> Prior:
        return self._prior

    @prior.setter
    def prior(self, prior: Prior) -> None:
        if not isinstance(prior, Prior):
            raise TypeError(
                f"{type(self).__name__}: prior={prior!r} must be a Uniform, TruncatedNormal or "
                "Fixed instance"
            )
        for dep in prior.dependencies():
            if type(dep) is not type(self):
                raise TypeError(
                    f"{type(self).__name__} prior {prior!r} refers to a {type(dep).__name__} "
                    f"token ({dep._display()}); a prior may only refer to tokens of the same "
                    f"class ({type(self).__name__})"
                )
        self._prior = prior

    @property
    def name(self) -> str:
        """Site name (assigned when the token is registered in a configuration)."""
        if self._name is None:
            raise AttributeError(
                f"{type(self).__name__}(label={self.label!r}) has no site name yet: it is "
                "assigned when the token is added to a configuration"
            )
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def has_name(self) -> bool:
        return self._name is not None

    @property
    def display_name(self) -> str:
        return self._display()

    def _display(self) -> str:
        if self._name is not None:
            return self._name
        if self.label is not None:
            return self.label
        return f"<anonymous {type(self).__name__}>"

    def __repr__(self) -> str:
        label = f"{self.label!r}, " if self.label is not None else ""
        return f"{type(self).__name__}({label}prior={self.prior!r})"


# --------------------------------------------------------------------------------------------
# Ordering
# --------------------------------------------------------------------------------------------


def topological_sort(
    named_priors: Mapping[str, Prior], param_to_name: Mapping[Parameter, str]
) -> list[str]:
    """Order site names so that each prior comes after the parameters it depends on.

    Kahn's algorithm; among parameters that are ready at the same time the alphabetically
    smallest site name goes first.

    Raises
    ------
    ValueError
        On a cycle, or a reference to a token that is not part of the model.
    """
    deps: dict[str, set[str]] = {}
    for name, prior in named_priors.items():
        names = set()
        for token in prior.dependencies():
            if token not in param_to_name:
                raise ValueError(
                    f"prior of {name!r} refers to {token._display()}, which is not a parameter "
                    "of this model"
                )
            names.add(param_to_name[token])
        deps[name] = names
    order: list[str] = []
    done: set[str] = set()
    remaining = set(deps)
    while remaining:
        ready = sorted(n for n in remaining if deps[n] <= done)
        if not ready:
            raise ValueError(
                "Circular dependency between the priors of: " + ", ".join(sorted(remaining))
            )
        first = ready[0]
        order.append(first)
        done.add(first)
        remaining.remove(first)
    return order
