"""The contract every registered component keeps: its Stan chunk computes what its numpy twin
computes (values and gradients), and its density integrates to its cumulative.

The test enrols every class of ``PROFILES`` and ``FORMS`` by itself (each class's
``contract_examples``), so a new profile or continuum form is checked as soon as it is defined.
One Stan program holds every chunk (one compile for the whole registry); its sizes are data,
so each example and parameter point is a new data set, not a new program.

Parameter points come from each slot's default prior: near its low bound, its middle and near
its high bound (velocity widths as FWHMs in wavelength units at the line's centre), on pixel
edges from far in the tails to the centre, with a narrow and a broad LSF.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import quad

from unite_stan._resources import template_dir
from unite_stan.constants import C_KMS
from unite_stan.continuum.library import FORMS
from unite_stan.line.functions import KERNELS
from unite_stan.line.library import PROFILES
from unite_stan.prior import literal_value
from unite_stan.stan.render import component_chunks

CENTRE = 6563.0
RESOLUTIONS = (3000.0, 1.0e6)
# where each slot's default prior is probed: fractions of its range
POSITIONS = {"low": 1e-3, "mid": 0.5, "high": 1.0 - 1e-3}

PROFILE_EXAMPLES = [p for cls in PROFILES for p in cls.contract_examples()]
FORM_EXAMPLES = [f for cls in FORMS for f in cls.contract_examples()]


def _program() -> str:
    """Every chunk, and per component a sampled centre/width (or shape) vector whose target is
    the weighted sum of the chunk's output; generated quantities give the outputs."""
    chunks = component_chunks([*PROFILES, *FORMS])
    functions = "\n\n".join((template_dir() / c).read_text().rstrip("\n") for c in chunks)
    data, params, model, generated = [], [], [], []
    for cls in PROFILES:
        p = cls.stan_name
        data.append(
            f"int N_{p}; int S_{p}; vector[N_{p}] edge_{p}; vector[N_{p}] lsf2_{p}; "
            f"vector[N_{p}] w_{p}; real w_peak_{p};"
        )
        params.append(f"real centre_{p}; vector[S_{p}] width_{p};")
        call = f"{p}_cumulative(edge_{p}, centre_{p}, width_{p}, lsf2_{p})"
        model.append(f"target += dot_product(w_{p}, {call}) + w_peak_{p} * {p}_peak(width_{p});")
        generated.append(f"vector[N_{p}] out_{p} = {call};")
        generated.append(f"real peak_{p} = {p}_peak(width_{p});")
    for cls in FORMS:
        f = cls.stan_name
        data.append(
            f"int N_{f}; int P_{f}; vector[N_{f}] x_{f}; real lsf_{f}; vector[N_{f}] w_{f}; "
            f"real centre_{f}; int C_{f}; vector[C_{f}] consts_{f};"
        )
        params.append(f"vector[P_{f}] par_{f}; real nw_{f};")
        call = f"{f}_antideriv(x_{f}, par_{f}, nw_{f}, lsf_{f}, consts_{f})"
        model.append(f"target += dot_product(w_{f}, {call});")
        generated.append(f"vector[N_{f}] out_{f} = {call};")
        if cls.affine:
            generated.append(f"vector[2] affine_{f} = {f}_affine(par_{f}, nw_{f}, centre_{f});")
    indent = "\n  "
    return (
        f"functions {{\n{functions}\n}}\n"
        f"data {{{indent}{indent.join(data)}\n}}\n"
        f"parameters {{{indent}{indent.join(params)}\n}}\n"
        f"model {{{indent}{indent.join(model)}\n}}\n"
        f"generated quantities {{{indent}{indent.join(generated)}\n}}\n"
    )


@pytest.fixture(scope="module")
def contract_model():
    from unite_stan.stan.backends import get_backend

    backend = get_backend("embedded")
    return backend, backend.compile(_program(), progress=False)


def _prior_value(prior, position: float) -> float:
    low, high = literal_value(prior.low), literal_value(prior.high)
    return low + (high - low) * position


def _profile_points(profile):
    """(label, widths in wavelength units by slot, lsf resolution) for each probe."""
    for label, position in POSITIONS.items():
        widths = {}
        for slot in profile.slots:
            value = _prior_value(profile.default_prior(slot), position)
            widths[slot] = CENTRE * value / C_KMS if profile.is_velocity(slot) else value
        for resolution in RESOLUTIONS:
            yield f"{label}-R{resolution:g}", widths, resolution


def _profile_edges(widths: dict, profile, resolution: float) -> np.ndarray:
    total = np.hypot(
        CENTRE / resolution,
        np.sqrt(sum(w**2 for s, w in widths.items() if profile.is_velocity(s))),
    )
    near = CENTRE + total * np.linspace(-30.0, 30.0, 121)
    far = CENTRE + total * np.array([-1e3, -1e2, 1e2, 1e3])
    return np.sort(np.concatenate([near, far]))


def _data(backend_model, **component):
    """Data for the contract program: ``component`` for the one under test, a tiny valid
    problem for every other."""
    data = {}
    for cls in PROFILES:
        p = cls.stan_name
        n, s = 2, len(cls.slots)
        data.update(
            {
                f"N_{p}": n,
                f"S_{p}": s,
                f"edge_{p}": np.array([-1.0, 1.0]),
                f"lsf2_{p}": np.ones(n),
                f"w_{p}": np.zeros(n),
                f"w_peak_{p}": 0.0,
            }
        )
    for cls in FORMS:
        form = FORM_DEFAULTS[cls.stan_name]
        data.update(_form_data(form, FORM_EDGES[:2], np.zeros(2)))
    data.update(component)
    return data


def _form_data(form, edges: np.ndarray, weights: np.ndarray) -> dict:
    """The contract program's data of one form: ``edges`` in the test region (observed,
    Å, at the form's test redshift) with its constants."""
    f = type(form).stan_name
    consts = _constants(form)
    return {
        f"N_{f}": edges.size,
        f"P_{f}": len(form.param_names()) - ("norm_wav" in form.param_names()),
        f"x_{f}": edges,
        f"lsf_{f}": FORM_LSF if form.uses_lsf else 0.0,
        f"w_{f}": weights,
        f"centre_{f}": CENTRE,
        f"C_{f}": consts.size,
        f"consts_{f}": consts,
    }


def _frame(form) -> dict:
    """The test region's frame: observed bounds, unit and redshift."""
    return {
        "obs_low": FORM_EDGES[0],
        "obs_high": FORM_EDGES[-1],
        "wl_unit": u.AA,
        "z_sys": FORM_Z_SYS.get(type(form).stan_name, 0.0),
    }


def _constants(form) -> np.ndarray:
    return np.asarray(form.stan_constants(**_frame(form)), dtype=float).ravel()


def _layout(data) -> list[tuple[str, int]]:
    """The parameter blocks in declaration order: (name, size)."""
    out = []
    for cls in PROFILES:
        p = cls.stan_name
        out += [(f"centre_{p}", 1), (f"width_{p}", data[f"S_{p}"])]
    for cls in FORMS:
        f = cls.stan_name
        out += [(f"par_{f}", data[f"P_{f}"]), (f"nw_{f}", 1)]
    return out


def _default_values() -> dict:
    """Each form's first example at its mid point (the others' blocks hold 1): values where
    every form is finite, as the other components' terms enter the target with weight 0."""
    out = {}
    for f, form in FORM_DEFAULTS.items():
        _, values, nw = [p for p in _form_points(form) if p[0] == "mid"][0]
        out[f"par_{f}"] = np.array([values[s] for s in values])
        out[f"nw_{f}"] = nw
    return out


def _point(data, values: dict) -> tuple[np.ndarray, dict]:
    """The unconstrained vector with ``values`` at their blocks (others at a point where the
    component is finite) and each block's slice."""
    values = {**_default_values(), **values}
    x, where, k = [], {}, 0
    for name, size in _layout(data):
        block = np.atleast_1d(values.get(name, np.ones(size))).astype(float)
        x.append(block)
        where[name] = slice(k, k + size)
        k += size
    return np.concatenate(x), where


def _central_difference(fn, theta: np.ndarray, scale: np.ndarray):
    """Fourth-order central differences with steps of 1e-4 ``scale`` (the distance over which
    each parameter's function changes: its size, or its distance to a pole), and the rounding
    error each carries (``fn`` returns the terms it sums)."""
    grad, rounding = np.empty_like(theta), np.empty_like(theta)
    for i in range(theta.size):
        h = 1e-4 * scale[i]

        def at(step, i=i):
            moved = theta.copy()
            moved[i] += step
            return fn(moved)

        grad[i] = (8 * (at(h) - at(-h)).sum() - (at(2 * h) - at(-2 * h)).sum()) / (12 * h)
        rounding[i] = 4 * np.finfo(float).eps * np.abs(at(0.0)).sum() * theta.size / h
    return grad, rounding


def _assert_gradient(stan, fd, rounding, label):
    """Stan's gradient against the differences: 1e-6 relative, plus their rounding."""
    bad = np.abs(stan - fd) > 1e-6 * np.abs(fd) + rounding
    assert not bad.any(), f"{label}: Stan {stan[bad]} against differences {fd[bad]}"


@pytest.mark.parametrize("profile", PROFILE_EXAMPLES, ids=repr)
def test_profile_chunk_equals_its_numpy_twin(contract_model, profile):
    backend, model = contract_model
    p = type(profile).stan_name
    rng = np.random.default_rng(0)
    for label, widths, resolution in _profile_points(profile):
        edge = _profile_edges(widths, profile, resolution)
        lsf = edge / resolution
        weights = rng.normal(size=edge.size)
        data = _data(
            model,
            **{
                f"N_{p}": edge.size,
                f"S_{p}": len(profile.slots),
                f"edge_{p}": edge,
                f"lsf2_{p}": lsf**2,
                f"w_{p}": weights,
            },
        )
        vector = np.array([widths[s] for s in profile.slots])
        x, where = _point(data, {f"centre_{p}": CENTRE, f"width_{p}": vector})
        density = backend.log_density(model, data)
        out = density.write_array(x)
        stan = np.array([out[f"out_{p}.{i + 1}"] for i in range(edge.size)])

        def twin(theta, edge=edge, lsf=lsf):
            named = dict(zip(profile.slots, theta[1:], strict=True))
            return 2.0 * profile.cdf(edge - theta[0], named, lsf) - 1.0

        theta = np.concatenate([[CENTRE], vector])
        np.testing.assert_allclose(stan, twin(theta), rtol=0, atol=1e-13, err_msg=label)
        _, grad = density(x)
        block = np.concatenate([grad[where[f"centre_{p}"]], grad[where[f"width_{p}"]]])
        # the centre's scale is the LSF, the narrowest feature of a convolved profile (a
        # Laplace cusp is smooth only over it)
        scale = np.concatenate([[CENTRE / resolution], np.maximum(np.abs(vector), 1e-3)])
        fd, rounding = _central_difference(lambda t, w=weights: w * twin(t), theta, scale)
        assert np.all(np.isfinite(block)), label
        # where the profile is not differentiable in a slot, its gradient is only finite
        nonsmooth = type(profile).nonsmooth_at
        smooth = np.array([True] + [nonsmooth.get(s) != widths[s] for s in profile.slots])
        _assert_gradient(block[smooth], fd[smooth], rounding[smooth], label)


@pytest.mark.parametrize("profile", PROFILE_EXAMPLES, ids=repr)
def test_profile_peak_equals_its_numpy_twin(contract_model, profile):
    """``<profile>_peak``: the intrinsic density at the centre an absorber's peak optical depth
    is divided by (unite's LSF of 1e-10), its value and gradient."""
    backend, model = contract_model
    p = type(profile).stan_name
    for label, widths, _ in _profile_points(profile):
        data = _data(model, **{f"S_{p}": len(profile.slots), f"w_peak_{p}": 1.0})
        vector = np.array([widths[s] for s in profile.slots])
        x, where = _point(data, {f"centre_{p}": CENTRE, f"width_{p}": vector})
        density = backend.log_density(model, data)

        def twin(theta):
            return np.atleast_1d(profile.peak(dict(zip(profile.slots, theta, strict=True))))

        expected = twin(vector)
        assert density.write_array(x)[f"peak_{p}"] == pytest.approx(expected[0], rel=1e-12), label
        _, grad = density(x)
        scale = np.maximum(np.abs(vector), 1e-3)
        fd, rounding = _central_difference(twin, vector, scale)
        _assert_gradient(grad[where[f"width_{p}"]], fd, rounding, label)


@pytest.mark.parametrize("profile", PROFILE_EXAMPLES, ids=repr)
def test_profile_density_integrates_to_its_cumulative(profile):
    for label, widths, resolution in _profile_points(profile):
        lsf = CENTRE / resolution  # one LSF width for both, as a pixel's edges nearly share
        edge = _profile_edges(widths, profile, resolution) - CENTRE
        for a, b in ((edge[50], edge[60]), (edge[60], edge[61]), (edge[10], edge[110])):
            integral, _ = quad(
                lambda x, w=widths, lsf=lsf: float(profile.pdf(np.array(x), w, np.array(lsf))),
                a,
                b,
                epsabs=0,
                epsrel=1e-12,
                limit=200,
            )
            # a cumulative built pixel by pixel (each pixel's content times a factor at its
            # midpoint) integrates the density on fine pixels: 1000 over [a, b] come within
            # 2e-8 of the limit
            fine = KERNELS[type(profile).__name__].edge_cumulative
            edges = np.linspace(a, b, 1001) if fine else np.array([a, b])
            cdf = profile.cdf(edges, widths, np.full(edges.size, lsf))
            if type(profile).cumulative_is_exact:
                assert integral == pytest.approx(cdf[-1] - cdf[0], rel=1e-9, abs=1e-15), label
            else:  # Ida et al.'s approximation of the Voigt integral: 1.5e-4 at most
                assert integral == pytest.approx(cdf[-1] - cdf[0], abs=2e-4), label


def _form_points(form):
    """(label, slot values without norm_wav, norm_wav) for each probe."""
    slots = [s for s in form.param_names() if s != "norm_wav"]
    for label, position in POSITIONS.items():
        # each slot a little apart from the others (inwards): equal coefficients make some
        # forms degenerate (a B-spline with every c_i = 0 but c_0 = 1 vanishes mid-region)
        inwards = 1.0 if position < 0.5 else -1.0
        values = {
            slot: _prior_value(form.default_prior(slot, CENTRE), position + 0.01 * k * inwards)
            for k, slot in enumerate(slots)
        }
        yield label, values, CENTRE - 13.0


FORM_EDGES = np.linspace(6400.0, 6700.0, 61)
FORM_LSF = CENTRE / 3000.0
#: the test region's systemic redshift by form (0 otherwise): the DLA's Lyman alpha at 6443 Å
FORM_Z_SYS = {"dlapowerlaw": 4.3}
#: the example whose data and point stand for each form while another is tested
FORM_DEFAULTS = {cls.stan_name: cls.contract_examples()[0] for cls in FORMS}


@pytest.mark.parametrize("form", FORM_EXAMPLES, ids=repr)
def test_form_chunk_equals_its_numpy_twin(contract_model, form):
    backend, model = contract_model
    f = type(form).stan_name
    rng = np.random.default_rng(1)
    slots = [s for s in form.param_names() if s != "norm_wav"]
    for label, values, nw in _form_points(form):
        weights = rng.normal(size=FORM_EDGES.size)
        weights -= weights.mean()  # the antiderivative's constant drops out
        data = _data(model, **_form_data(form, FORM_EDGES, weights))
        vector = np.array([values[s] for s in slots])
        x, where = _point(data, {f"par_{f}": vector, f"nw_{f}": nw})
        density = backend.log_density(model, data)
        out = density.write_array(x)
        stan = np.array([out[f"out_{f}.{i + 1}"] for i in range(FORM_EDGES.size)])

        def twin(theta):
            named = dict(zip(slots, theta[:-1], strict=True))
            lsf = FORM_LSF if form.uses_lsf else None
            return form.antiderivative(
                FORM_EDGES, named, norm_wav=theta[-1], lsf_fwhm=lsf, **_frame(form)
            )

        theta = np.concatenate([vector, [nw]])
        expected = twin(theta)
        np.testing.assert_allclose(
            np.diff(stan), np.diff(expected), rtol=1e-12, atol=1e-12 * np.abs(expected).max()
        )
        _, grad = density(x)
        block = np.concatenate([grad[where[f"par_{f}"]], grad[where[f"nw_{f}"]]])
        # each slot's distance to its prior's nearer bound (the angle's pole), or its size
        reach = [
            min(abs(v - literal_value(b)) for b in (prior.low, prior.high))
            for prior, v in ((form.default_prior(s, CENTRE), values[s]) for s in slots)
        ]
        # norm_wav's: a tenth of the region's half-width (the normaliser of a series of order
        # 4 in the half-width changes over less than its size)
        scale = np.minimum(np.maximum(np.abs(theta), 1e-3), [*reach, 15.0])
        fd, rounding = _central_difference(lambda t, w=weights: w * twin(t), theta, scale)
        _assert_gradient(block, fd, rounding, label)
        if type(form).affine:
            value = form.evaluate(
                np.array([CENTRE - 1.0, CENTRE, CENTRE + 1.0]),
                {**values, "norm_wav": nw},
                norm_wav=nw,
                **_frame(form),
            )
            affine = [out[f"affine_{f}.1"], out[f"affine_{f}.2"]]
            np.testing.assert_allclose(affine, [value[1], (value[2] - value[0]) / 2], rtol=1e-10)


@pytest.mark.parametrize("form", FORM_EXAMPLES, ids=repr)
def test_form_value_integrates_to_its_antiderivative(form):
    """Exact antiderivatives integrate the value; the midpoint rule's average the value over a
    pixel is its value at the pixel's midpoint."""
    for label, values, nw in _form_points(form):
        lsf = FORM_LSF if form.uses_lsf else None
        common = dict(norm_wav=nw, lsf_fwhm=lsf, **_frame(form))
        params = {**values, "norm_wav": nw}
        if type(form).midpoint_rule:
            edges = np.sort(np.concatenate([FORM_EDGES, [6400.7, 6401.1, 6543.21]]))
            average = np.diff(form.antiderivative(edges, params, **common)) / np.diff(edges)
            value = form.evaluate(0.5 * (edges[1:] + edges[:-1]), params, **common)
            np.testing.assert_allclose(average, value, rtol=1e-10, atol=1e-14, err_msg=label)
            assert np.all(np.isfinite(value)), label
            continue
        for a, b in ((6400.0, 6410.0), (6500.0, 6700.0)):
            integral, _ = quad(
                lambda x, p=params, c=common: float(form.evaluate(np.array(x), p, **c)),
                a,
                b,
                epsrel=1e-12,
            )
            ends = form.antiderivative(np.array([a, b]), params, **common)
            assert integral == pytest.approx(ends[1] - ends[0], rel=1e-9), label


def test_every_registered_component_has_its_chunk_and_examples():
    assert set(PROFILES.names) >= {"Gaussian"}
    assert set(FORMS.names) >= {"Linear", "Polynomial", "PowerLaw"}
    for cls in [*PROFILES, *FORMS]:
        assert (template_dir() / cls.chunk()).is_file(), cls
        assert cls.contract_examples(), cls
