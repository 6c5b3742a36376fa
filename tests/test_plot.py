"""Figures (Agg backend) and the packaged unite style sheet."""

import io
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import astropy.units as u  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from astropy.table import QTable  # noqa: E402

import unite_stan  # noqa: E402
from unite_stan import _style, plot, styles  # noqa: E402
from unite_stan.styles import labels  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

FLUX_UNIT = u.erg / u.s / u.cm**2 / u.AA
COMPONENTS = ["Ha", "NII_6585", "linear_6385_6899"]


@pytest.fixture(autouse=True)
def close_figures():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def spectrum_table(n_pix=60, *, absorption=False, gap_rows=()):
    rng = np.random.default_rng(0)
    wave = np.linspace(6500.0, 6620.0, n_pix)
    continuum = np.full(n_pix, 20.0)
    ha = 60 * np.exp(-0.5 * ((wave - 6563) / 3) ** 2)
    nii = 45 * np.exp(-0.5 * ((wave - 6585) / 3) ** 2)
    median = continuum + ha + nii
    spread = np.array([-1.0, 0.0, 1.0])
    table = QTable(meta={"SPECNAME": "grism", "NORMFAC": 2.3e-16})
    table["wavelength"] = wave * u.AA
    table["model_total"] = (median[:, None] + spread) * 1e-17 * FLUX_UNIT
    for name, values in zip(COMPONENTS, (ha, nii, continuum), strict=True):
        table[name] = (values[:, None] + 0.1 * spread) * 1e-17 * FLUX_UNIT
    if absorption:
        table["NaD"] = np.full((n_pix, 3), -1.0) * 1e-17 * FLUX_UNIT
        table["od_NaD"] = np.full(n_pix, 0.1) * u.dimensionless_unscaled
    table["observed_flux"] = (median + rng.normal(0, 3, n_pix)) * 1e-17 * FLUX_UNIT
    table["observed_error"] = np.full(n_pix, 3.0) * 1e-17 * FLUX_UNIT
    table["scaled_error"] = np.full(n_pix, 3.3) * 1e-17 * FLUX_UNIT
    for row in gap_rows:
        for name in table.colnames[1:]:
            table[name][row] = np.nan
    return table


def savefig_works(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getbuffer().nbytes > 0


def legend_labels(artist):
    """Labels of an Axes' legend, or of a Figure's (only) legend."""
    legend = artist.legends[0] if hasattr(artist, "legends") else artist.get_legend()
    return [text.get_text() for text in legend.get_texts()]


# --- style ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["unite.mplstyle", "unite", "unite_stan.unite", "unite_stan.styles.unite"]
)
def test_style_applies_from_any_directory(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plt.style.use(name)
    rc = matplotlib.rcParams
    assert rc["font.size"] == 25
    assert rc["font.family"] == ["serif"]
    assert rc["text.usetex"] is False
    assert rc["mathtext.fontset"] == "cm"
    assert rc["axes.prop_cycle"].by_key()["color"][:2] == ["#3DB7E9", "#F748A5"]
    assert rc["xtick.direction"] == rc["ytick.direction"] == "in"
    assert rc["xtick.top"] and rc["ytick.right"] and rc["ytick.minor.visible"]
    assert rc["image.cmap"] == "magma_r"
    assert rc["savefig.bbox"] == "tight"
    assert rc["legend.frameon"] is False


def test_style_is_listed_and_registration_is_repeatable():
    assert {"unite", "unite.mplstyle"} <= set(matplotlib.style.available)
    matplotlib.style.library.pop("unite")
    _style.register_style()
    assert matplotlib.style.library["unite"]["font.size"] == 25
    assert matplotlib.style.reload_library._unite_stan_registers  # wrapped once only
    assert styles.STYLE_FILE.is_file()
    assert unite_stan.__name__ in styles.STYLE_FILE.parts  # ships inside the package


def test_style_survives_a_library_reload_as_arviz_does_it(tmp_path, monkeypatch):
    """ArviZ, on import, appends its style folder to matplotlib's user library paths and
    reloads the library, which rebuilds it from files."""
    (tmp_path / "other.mplstyle").write_text("lines.linewidth: 3\n")
    monkeypatch.setattr(
        matplotlib.style, "USER_LIBRARY_PATHS", [*matplotlib.style.USER_LIBRARY_PATHS, tmp_path]
    )
    matplotlib.style.reload_library()
    assert matplotlib.style.library["other"]["lines.linewidth"] == 3
    assert {"unite", "unite.mplstyle"} <= set(matplotlib.style.available)
    with matplotlib.style.context("unite.mplstyle"):
        assert matplotlib.rcParams["font.size"] == 25


def test_style_registration_fails_soft(monkeypatch):
    monkeypatch.setattr(matplotlib, "rc_params_from_file", None)
    with pytest.warns(RuntimeWarning, match="unite.mplstyle"):
        _style.register_style()


def test_tutorial_labels_render_without_latex():
    # the tutorial's first figure: \AA outside math mode, a y label longer than the axes
    plt.style.use("unite.mplstyle")
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.step([6200, 6800], [1, 2], where="mid")
    ax.set(
        xlabel=r"$\lambda$ [\AA]",
        ylabel=r"$f_\lambda$ [$10^{-17}$ erg s$^{-1}$ cm$^{-2}$ \AA$^{-1}$]",
        title=r"Synthetic Ha + [NII] + [SII] on a sloping continuum",
    )
    plt.tight_layout()
    assert savefig_works(fig)
    assert ax.get_xlabel() == r"$\lambda$ [Å]"
    # broken at spaces outside math mode, each line with balanced dollars
    assert ax.get_ylabel() == "$f_\\lambda$ [$10^{-17}$\nerg s$^{-1}$\ncm$^{-2}$ Å$^{-1}$]"
    assert ax.get_title() == "Synthetic Ha + [NII] + [SII]\non a sloping continuum"
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    assert ax.yaxis.label.get_window_extent(renderer).height <= box.height
    assert ax.title.get_window_extent(renderer).width <= box.width
    assert ax.yaxis.label.get_fontsize() == 25  # broken, not shrunk


def test_long_labels_without_spaces_shrink_once():
    plt.style.use("unite.mplstyle")
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.set_title("fwhm_gauss_narrow_component_of_a_long_name")
    ax.set_xlabel("short")
    assert savefig_works(fig)
    size = ax.title.get_fontsize()
    assert size < 25
    assert ax.xaxis.label.get_fontsize() == 25
    assert savefig_works(fig)  # a second draw leaves the fitted title alone
    assert ax.title.get_fontsize() == size


def test_figures_under_the_style_stay_picklable():
    plt.style.use("unite.mplstyle")
    fig, ax = plt.subplots()
    ax.set_xlabel(r"$\lambda$ [\AA]")
    assert savefig_works(fig)
    again = pickle.loads(pickle.dumps(fig))
    again.axes[0].set_ylabel(r"flux [\AA]")
    assert savefig_works(again)
    assert again.axes[0].get_ylabel() == "flux [Å]"


def test_figures_without_the_style_are_left_alone():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.set_xlabel(r"$\lambda$ [\AA] and a label much longer than these small axes")
    assert savefig_works(fig)
    assert ax.get_xlabel() == r"$\lambda$ [\AA] and a label much longer than these small axes"


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"[\AA]", "[Å]"),
        (r"$\lambda$ [\AA]", r"$\lambda$ [Å]"),
        (r"$\mathrm{\AA}$ stays math", r"$\mathrm{\AA}$ stays math"),
        (r"cm$^{-2}$ \AA$^{-1}$", r"cm$^{-2}$ Å$^{-1}$"),
        (r"costs \$5 per \AA", r"costs \$5 per Å"),
        ("no angstrom", "no angstrom"),
    ],
)
def test_latex_to_mathtext(text, expected):
    assert labels.latex_to_mathtext(text) == expected


def run_fresh(script: str, cwd: Path) -> str:
    """Run ``script`` in a new interpreter importing this checkout; return its output."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


USE_STYLE = """
from matplotlib import pyplot
import matplotlib
pyplot.style.use('unite.mplstyle')
print(matplotlib.rcParams['font.size'], 'unite.mplstyle' in matplotlib.style.available)
"""


def test_importing_unite_stan_does_not_import_matplotlib(tmp_path):
    # a fresh interpreter in a directory without a style file: the style still resolves
    script = """
import sys
import unite_stan
from unite_stan import continuum, line, model, prior, results, spectrum
print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))
"""
    assert run_fresh(script + USE_STYLE, tmp_path).splitlines() == ["[]", "25.0 True"]


def test_style_registers_when_matplotlib_came_first(tmp_path):
    script = "import matplotlib.pyplot\nimport unite_stan\n"
    assert run_fresh(script + USE_STYLE, tmp_path) == "25.0 True"


def test_use_latex(monkeypatch):
    monkeypatch.setattr(styles.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no 'latex' executable"):
        styles.use_latex(True)
    styles.use_latex(False)
    assert matplotlib.rcParams["text.usetex"] is False
    monkeypatch.setattr(styles.shutil, "which", lambda name: "/usr/bin/latex")
    styles.use_latex(True)
    assert matplotlib.rcParams["text.usetex"] is True


# --- spectrum -------------------------------------------------------------------------------


def test_plot_spectrum_layout_labels_and_legend():
    table = spectrum_table()
    fig = plot.plot_spectrum(table)
    assert len(fig.axes) == 2
    ax_spec, ax_res = fig.axes
    assert legend_labels(ax_spec) == ["Data", "Model", *COMPONENTS]
    assert ax_spec.get_title() == "grism"
    # units as math text, with the flux rescaled to a power of ten near the data
    assert ax_res.get_xlabel() == r"Wavelength [$\mathrm{\mathring{A}}$]"
    assert ax_spec.get_ylabel() == (
        "Flux density\n"
        r"[$10^{-16}\,\mathrm{erg\,\mathring{A}^{-1}\,s^{-1}\,cm^{-2}}$]"
    )
    # data step, median model, one line per component
    assert len(ax_spec.get_lines()) == 2 + len(COMPONENTS)
    model_line = ax_spec.get_lines()[1]
    np.testing.assert_allclose(
        model_line.get_ydata(), table["model_total"][:, 1].to_value(1e-16 * FLUX_UNIT)
    )
    assert savefig_works(fig)


def test_plot_spectrum_residuals_are_normalised_by_scaled_error():
    table = spectrum_table()
    fig = plot.plot_spectrum(table)
    residuals = fig.axes[1].get_lines()[0].get_ydata()
    i = 17
    expected = (table["observed_flux"][i] - table["model_total"][i, 1]) / table["scaled_error"][i]
    assert residuals[i] == pytest.approx(expected.to_value(u.dimensionless_unscaled))
    hlines = sorted(line.get_ydata()[0] for line in fig.axes[1].get_lines()[1:])
    assert hlines == [-1, 0, 1]


def test_plot_spectrum_with_nan_rows_and_absorption():
    table = spectrum_table(absorption=True, gap_rows=(20, 21))
    fig = plot.plot_spectrum(table, title="with gap")
    ax_spec = fig.axes[0]
    assert legend_labels(ax_spec) == ["Data", "Model", *COMPONENTS, "NaD"]
    assert ax_spec.get_lines()[-1].get_linestyle() == "--"  # absorption drawn dashed
    assert np.isnan(fig.axes[1].get_lines()[0].get_ydata()[20])
    assert ax_spec.get_title() == "with gap"
    assert savefig_works(fig)


def test_plot_spectrum_without_components_or_residuals_on_given_axes():
    fig, ax = plt.subplots()
    out = plot.plot_spectrum(spectrum_table(), ax=ax, show_components=False, show_residuals=False)
    assert out is fig and fig.axes == [ax]
    assert legend_labels(ax) == ["Data", "Model"]
    with pytest.raises(ValueError, match="show_residuals=True pass two axes"):
        plot.plot_spectrum(spectrum_table(), ax=ax)


def test_plot_spectrum_rejects_tables_without_data_columns():
    table = spectrum_table()
    del table["scaled_error"]
    with pytest.raises(ValueError, match=r"lacks the columns \['scaled_error'\]"):
        plot.plot_spectrum(table)


def test_plot_fit_draws_each_spectrum(monkeypatch):
    calls = []

    def make_spectra_tables(samples, args, *, insert_nan=False, percentiles=None):
        calls.append(percentiles)
        return {"grism": spectrum_table(), "prism": spectrum_table(n_pix=30)}

    fake = types.ModuleType("unite_stan.results")
    fake.make_spectra_tables = make_spectra_tables
    monkeypatch.setitem(sys.modules, "unite_stan.results", fake)
    monkeypatch.setattr(unite_stan, "results", fake, raising=False)

    figures = plot.plot_fit({}, None)
    assert len(figures) == 2
    np.testing.assert_allclose(calls[0], [0.16, 0.5, 0.84])
    assert [len(fig.axes[0].get_lines()[0].get_xdata()) for fig in figures] == [60, 30]
    assert len(plot.plot_fit({}, None, spectra="prism")) == 1
    with pytest.raises(ValueError, match=r"unknown spectra \['nope'\]"):
        plot.plot_fit({}, None, spectra=["nope"])
    with pytest.raises(ValueError, match="odd number of increasing fractions"):
        plot.plot_fit({}, None, percentiles=(0.16, 0.84))


# --- traces and ranks -----------------------------------------------------------------------


def draws_dataset(n_chains=3, n_draws=200):
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {
            "z_narrow": (("chain", "draw"), rng.normal(size=(n_chains, n_draws))),
            "flux_Ha": (("chain", "draw"), rng.normal(size=(n_chains, n_draws))),
            "norm_wav_a": (("chain", "draw"), np.full((n_chains, n_draws), 6642.3)),
            "width": (("chain", "draw", "line"), rng.normal(size=(n_chains, n_draws, 2))),
        }
    )
    diverging = np.zeros((n_chains, n_draws), bool)
    diverging[0, [5, 50]] = True
    ds["diverging"] = (("chain", "draw"), diverging)
    return ds


def test_plot_trace_default_variables_and_divergences():
    fig = plot.plot_trace(draws_dataset())
    # z_narrow and flux_Ha: the constant and the vector variable are left out by default
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes[::2]] == ["z_narrow", "flux_Ha"]
    trace = fig.axes[1]
    assert len(trace.get_lines()) == 3 + 1  # one per chain, plus the divergence marks
    np.testing.assert_array_equal(trace.get_lines()[-1].get_xdata(), [5, 50])
    assert legend_labels(fig) == ["chain 0", "chain 1", "chain 2", "divergent"]
    assert savefig_works(fig)


def test_plot_trace_uses_free_parameters_and_explicit_names():
    ds = draws_dataset()
    ds.attrs["free_parameters"] = ["flux_Ha"]
    assert len(plot.plot_trace(ds).axes) == 2
    fig = plot.plot_trace(ds, var_names=["width"])
    assert [ax.get_title() for ax in fig.axes[::2]] == ["width[0]", "width[1]"]
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.plot_trace(
            ds.drop_vars(["z_narrow", "flux_Ha", "width"]).assign_attrs(free_parameters=[])
        )


def test_plot_rank_histograms():
    ds = draws_dataset(n_chains=4, n_draws=400)
    ds["stuck"] = ds["z_narrow"] + xr.DataArray([0, 0, 0, 10], dims="chain")
    fig = plot.plot_rank(ds, var_names=["z_narrow", "flux_Ha", "stuck", "width"], bins=10)
    assert len(fig.axes) == 5
    stuck = fig.axes[2]
    assert stuck.get_title() == "stuck"
    heights = np.array([patch.get_height() for patch in stuck.patches]).reshape(4, 10)
    assert heights.sum(axis=1).tolist() == [400] * 4
    assert heights[3, -1] > 3 * 400 / 10  # the shifted chain holds the top ranks
    assert savefig_works(fig)
