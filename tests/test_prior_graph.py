"""The prior graph: one walk over the sites, interval ranges, and the bounds check."""

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from unite_stan.line import FWHM, Redshift
from unite_stan.prior import Fixed, TruncatedNormal, Uniform, fold_expression
from unite_stan.prior_graph import Interval, PriorGraph


def graph(**tokens) -> PriorGraph:
    """The graph of the given tokens, each named by its keyword."""
    for name, token in tokens.items():
        token.name = name
    return PriorGraph({n: t.prior for n, t in tokens.items()}, tokens)


def fwhm_pair(narrow_prior, broad_prior):
    """fwhm_narrow with ``narrow_prior``; fwhm_broad with ``broad_prior(narrow token)``."""
    narrow = FWHM(prior=narrow_prior)
    return graph(fwhm_narrow=narrow, fwhm_broad=FWHM(prior=broad_prior(narrow)))


def error_of(g: PriorGraph, **kwargs) -> str:
    """The message of the ValueError the check raises."""
    with pytest.raises(ValueError) as error:
        g.check(**kwargs)
    return str(error.value)


def checked(g: PriorGraph, **kwargs) -> list[str]:
    """Run the check; the messages of the warnings it gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g.check(**kwargs)
    return [str(w.message) for w in caught]


def test_fold_orders_sites_and_resolves_fixed_expressions():
    a = FWHM(prior=Uniform(100, 200))
    twice = FWHM(prior=Fixed(2 * a))
    b = FWHM(prior=Uniform(twice, 1000))
    g = graph(fwhm_b=b, fwhm_twice=twice, fwhm_a=a)
    assert g.order == ["fwhm_a", "fwhm_twice", "fwhm_b"]
    assert g.free_sites == ["fwhm_a", "fwhm_b"] and g.fixed_sites == ["fwhm_twice"]
    assert g.dependencies("fwhm_b") == ["fwhm_twice"]
    values = g.resolve({"fwhm_a": 150.0, "fwhm_b": 500.0})
    assert values == {"fwhm_a": 150.0, "fwhm_twice": 300.0, "fwhm_b": 500.0}
    assert g.bounds(values) == {"fwhm_a": (100.0, 200.0), "fwhm_b": (300.0, 1000.0)}
    per_draw = g.resolve({"fwhm_a": np.array([100.0, 150.0]), "fwhm_b": np.zeros(2)})
    np.testing.assert_array_equal(per_draw["fwhm_twice"], [200.0, 300.0])
    with pytest.raises(KeyError, match=re.escape("no values for the sampled sites ['fwhm_b']")):
        g.resolve({"fwhm_a": 150.0})
    # a fold in which each sampled site sits at its bounds' midpoint
    middle = g.fold(
        lambda name, prior, evaluate: 0.5 * (evaluate(prior.low) + evaluate(prior.high))
    )
    assert middle == {"fwhm_a": 150.0, "fwhm_twice": 300.0, "fwhm_b": 650.0}


def test_interval_arithmetic_contains_every_result():
    a, b = Interval(1.0, 2.0), Interval(-3.0, 4.0)
    assert (a + b, a - b, a * b, 1 - a) == (
        Interval(-2.0, 6.0),
        Interval(-3.0, 5.0),
        Interval(-6.0, 8.0),
        Interval(-1.0, 0.0),
    )
    assert b / a == Interval(-3.0, 4.0) and 2 / a == Interval(1.0, 2.0)
    assert a / b == Interval(-math.inf, math.inf)  # b holds 0
    assert a * Interval(0.0, math.inf) == Interval(-math.inf, math.inf)
    low, high = a
    assert (low, high) == (1.0, 2.0)


def test_ranges_follow_bound_expressions():
    g = fwhm_pair(Uniform(100, 200), lambda n: Uniform(n * 2, n + 1000))
    assert g.ranges() == {"fwhm_narrow": (100.0, 200.0), "fwhm_broad": (200.0, 1200.0)}
    pinned = g.ranges(
        lambda name, prior, low, high: (150.0, 150.0) if name == "fwhm_narrow" else None
    )
    assert pinned["fwhm_broad"] == (300.0, 1150.0)


def test_bounds_from_fixed_values_that_leave_no_value_are_an_error():
    g = fwhm_pair(Fixed(1200.0), lambda n: Uniform(n, 1000.0))
    assert error_of(g) == (
        "prior of 'fwhm_broad' (Uniform(low=fwhm_narrow, high=1000)) resolves to the empty "
        "interval [1200, 1000] with the fixed value(s) fwhm_narrow=1200: low must be < high"
    )


def test_bounds_empty_for_every_value_of_a_sampled_site_are_an_error():
    z = Redshift(prior=Uniform(-0.0025, 0.0025))
    swapped = graph(z_narrow=z, z_broad=Redshift(prior=Uniform(z + 0.001, z - 0.001)))
    assert error_of(swapped) == (
        "prior of 'z_broad' (Uniform(low=(z_narrow + 0.001), high=(z_narrow - 0.001))) "
        "resolves to an empty interval for every value of z_narrow the priors allow "
        "(high - low is at most -0.002, e.g. [-0.0015, -0.0035] with z_narrow=-0.0025): "
        "low must be < high"
    )
    above = fwhm_pair(Uniform(2500.0, 3000.0), lambda n: TruncatedNormal(1500, 100, n, 2000.0))
    assert error_of(above) == (
        "prior of 'fwhm_broad' (TruncatedNormal(loc=1500, scale=100, low=fwhm_narrow, "
        "high=2000)) resolves to an empty interval for every value of fwhm_narrow the priors "
        "allow (high - low is at most -500, e.g. [2500, 2000] with fwhm_narrow=2500): "
        "low must be < high"
    )


def test_bounds_ordered_by_earlier_bounds_are_decided_exactly():
    """The sites' joint support, not just their ranges: b >= a always, so U(b, a) is empty for
    every value (although a's and b's ranges overlap) and U(a, b) never (no warning)."""
    a = FWHM(prior=Uniform(0.0, 10.0))
    b = FWHM(prior=Uniform(a, 20.0))
    inside = graph(fwhm_a=a, fwhm_b=b, fwhm_c=FWHM(prior=Uniform(a, b)))
    assert checked(inside) == []
    outside = graph(fwhm_a=a, fwhm_b=b, fwhm_c=FWHM(prior=Uniform(b, a)))
    assert error_of(outside) == (
        "prior of 'fwhm_c' (Uniform(low=fwhm_b, high=fwhm_a)) resolves to an empty interval "
        "for every value of fwhm_a, fwhm_b the priors allow (high - low is at most 0, "
        "e.g. [0, 0] with fwhm_a=0, fwhm_b=0): low must be < high"
    )
    z = Redshift(prior=Uniform(-0.0025, 0.0025))
    window = graph(z_narrow=z, z_broad=Redshift(prior=Uniform(z - 0.001, z + 0.001)))
    assert checked(window) == []


def test_bounds_empty_for_some_values_warn():
    g = fwhm_pair(Uniform(0.0, 3000.0), lambda n: Uniform(n, 2000.0))
    assert checked(g) == [
        "prior of 'fwhm_broad' (Uniform(low=fwhm_narrow, high=2000)) resolves to an empty "
        "interval for some values of fwhm_narrow the priors allow (high - low goes down to "
        "-1000, e.g. [3000, 2000] with fwhm_narrow=3000): Stan rejects those values; give the "
        "sites the bounds use priors that keep low < high"
    ]


def test_bounds_that_are_not_affine_are_decided_by_intervals():
    square = fwhm_pair(Uniform(1.0, 2.0), lambda n: Uniform(n * n, 1.0))
    assert error_of(square) == (
        "prior of 'fwhm_broad' (Uniform(low=(fwhm_narrow * fwhm_narrow), high=1)) resolves to "
        "an empty interval for every value of fwhm_narrow the priors allow (high - low is at "
        "most 0 over fwhm_narrow in [1, 2]): low must be < high"
    )
    assert checked(fwhm_pair(Uniform(1.0, 2.0), lambda n: Uniform(n * n, 3.0))) == [
        "prior of 'fwhm_broad' (Uniform(low=(fwhm_narrow * fwhm_narrow), high=3)) may resolve "
        "to an empty interval for some values of fwhm_narrow the priors allow (high - low may "
        "go down to -1 over fwhm_narrow in [1, 2]): Stan rejects those values; give the sites "
        "the bounds use priors that keep low < high"
    ]
    assert checked(fwhm_pair(Uniform(1.0, 2.0), lambda n: Uniform(n * n, 5.0))) == []


def test_init_outside_its_bounds_for_every_value_is_an_error():
    g = fwhm_pair(Uniform(300.0, 400.0), lambda n: Uniform(n, 1000.0))
    assert error_of(g, init_values={"fwhm_broad": 100.0}) == (
        "init=100 of 'fwhm_broad' lies outside its prior bounds for every value the priors "
        "allow (low in [300, 400], high in [1000, 1000])"
    )
    g.check(init_values={"fwhm_broad": 350.0})  # inside for some values of fwhm_narrow
    with pytest.raises(ValueError, match=re.escape("prior bounds (350, 1000)")):
        g.check(init_values={"fwhm_narrow": 350.0, "fwhm_broad": 340.0})


def test_only_the_prior_module_reads_expression_nodes():
    """Every other module reads expressions through fold_expression (and literal_value)."""
    package = Path(__file__).resolve().parents[1] / "unite_stan"
    readers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "prior.py" and re.search(r"_LiteralLeaf|_BinOpExpr", path.read_text())
    ]
    assert readers == []
    a = FWHM("a")
    text = fold_expression(
        2 * a + 1, number=str, token=lambda t: t.label, operation=lambda op, x, y: f"{op}({x}, {y})"
    )
    assert text == "+(*(2.0, a), 1.0)"


def test_model_builder_checks_bounds_before_compiling():
    import astropy.units as u
    from conftest import tutorial_spectrum

    from unite_stan import line, model, spectrum

    z = Redshift("narrow", prior=Uniform(-0.0025, 0.0025))
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563 * u.AA, redshift=z)
    lc.add_line("Ha_broad", 6563 * u.AA, redshift=Redshift("broad", prior=Uniform(z, 0.002)))
    spectra = spectrum.Spectra([tutorial_spectrum()])
    spectra.line_scale = 1e-15 * u.erg / u.s / u.cm**2
    with pytest.warns(UserWarning, match=r"prior of 'z_broad' .* for some values of z_narrow"):
        model.ModelBuilder(lc, None, spectra).build()
