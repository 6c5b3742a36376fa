"""CmdStan backend: selection, names and build settings everywhere; builds, log densities and
fits only where a CmdStan installation exists (CI builds one with ../shared/tools/cmdstan-kit).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import tutorial_fit1, tutorial_truth

from unite_stan import diagnostics, model
from unite_stan.stan.backends import cmdstan_available, get_backend
from unite_stan.stan.backends.base import SAMPLER_COLUMNS, available_cores
from unite_stan.stan.backends.cmdstan import (
    CmdStanBackend,
    flat_column_name,
    unconstrained_parameters,
)
from unite_stan.stan.pilot import laplace_pilot
from unite_stan.stan.settings import SamplerSettings

AVAILABLE, REASON = cmdstan_available()
needs_cmdstan = pytest.mark.skipif(not AVAILABLE, reason=f"CmdStan not installed: {REASON}")

PROGRAM = """data { int<lower=0> N; vector[N] y; }
parameters { vector[2] xi; real<lower=0> sigma; }
model {
  xi ~ normal(0, 10);
  sigma ~ lognormal(0, 1);
  y ~ normal(xi[1] + xi[2], sigma);
}
"""
#: The same model on unconstrained parameters only (sigma = exp(log_sigma), Jacobian added),
#: as unite_stan's programs are: CmdStan's optimize can start it from unconstrained points.
UNCONSTRAINED = """data { int<lower=0> N; vector[N] y; }
parameters { vector[3] u; }
model {
  real sigma = exp(u[3]);
  u[1:2] ~ normal(0, 10);
  sigma ~ lognormal(0, 1);
  target += u[3];
  y ~ normal(u[1] + u[2], sigma);
}
"""
DATA = {"N": 20, "y": np.random.default_rng(0).normal(1.0, 0.5, 20)}


@pytest.mark.parametrize(
    ("cmdstan", "httpstan"),
    [("lp__", "lp__"), ("xi[1]", "xi.1"), ("m[2,13]", "m.2.13"), ("z_narrow", "z_narrow")],
)
def test_flat_column_name(cmdstan, httpstan):
    assert flat_column_name(cmdstan) == httpstan


def test_unconstrained_parameters_are_read_from_the_program():
    assert unconstrained_parameters(UNCONSTRAINED) == ["u"]
    assert unconstrained_parameters(PROGRAM) is None  # sigma has a lower bound
    rendered = "transformed parameters { real a; }\nparameters {\n  vector[N_free] xi;\n}\n"
    assert unconstrained_parameters(rendered) == ["xi"]
    assert unconstrained_parameters("model { }") is None


def test_auto_picks_cmdstan_only_when_installed(monkeypatch):
    monkeypatch.delenv("UNITE_STAN_BACKEND", raising=False)
    assert get_backend("auto").name == ("cmdstan" if AVAILABLE else "embedded")


def test_environment_variable_sets_what_auto_means(monkeypatch):
    monkeypatch.setenv("UNITE_STAN_BACKEND", "embedded")
    assert get_backend("auto").name == "embedded"
    monkeypatch.setenv("UNITE_STAN_BACKEND", "stan")
    with pytest.raises(
        ValueError,
        match="UNITE_STAN_BACKEND='stan' is not a Stan backend; valid: auto, embedded, cmdstan",
    ):
        get_backend("auto")


@pytest.mark.skipif(AVAILABLE, reason="CmdStan is installed here")
def test_cmdstan_without_installation_says_how_to_install():
    with pytest.raises(RuntimeError) as missing:
        get_backend("cmdstan")
    message = str(missing.value)
    assert "python -m cmdstanpy.install_cmdstan" in message
    assert REASON in message and "backend='embedded'" in message


def test_make_arguments_compose_the_options_as_cmdstanpy_does():
    backend = CmdStanBackend(
        stanc_options={"O1": True, "name": "m"}, cpp_options={"STAN_THREADS": True, "O": 2}
    )
    assert backend.make_arguments() == [
        "STANCFLAGS+=--O1",
        "STANCFLAGS+=--name=m",
        "STAN_THREADS=true",
        "O=2",
    ]


def fake_home(tmp_path, *, version="2.99.1", local=""):
    """A folder laid out as a CmdStan installation, for the settings that need no build."""
    (tmp_path / "make").mkdir()
    (tmp_path / "src" / "cmdstan").mkdir(parents=True)
    (tmp_path / "stan" / "src" / "stan" / "model").mkdir(parents=True)
    (tmp_path / "makefile").write_text(f"# CmdStan\nCMDSTAN_VERSION := {version}\n")
    if local:
        (tmp_path / "make" / "local").write_text(local)
    backend = CmdStanBackend()
    backend.__dict__["home"] = tmp_path  # the installation this backend uses (cached property)
    return backend


def test_identity_names_the_version_and_covers_the_make_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("CXXFLAGS", raising=False)
    backend = fake_home(tmp_path)
    identity = backend.identity()
    assert identity.startswith(f"CmdStan 2.99.1 at {tmp_path}; make settings ")
    (tmp_path / "make" / "local").write_text("CXXFLAGS += -march=native\n")
    assert backend.identity() != identity
    with_local = backend.identity()
    monkeypatch.setenv("CXXFLAGS", "-O1")
    assert backend.identity() not in (identity, with_local)


def test_read_only_installation_builds_without_the_precompiled_header(tmp_path):
    backend = fake_home(tmp_path)
    (tmp_path / "src" / "cmdstan" / "main_threads.o").write_bytes(b"")
    header_dir = tmp_path / "stan" / "src" / "stan" / "model"
    options = backend.options()
    assert backend._writable_home_arguments(options, writable=lambda folder: True) == []
    assert backend._writable_home_arguments(
        options, writable=lambda folder: folder != header_dir
    ) == ["PRECOMPILED_HEADERS=false"]
    # an explicit choice is the user's
    explicit = {**options, "cpp_options": {"STAN_THREADS": True, "PRECOMPILED_HEADERS": True}}
    assert backend._writable_home_arguments(explicit, writable=lambda folder: False) == []


def test_installation_without_main_object_and_write_access_says_what_to_do(tmp_path):
    backend = fake_home(tmp_path)
    with pytest.raises(RuntimeError) as refused:
        backend._writable_home_arguments(backend.options(), writable=lambda folder: False)
    assert str(refused.value) == (
        f"CmdStan at {tmp_path} has not built main_threads.o yet and its folder is not "
        "writable: CmdStan builds it there on the first threaded model. Run `make -C "
        f"{tmp_path} STAN_THREADS=true src/cmdstan/main_threads.o` once as the folder's owner, "
        "or point $CMDSTAN at a writable CmdStan, or use backend='embedded'"
    )
    (tmp_path / "src" / "cmdstan" / "main_threads.o").write_bytes(b"")
    assert backend._writable_home_arguments(
        backend.options(), writable=lambda folder: folder.name == "cmdstan"
    ) == ["PRECOMPILED_HEADERS=false"]


# ---- with a CmdStan installation ---------------------------------------------------------


@pytest.fixture(scope="module")
def cmdstan():
    if not AVAILABLE:
        pytest.skip(f"CmdStan not installed: {REASON}")
    return get_backend("cmdstan")


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_cmdstan_sampling_matches_the_raw_draws_contract(cmdstan):
    model_ = cmdstan.compile(PROGRAM, progress=False)
    assert cmdstan.compile(PROGRAM, progress=False).record == model_.record
    assert model_.record.backend_identity.startswith("CmdStan 2.")
    inits = [{"xi": np.array([0.5, 0.5]), "sigma": 1.0}] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation warnings from cmdstanpy
        run = [
            cmdstan.sample(
                model_,
                DATA,
                SamplerSettings(
                    num_warmup=200,
                    num_samples=100,
                    num_chains=2,
                    seed=3,
                    progress=False,
                ),
                inits=inits,
            )
            for _ in range(2)
        ]
    draws = run[0]
    assert draws.columns == [*SAMPLER_COLUMNS, "xi.1", "xi.2", "sigma"]
    assert draws.values.shape == (2, 100, 10)
    assert draws.step_size.shape == (2,) and draws.inv_metric.shape == (2, 3)
    np.testing.assert_array_equal(draws.values, run[1].values)
    total = draws.column("xi.1") + draws.column("xi.2")
    assert total.mean() == pytest.approx(DATA["y"].mean(), abs=0.3)
    # draws carry full float64 precision: lp__ equals the log density at the draw
    density = cmdstan.log_density(model_, DATA)
    assert density.dim == 3
    for row in draws.values[0, :5]:
        u = np.array([row[7], row[8], np.log(row[9])])
        assert density(u)[0] == pytest.approx(row[0], rel=1e-13)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_cmdstan_log_density_evaluates_batches_like_single_points(cmdstan):
    density = cmdstan.log_density(cmdstan.compile(PROGRAM, progress=False), DATA)
    points = np.random.default_rng(1).normal(size=(6, 3))
    points[3, 2] = -800.0  # sigma = exp(-800) = 0: Stan rejects the point
    values, gradients = density.gradients(points)
    for k, x in enumerate(points):
        value, gradient = density(x)
        if k == 3:
            assert value == -np.inf and np.isnan(gradient).all()
            continue
        assert values[k] == value  # the same process arithmetic, bit for bit
        np.testing.assert_array_equal(gradients[k], gradient)
        step = 1e-6
        numeric = [
            (density.log_prob(x + step * e) - density.log_prob(x - step * e)) / (2 * step)
            for e in np.eye(3)
        ]
        np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6)
    assert values[3] == -np.inf
    np.testing.assert_array_equal(density.log_probs(points), values)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_cmdstan_pilot_optimises_in_process_and_matches_the_embedded_mode(cmdstan):
    embedded = get_backend("embedded")
    dens = {
        backend.name: backend.log_density(backend.compile(UNCONSTRAINED, progress=False), DATA)
        for backend in (cmdstan, embedded)
    }
    starts = [np.zeros(3), np.array([1.0, -1.0, 0.5])]
    ends = dens["cmdstan"].maximize(starts)
    assert len(ends) == 2 and all(point is not None for point, _, _ in ends)
    assert all(message.startswith("Optimization terminated normally") for _, message, _ in ends)
    pilots = {name: laplace_pilot(density, starts) for name, density in dens.items()}
    assert pilots["cmdstan"].kind == pilots["embedded"].kind == "dense"
    scale = np.sqrt(np.diag(pilots["embedded"].chol @ pilots["embedded"].chol.T))
    assert np.all(np.abs(pilots["cmdstan"].loc - pilots["embedded"].loc) <= 1e-6 * scale)
    # the same Laplace map: one factor whitens the other to the identity
    relative = np.linalg.solve(pilots["embedded"].chol, pilots["cmdstan"].chol)
    np.testing.assert_allclose(relative, np.eye(3), atol=1e-4)
    # the same program and point give the same density on both backends
    x = pilots["embedded"].loc
    assert dens["cmdstan"].log_prob(x) == pytest.approx(dens["embedded"].log_prob(x), rel=1e-14)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_failed_cmdstan_compile_reads_as_stans_message(cmdstan):
    broken = PROGRAM.replace("sigma ~ lognormal(0, 1);", "sigma ~ lognormal(0, 1)")
    with pytest.raises(ValueError) as rejected:
        cmdstan.compile(broken, progress=False)
    message = str(rejected.value)
    assert message.startswith("stanc rejected the Stan program:\nSyntax error in ")
    assert "line 6, column" in message and "Ill-formed" in message
    assert "make" not in message.splitlines()[-1]


# ---- the tutorial on both backends --------------------------------------------------------


def fit_tutorial(backend, **options):
    spectra, flc, fcc = tutorial_fit1()
    settings = {"num_warmup": 500, "num_samples": 1000, "num_chains": 2, "progress_bar": False}
    return model.ModelBuilder(flc, fcc, spectra).fit(**{**settings, **options}, backend=backend)


@pytest.fixture(scope="module")
def tutorial_fits(cmdstan):
    return {backend: fit_tutorial(backend, seed=11) for backend in ("embedded", "cmdstan")}


FREE1 = ["angle_a", "flux_Ha", "flux_NII_6549", "flux_SII_6717", "fwhm_gauss_narrow"]
FREE1 += ["scale_a", "z_narrow"]


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_tutorial_fit1_on_cmdstan_converges_and_recovers_the_truth(tutorial_fits):
    samples, args = tutorial_fits["cmdstan"]
    ds = args.dataset
    assert ds.attrs["backend"] == "cmdstan"
    assert ds.attrs["pilot"] == "dense"
    for row in diagnostics.summary(ds, FREE1):
        assert row["r_hat"] < 1.01, (row["name"], row["r_hat"])
        assert row["ess_bulk"] >= 400, (row["name"], row["ess_bulk"])
    assert int(ds["diverging"].sum()) == 0
    t = tutorial_truth()
    for site, truth in (("z_narrow", t["z"]), ("fwhm_gauss_narrow", t["fwhm_kms"])):
        lo, hi = np.quantile(samples[site], [0.025, 0.975])
        assert lo <= truth <= hi, (site, lo, truth, hi)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_tutorial_fit1_agrees_across_backends_within_monte_carlo_error(tutorial_fits):
    (embedded, args_e), (cmdstan, args_c) = tutorial_fits["embedded"], tutorial_fits["cmdstan"]
    for site in [*FREE1, "log_prob"]:
        errors = [diagnostics.mcse_mean(a.dataset[site].values) for a in (args_e, args_c)]
        difference = abs(embedded[site].mean() - cmdstan[site].mean())
        assert difference < 4 * np.hypot(*errors), (site, difference, errors)
        assert cmdstan[site].std() == pytest.approx(embedded[site].std(), rel=0.15), site


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_same_program_data_and_seed_give_the_same_draws_on_both_backends(cmdstan):
    # without the pilot both backends run the same program on the same data from the same
    # starts: Stan's sampler then gives bit-identical draws
    fits = [
        fit_tutorial(b, seed=2, pilot=False, num_warmup=200, num_samples=200)
        for b in ("embedded", "cmdstan")
    ]
    (first, _), (second, _) = fits
    for site in [*FREE1, "log_prob", "log_likelihood"]:
        np.testing.assert_array_equal(first[site], second[site])


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
@pytest.mark.skipif(available_cores() < 2, reason="needs 2 cores for 2 threads in one chain")
def test_threads_within_a_chain_on_cmdstan(cmdstan):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one short chain: noisy split R-hat
        samples, args = fit_tutorial(
            "cmdstan", num_chains=1, num_warmup=300, num_samples=600, seed=4, threads_per_chain=2
        )
    ds = args.dataset
    assert ds.attrs["threads_per_chain"] == 2 and ds.attrs["likelihood_blocks"] == 4
    assert "reduce_sum_static(" in args.program.code
    assert int(ds["diverging"].sum()) == 0
    t = tutorial_truth()
    for site, truth in (("z_narrow", t["z"]), ("fwhm_gauss_narrow", t["fwhm_kms"])):
        lo, hi = np.quantile(samples[site], [0.025, 0.975])
        assert lo <= truth <= hi, (site, lo, truth, hi)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
@pytest.mark.parametrize("which", ["absorption", "convolution"])
def test_absorption_and_convolution_programs_agree_across_backends(cmdstan, which):
    """The absorption program and the convolution-mode program (tests/stan/test_render.py's)
    compile on CmdStan and give the embedded backend's log density and gradient."""
    import test_render

    program, args = getattr(test_render, f"{which}_program")()
    densities = [
        backend.log_density(backend.compile(program.code, progress=False), program.data)
        for backend in (cmdstan, get_backend("embedded"))
    ]
    for x in np.random.default_rng(2).uniform(-1.0, 1.0, (2, len(args.free_sites))):
        (lp_c, grad_c), (lp_e, grad_e) = (density(x) for density in densities)
        assert np.isfinite(lp_e) and lp_c == pytest.approx(lp_e, rel=1e-12)
        np.testing.assert_allclose(grad_c, grad_e, rtol=1e-9, atol=1e-9)
