import math

import numpy as np
import pytest

from unite_stan import prior
from unite_stan.line import FWHM, Flux, Redshift


def test_uniform_low_not_below_high_is_an_error():
    with pytest.raises(ValueError, match=r"Uniform\(low=3, high=1\): low must be < high"):
        prior.Uniform(3, 1)
    with pytest.raises(ValueError, match=r"Uniform\(low=2, high=2\): low must be < high"):
        prior.Uniform(2, 2)


def test_uniform_init_is_validated_against_literal_bounds():
    assert prior.Uniform(0, 1, init=0.5).init == 0.5
    with pytest.raises(ValueError, match=r"init=2 must lie strictly inside the bounds \(0, 1\)"):
        prior.Uniform(0, 1, init=2)


def test_truncated_normal_scale_must_be_positive_number():
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        prior.TruncatedNormal(0, -1, -1, 1)
    with pytest.raises(TypeError, match="scale must be a plain positive number"):
        prior.TruncatedNormal(0, FWHM("a"), -1, 1)


def test_fixed_accepts_numbers_tokens_and_expressions_only():
    assert prior.Fixed(np.float64(2.5)).resolved_value({}) == 2.5
    with pytest.raises(TypeError, match="float32 is not accepted"):
        prior.Fixed(np.float32(1.0))
    with pytest.raises(TypeError, match="must be a number, a parameter token or an expression"):
        prior.Fixed("1.0")
    a = FWHM("a")
    f = prior.Fixed(a * 2 + 1)
    assert f.resolved_value({a: 3.0}) == 7.0
    assert f.dependencies() == {a}


def test_expression_arithmetic_both_operand_orders():
    a, b = FWHM("a"), FWHM("b")
    ctx = {a: 6.0, b: 2.0}
    assert (a + b).evaluate(ctx) == 8.0
    assert (10 - a).evaluate(ctx) == 4.0
    assert (a / b).evaluate(ctx) == 3.0
    assert (3 / b).evaluate(ctx) == 1.5
    assert (2 * a * b).evaluate(ctx) == 24.0


def test_prior_may_only_reference_tokens_of_the_same_class():
    z = Redshift("n")
    with pytest.raises(TypeError, match="may only refer to tokens of the same class"):
        FWHM("broad", prior=prior.Uniform(z, 1000))


def test_topological_sort_orders_dependencies_then_alphabetically():
    a, b, c = FWHM("a"), FWHM("b"), FWHM("c")
    a.prior = prior.Uniform(b, 1000)
    named = {"fwhm_a": a.prior, "fwhm_b": b.prior, "fwhm_c": c.prior}
    order = prior.topological_sort(named, {a: "fwhm_a", b: "fwhm_b", c: "fwhm_c"})
    assert order == ["fwhm_b", "fwhm_a", "fwhm_c"]


def test_topological_sort_cycle_is_an_error():
    a, b = FWHM("a"), FWHM("b")
    a.prior = prior.Uniform(b, 1000)
    b.prior = prior.Uniform(a, 1000)
    with pytest.raises(
        ValueError, match="Circular dependency between the priors of: fwhm_a, fwhm_b"
    ):
        prior.topological_sort({"fwhm_a": a.prior, "fwhm_b": b.prior}, {a: "fwhm_a", b: "fwhm_b"})


def test_round_trip_dict_with_expression():
    a = FWHM("a")
    a.name = "fwhm_gauss_a"
    p = prior.Uniform(a * 2, 1000, init=None)
    d = p.to_dict()
    assert d == {
        "type": "Uniform",
        "low": {"op": "*", "left": {"ref": "fwhm_gauss_a"}, "right": 2.0},
        "high": 1000.0,
    }
    q = prior.prior_from_dict(d, {"fwhm_gauss_a": a})
    assert q.low.evaluate({a: 5.0}) == 10.0


def test_default_priors_of_tokens():
    assert repr(Redshift().prior) == "Uniform(low=-0.0025, high=0.0025)"
    assert repr(Flux().prior) == "Uniform(low=-3, high=3)"
    assert math.isclose(FWHM().prior.high.value, 1000.0)


def test_frozen_value_outside_dependent_prior_bounds_is_an_error():
    import astropy.units as u
    from conftest import tutorial_spectrum

    from unite_stan import line, model, spectrum

    narrow = line.FWHM("narrow", prior=prior.Fixed(1200.0))
    broad = line.FWHM("broad", prior=prior.Uniform(narrow, 1000.0))
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563 * u.AA, fwhm_gauss=narrow)
    lc.add_line("Ha_broad", 6563 * u.AA, fwhm_gauss=broad)
    spectra = spectrum.Spectra([tutorial_spectrum()])
    spectra.line_scale = 1e-15 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-16 * u.erg / u.s / u.cm**2 / u.AA
    with pytest.raises(
        ValueError,
        match=r"prior of 'fwhm_gauss_broad' .* resolves to the empty "
        r"interval \[1200, 1000\] with the fixed value\(s\) fwhm_gauss_narrow=1200",
    ):
        model.ModelBuilder(lc, None, spectra).build()


def test_fit_with_every_parameter_fixed_says_nothing_to_sample():
    import astropy.units as u
    from conftest import tutorial_spectrum

    from unite_stan import line, model, spectrum

    lc = line.LineConfiguration()
    lc.add_line(
        "Ha",
        6563 * u.AA,
        redshift=line.Redshift(prior=prior.Fixed(0.0)),
        fwhm_gauss=line.FWHM(prior=prior.Fixed(200.0)),
        flux=line.Flux(prior=prior.Fixed(0.1)),
    )
    spectra = spectrum.Spectra([tutorial_spectrum()])
    spectra.line_scale = 1e-15 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-16 * u.erg / u.s / u.cm**2 / u.AA
    with pytest.raises(
        ValueError, match="nothing to sample: every parameter of this model is Fixed"
    ):
        model.ModelBuilder(lc, None, spectra).fit(num_samples=10, progress_bar=False)


def test_init_outside_bounds_resolved_from_a_frozen_value_is_an_error():
    import astropy.units as u
    from conftest import tutorial_spectrum

    from unite_stan import line, model, spectrum

    narrow = line.FWHM("narrow", prior=prior.Fixed(200.0))
    broad = line.FWHM("broad", prior=prior.Uniform(narrow, 1000.0, init=100.0))
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563 * u.AA, fwhm_gauss=narrow)
    lc.add_line("Ha_broad", 6563 * u.AA, fwhm_gauss=broad)
    spectra = spectrum.Spectra([tutorial_spectrum()])
    spectra.line_scale = 1e-15 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-16 * u.erg / u.s / u.cm**2 / u.AA
    with pytest.raises(
        ValueError,
        match=r"init=100 of 'fwhm_gauss_broad' lies outside its "
        r"prior bounds \(200, 1000\)",
    ):
        model.ModelBuilder(lc, None, spectra).build()
