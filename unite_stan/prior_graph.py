"""The prior graph of a model: its sites, their priors, and one walk over them.

A site's prior may refer to other sites: a ``Fixed`` value or a bound can be an expression of
tokens (``Uniform(fwhm_narrow, 2000)``, ``Fixed(flux_Ha / 2.86)``). Everything that needs the
values of all sites, or of the bounds of the sampled ones, walks the sites in dependency order
and evaluates those expressions with the values found so far; :meth:`PriorGraph.fold` is that
walk, and the other operations are folds in some arithmetic:

* :meth:`PriorGraph.resolve`: values (numbers or arrays of draws) of every site from those of the
  sampled ones;
* :meth:`PriorGraph.bounds`: the bounds of each sampled site at given values;
* :meth:`PriorGraph.ranges`: the interval each site can take under the priors (interval
  arithmetic, :class:`Interval`);
* :meth:`PriorGraph.check`: before anything is compiled, whether every sampled site's bounds
  can hold a value, and every ``init`` lies inside its bounds.

Nothing here knows about Stan.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unite_stan.prior import (
    Fixed,
    Parameter,
    Prior,
    apply_operation,
    fold_expression,
    topological_sort,
)

__all__ = ["Interval", "PriorGraph"]


# --------------------------------------------------------------------------------------------
# Interval arithmetic
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A closed interval ``[lo, hi]`` with outward arithmetic: ``a op b`` contains ``x op y``
    for every ``x`` in ``a`` and ``y`` in ``b``. What cannot be bounded (a product with an
    infinite end, a division by an interval holding 0) is ``(-inf, inf)``.

    Unpacks as ``lo, hi = interval``.
    """

    lo: float
    hi: float

    @classmethod
    def of(cls, value: Interval | float) -> Interval:
        """``value`` as an interval (a number is the interval of one point)."""
        return value if isinstance(value, Interval) else cls(float(value), float(value))

    def __iter__(self):
        return iter((self.lo, self.hi))

    def __add__(self, other):
        b = Interval.of(other)
        return Interval(self.lo + b.lo, self.hi + b.hi)

    def __sub__(self, other):
        b = Interval.of(other)
        return Interval(self.lo - b.hi, self.hi - b.lo)

    def __mul__(self, other):
        b = Interval.of(other)
        ends = (self.lo, self.hi, b.lo, b.hi)
        if any(math.isinf(x) for x in ends):
            return _EVERYTHING
        products = [x * y for x in (self.lo, self.hi) for y in (b.lo, b.hi)]
        return Interval(min(products), max(products))

    def __truediv__(self, other):
        b = Interval.of(other)
        if b.lo <= 0.0 <= b.hi:
            return _EVERYTHING
        return self * Interval(1.0 / b.hi, 1.0 / b.lo)

    def __radd__(self, other):
        return Interval.of(other) + self

    def __rsub__(self, other):
        return Interval.of(other) - self

    def __rmul__(self, other):
        return Interval.of(other) * self

    def __rtruediv__(self, other):
        return Interval.of(other) / self


_EVERYTHING = Interval(-math.inf, math.inf)


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


class PriorGraph:
    """The sites of a model with their priors, in dependency order.

    Parameters
    ----------
    priors : mapping
        Site name -> prior.
    tokens : mapping
        Site name -> token (the :class:`~unite_stan.prior.Parameter` expressions refer to).
    order : sequence of str, optional
        The sites in dependency order (each after the sites its prior refers to); by default
        :func:`~unite_stan.prior.topological_sort`'s.
    coordinates : mapping, optional
        Site name -> the sampling coordinate its component declares for it (e.g. ``'slope'``
        for a Linear continuum's ``angle``: ``ContinuumForm.slot_coordinates``).

    Attributes
    ----------
    order : list of str
        Every site, in dependency order.
    free_sites, fixed_sites : list of str
        The sampled sites and the ``Fixed`` ones, each in dependency order.
    """

    def __init__(
        self,
        priors: Mapping[str, Prior],
        tokens: Mapping[str, Parameter],
        order: Sequence[str] | None = None,
        coordinates: Mapping[str, str] | None = None,
    ):
        self.priors = dict(priors)
        self.tokens = dict(tokens)
        self.coordinates = dict(coordinates or {})
        self._site_of = {token: name for name, token in self.tokens.items()}
        self.order = list(order) if order is not None else topological_sort(priors, self._site_of)
        self.free_sites = [n for n in self.order if not isinstance(self.priors[n], Fixed)]
        self.fixed_sites = [n for n in self.order if isinstance(self.priors[n], Fixed)]

    def site_of(self, token: Parameter) -> str:
        """The site name of a token of this model."""
        return self._site_of[token]

    def dependencies(self, name: str) -> list[str]:
        """The sites the prior of ``name`` refers to, in dependency order."""
        deps = {self._site_of[t] for t in self.priors[name].dependencies()}
        return [n for n in self.order if n in deps]

    def evaluate(self, bound, values: Mapping[str, Any]) -> Any:
        """A bound (number, token or expression) with site values from ``values``.

        The values may be numbers, arrays of draws, :class:`Interval` s or anything else with
        ``+ - * /``; numbers in the expression enter as floats.
        """
        return fold_expression(
            bound,
            number=lambda v: v,
            token=lambda t: values[self._site_of[t]],
            operation=apply_operation,
        )

    def fold(self, free_value: Callable[[str, Prior, Callable], Any]) -> dict[str, Any]:
        """Give every site a value, in dependency order: the one walk over the graph.

        Parameters
        ----------
        free_value : callable
            ``free_value(name, prior, evaluate)`` returns the value of the sampled site
            ``name``; ``evaluate(bound)`` gives a bound of its prior from the values of the sites
            before it (see :meth:`evaluate`). A ``Fixed`` site's value is its evaluated value.

        Returns
        -------
        dict
            Site name -> value, in dependency order.
        """
        values: dict[str, Any] = {}

        def evaluate(bound):
            return self.evaluate(bound, values)

        for name in self.order:
            prior = self.priors[name]
            if isinstance(prior, Fixed):
                values[name] = evaluate(prior.value)
            else:
                values[name] = free_value(name, prior, evaluate)
        return values

    def resolve(self, free_values: Mapping[str, Any]) -> dict[str, Any]:
        """Every site's value from the sampled sites' values (numbers, or arrays of draws).

        A ``Fixed`` number stays a float, a ``Fixed`` expression is evaluated (per draw).

        Raises
        ------
        KeyError
            When ``free_values`` lacks a sampled site.
        """
        missing = [n for n in self.free_sites if n not in free_values]
        if missing:
            raise KeyError(f"no values for the sampled sites {missing}")
        return self.fold(lambda name, prior, evaluate: free_values[name])

    def bounds(self, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        """``(low, high)`` of each sampled site's prior at the sites' ``values`` (as given by
        :meth:`resolve`)."""
        return {
            name: (
                self.evaluate(self.priors[name].low, values),
                self.evaluate(self.priors[name].high, values),
            )
            for name in self.free_sites
        }

    def ranges(
        self,
        restrict: Callable[[str, Prior, Interval, Interval], Any] | None = None,
    ) -> dict[str, tuple[float, float]]:
        """Site name -> ``(lowest, highest)`` value the priors allow, in dependency order.

        Interval arithmetic over the bound expressions; the ranges contain every value a site
        can take (they are exact unless an expression uses a site twice or sites' ranges
        depend on each other). Anything that cannot be bounded is ``(-inf, inf)``.

        Parameters
        ----------
        restrict : callable, optional
            ``restrict(name, prior, low, high)``, given the intervals of a sampled site's bounds,
            returns a narrower ``(lo, hi)`` for the site, or None to keep
            ``(low.lo, high.hi)``.
        """

        def free_range(name, prior, evaluate):
            low = Interval.of(evaluate(prior.low))
            high = Interval.of(evaluate(prior.high))
            narrower = restrict(name, prior, low, high) if restrict is not None else None
            return Interval(*narrower) if narrower is not None else Interval(low.lo, high.hi)

        return {name: tuple(Interval.of(v)) for name, v in self.fold(free_range).items()}

    def check(self, init_values: Mapping[str, float] | None = None) -> None:
        """Check what can be decided before sampling: bounds that can hold a value, and start
        values inside them.

        A sampled site whose bounds are expressions of other sites has, for each value of
        those sites, the interval ``[low, high]``; the sampler rejects every value where
        ``low >= high``. Over all the values the priors allow:

        * empty for every one: ``ValueError`` (the model has no valid value at all);
        * empty for some: ``UserWarning`` (Stan rejects those values; usually a prior
          of a site the bounds use is wider than the user meant).

        The decision is exact when every bound and ``Fixed`` value the bounds use is affine in
        the sampled sites (sums, differences and multiples of tokens; all the bounds unite's
        configurations make): the extremes of ``high - low`` over the sampled sites' joint
        support (each between its bounds) are two linear programs. Other expressions are
        bounded by interval arithmetic over the sites' ranges, which contain every value:
        an error then still means empty for every value (so no model with a valid value is
        ever rejected), while a warning may be given where only the looseness of the
        intervals allows ``low >= high``. ``high - low`` within a billionth of the bounds'
        magnitude of zero counts as zero (the rounding of the programs' solutions).

        Each ``init`` must lie inside its bounds for some value of the sites they use, with
        the other ``init`` values taken as the start values of their sites.

        Parameters
        ----------
        init_values : mapping, optional
            Site name -> start value.

        Raises
        ------
        ValueError
            Naming the site, its prior and the values that make the interval empty (or the
            start value and the bounds).
        """
        _BoundsCheck(self).run()
        if init_values:
            self._check_inits(dict(init_values))

    def _check_inits(self, inits: dict[str, float]) -> None:
        def at_init(name, prior, low, high):
            value = inits.get(name)
            if value is None:
                return None
            if not low.lo < value < high.hi:
                if low.lo == low.hi and high.lo == high.hi:
                    where = f"({low.lo:g}, {high.hi:g})"
                else:
                    where = (
                        f"for every value the priors allow (low in [{low.lo:g}, {low.hi:g}], "
                        f"high in [{high.lo:g}, {high.hi:g}])"
                    )
                raise ValueError(
                    f"init={value:g} of {name!r} lies outside its prior bounds {where}"
                )
            return value, value

        self.ranges(at_init)


# --------------------------------------------------------------------------------------------
# The bounds check
# --------------------------------------------------------------------------------------------


class _Nonlinear:
    """The value of an expression that is not affine in the sampled sites (absorbs every
    operation)."""

    def _absorb(self, other):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = _absorb
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _absorb


_NONLINEAR = _Nonlinear()


@dataclass(frozen=True)
class _Affine:
    """``const + sum(coef[site] * site)`` over sampled sites (a plain float when no site)."""

    const: float
    coef: dict

    @staticmethod
    def make(const: float, coef: dict):
        coef = {k: c for k, c in coef.items() if c != 0.0}
        return _Affine(const, coef) if coef else const

    def __add__(self, other):
        if isinstance(other, _Nonlinear):
            return other
        b = other if isinstance(other, _Affine) else _Affine(float(other), {})
        keys = self.coef.keys() | b.coef.keys()
        return _Affine.make(
            self.const + b.const, {k: self.coef.get(k, 0.0) + b.coef.get(k, 0.0) for k in keys}
        )

    __radd__ = __add__

    def __neg__(self):
        return _Affine(-self.const, {k: -c for k, c in self.coef.items()})

    def __sub__(self, other):
        return self + (-other if not isinstance(other, _Nonlinear) else other)

    def __rsub__(self, other):
        return (-self) + other

    def _scaled(self, factor):
        if isinstance(factor, (_Affine, _Nonlinear)):
            return _NONLINEAR
        return _Affine.make(self.const * factor, {k: c * factor for k, c in self.coef.items()})

    def __mul__(self, other):
        return self._scaled(other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, (_Affine, _Nonlinear)) or other == 0:
            return _NONLINEAR
        return self._scaled(1 / other)

    def __rtruediv__(self, other):
        return _NONLINEAR


def _value_at(form, point: Mapping[str, float]) -> float:
    """An affine form (or a number) at a point (sampled site -> value)."""
    if not isinstance(form, _Affine):
        return float(form)
    return form.const + sum(c * point[name] for name, c in form.coef.items())


def _format_values(values: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in values.items())


_FIX_HINT = "Stan rejects those values; give the sites the bounds use priors that keep low < high"


class _BoundsCheck:
    """:meth:`PriorGraph.check`'s test of every sampled site's bounds, in dependency order."""

    #: ``high - low`` within this fraction of the bounds' magnitude of zero counts as zero
    #: (the linear programs' vertices carry rounding errors).
    TOLERANCE = 1e-9

    def __init__(self, graph: PriorGraph):
        self.graph = graph
        self.ranges = {name: Interval(*r) for name, r in graph.ranges().items()}
        # each site's value as an affine form of the sampled sites
        self.forms = graph.fold(lambda name, prior, evaluate: _Affine(0.0, {name: 1.0}))
        # "form <= 0" for each sampled site between bounds that are affine forms
        self.rows: list[_Affine] = []

    def run(self) -> None:
        for k, name in enumerate(self.graph.free_sites):
            prior = self.graph.priors[name]
            tokens = prior.low.dependencies() | prior.high.dependencies()
            if not tokens:
                continue  # numbers: the prior checked them
            low, high = (self.graph.evaluate(b, self.forms) for b in (prior.low, prior.high))
            deps = [n for n in self.graph.order if self.graph.tokens[n] in tokens]
            self._check_site(name, prior, deps, high - low, self.graph.free_sites[:k])
            for side in (low - self.forms[name], self.forms[name] - high):
                if isinstance(side, _Affine):
                    self.rows.append(side)

    def _check_site(self, name: str, prior: Prior, deps: list[str], width, before) -> None:
        if isinstance(width, _Nonlinear):
            self._check_by_intervals(name, prior, deps)
            return
        constants = {d: self.forms[d] for d in deps}
        if not isinstance(width, _Affine):  # the same for every value
            if width > 0:
                return
            if not any(isinstance(v, (_Affine, _Nonlinear)) for v in constants.values()):
                low, high = (self.graph.evaluate(b, constants) for b in (prior.low, prior.high))
                raise ValueError(
                    f"prior of {name!r} ({prior!r}) resolves to the empty interval "
                    f"[{low:g}, {high:g}] with the fixed value(s) {_format_values(constants)}: "
                    "low must be < high"
                )
        extremes = self._extremes(width, before)
        if extremes is None:  # no answer from the solver: decide by intervals
            self._check_by_intervals(name, prior, deps)
            return
        (most, at_most), (least, at_least) = extremes
        head = f"prior of {name!r} ({prior!r}) resolves to an empty interval for"
        values, low, high = self._bounds_at(prior, deps, at_most)
        if most <= self.TOLERANCE * max(abs(low), abs(high)):
            raise ValueError(
                f"{head} every value of {', '.join(deps)} the priors allow (high - low is at "
                f"most {most:g}, e.g. [{low:g}, {high:g}] with {_format_values(values)}): "
                "low must be < high"
            )
        values, low, high = self._bounds_at(prior, deps, at_least)
        if least < -self.TOLERANCE * max(abs(low), abs(high)):
            warnings.warn(
                f"{head} some values of {', '.join(deps)} the priors allow (high - low goes "
                f"down to {least:g}, e.g. [{low:g}, {high:g}] with {_format_values(values)}): "
                + _FIX_HINT,
                UserWarning,
                stacklevel=4,
            )

    def _bounds_at(self, prior: Prior, deps: list[str], point: Mapping[str, float]):
        """``(values of deps, low, high)`` at a point of the sampled sites."""
        values = {d: _value_at(self.forms[d], point) for d in deps}
        low, high = (self.graph.evaluate(b, values) for b in (prior.low, prior.high))
        return values, low, high

    def _extremes(self, width, sites: list[str]):
        """``[(max, point), (min, point)]`` of ``width`` (affine in ``sites``, or a number)
        over the joint support of the sampled ``sites``, a point being site -> value; None when
        the solver gives no answer."""
        from scipy.optimize import linprog

        width = width if isinstance(width, _Affine) else _Affine(float(width), {})
        objective = [width.coef.get(n, 0.0) for n in sites]
        rows = [[row.coef.get(n, 0.0) for n in sites] for row in self.rows]
        limits = [-row.const for row in self.rows]
        box = [tuple(None if math.isinf(x) else x for x in self.ranges[n]) for n in sites]
        out = []
        for sign in (-1.0, 1.0):  # maximum, then minimum
            found = linprog(
                [sign * c for c in objective],
                A_ub=rows or None,
                b_ub=limits or None,
                bounds=box,
                method="highs",
            )
            if found.status != 0:
                return None
            point = dict(zip(sites, (float(x) for x in found.x), strict=True))
            out.append((_value_at(width, point), point))
        return out

    def _check_by_intervals(self, name: str, prior: Prior, deps: list[str]) -> None:
        low, high = (
            Interval.of(self.graph.evaluate(b, self.ranges)) for b in (prior.low, prior.high)
        )
        width = high - low
        over = ", ".join(f"{d} in [{self.ranges[d].lo:g}, {self.ranges[d].hi:g}]" for d in deps)
        if width.hi <= 0:
            raise ValueError(
                f"prior of {name!r} ({prior!r}) resolves to an empty interval for every "
                f"value of {', '.join(deps)} the priors allow (high - low is at most "
                f"{width.hi:g} over {over}): low must be < high"
            )
        if width.lo < 0:
            warnings.warn(
                f"prior of {name!r} ({prior!r}) may resolve to an empty interval for some "
                f"values of {', '.join(deps)} the priors allow (high - low may go down to "
                f"{width.lo:g} over {over}): {_FIX_HINT}",
                UserWarning,
                stacklevel=5,
            )
