"""The sampler's unconstrained coordinates: logistic, the slope of Uniform(-pi/2, pi/2), and
the flux coordinate of a line flux with a Uniform(0, high) prior."""

import math

import astropy.units as u
import numpy as np

from unite_stan import line, prior, spectrum
from unite_stan.stan.coordinates import (
    LOGIT,
    SLOPE,
    coordinate_kind,
)


def test_only_a_declared_slope_with_a_literal_full_range_uniform_is_sampled_as_a_slope():
    full = prior.Uniform(-math.pi / 2, math.pi / 2)
    assert coordinate_kind(full, declared=SLOPE) == SLOPE
    assert coordinate_kind(prior.Uniform(-np.pi / 2, np.pi / 2), declared=SLOPE) == SLOPE
    # a site no component declares a slope keeps the logistic scale whatever its prior
    assert coordinate_kind(full) == LOGIT
    # narrower bounds, other families and bounds that are expressions keep the logistic scale
    assert coordinate_kind(prior.Uniform(-1.5, math.pi / 2), declared=SLOPE) == LOGIT
    assert coordinate_kind(prior.Uniform(0, 5), declared=SLOPE) == LOGIT
    truncated = prior.TruncatedNormal(0, 1, -math.pi / 2, math.pi / 2)
    assert coordinate_kind(truncated, declared=SLOPE) == LOGIT
    token = prior.Parameter("t", prior=prior.Uniform(0, 1))
    bounded = prior.Uniform(-math.pi / 2, token + math.pi / 2)
    assert coordinate_kind(bounded, declared=SLOPE) == LOGIT


def test_the_linear_form_declares_its_angle_a_slope_in_the_prior_graph():
    from conftest import tutorial_spectrum

    from unite_stan import model
    from unite_stan.continuum import (
        ContinuumConfiguration,
        ContinuumRegion,
        ContShape,
        Linear,
        PowerLaw,
    )
    from unite_stan.stan.coordinates import site_kind

    lines = line.LineConfiguration()
    lines.add_line("Ha", 6564.6 * u.AA)
    lines.add_line("SII", 6718.3 * u.AA)
    # the same prior on a PowerLaw's beta: no slope, since PowerLaw declares none
    beta = ContShape(prior=prior.Uniform(-math.pi / 2, math.pi / 2))
    regions = [
        ContinuumRegion(6500 * u.AA, 6600 * u.AA, Linear(), name="a"),
        ContinuumRegion(6650 * u.AA, 6750 * u.AA, PowerLaw(), params={"beta": beta}, name="b"),
    ]
    spectra = spectrum.Spectra([tutorial_spectrum()], redshift=0.0)
    spectra.compute_scales(lines, ContinuumConfiguration(regions))
    builder = model.ModelBuilder(lines, ContinuumConfiguration(regions), spectra)
    graph = builder.build()[1].prior_graph
    assert graph.coordinates == {"angle_a": SLOPE}
    assert site_kind(graph, "angle_a") == SLOPE
    assert site_kind(graph, "beta_b") == LOGIT
