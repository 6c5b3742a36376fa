"""Figures for looking at a fit: the spectrum with its model, MCMC traces and rank plots.

Every function returns the :class:`matplotlib.figure.Figure` it drew (created with
``pyplot.subplots`` unless axes are passed) and never calls ``pyplot.show``. Apply the package
style first for unite's look: ``pyplot.style.use('unite.mplstyle')``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from astropy import units as u
from astropy.table import Table
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from scipy.stats import rankdata

from unite_stan.diagnostics import _scalar_draws

__all__ = ["MAX_BAND_DRAWS", "plot_fit", "plot_rank", "plot_spectrum", "plot_trace", "thin_draws"]

MAX_BAND_DRAWS = 500
"""Default largest number of draws :func:`plot_fit` computes its model and band from.

Its 16th and 84th percentiles are then uncertain by about 0.07 posterior standard deviations
(for independent draws), invisible at a plot's scale, and a 100 000-pixel spectrum takes
seconds instead of minutes."""

_DATA_COLUMNS = ("wavelength", "model_total", "observed_flux", "observed_error", "scaled_error")
_MODEL_COLOUR = "C0"
# components take the cycle's colours after the model's, stopping before unite's last (black),
# which would be confused with the data
_COMPONENT_COLOURS = [f"C{i}" for i in range(1, 7)]


def _component_names(table: Table) -> list[str]:
    """Model-component columns of a spectrum table, in table order.

    Every column except the data, the total model and the optical depths ``od_*``: one per
    emission or absorption line and one per continuum region.
    """
    return [
        name for name in table.colnames if name not in _DATA_COLUMNS and not name.startswith("od_")
    ]


def plot_spectrum(
    table: Table,
    *,
    ax=None,
    show_components: bool = True,
    show_residuals: bool = True,
    title: str | None = None,
) -> Figure:
    """Plot one observed spectrum with the posterior model, its components and residuals.

    Parameters
    ----------
    table : astropy.table.QTable
        One spectrum's table from ``results.make_spectra_tables(samples, args,
        percentiles=...)``. Model columns hold one column per percentile, in increasing
        order: the middle one is drawn as the model and the outermost two as its band (the
        68 % band for the default percentiles 0.16, 0.5, 0.84). Rows of NaN (gaps between
        regions) break the lines.
    ax : matplotlib.axes.Axes or (Axes, Axes), optional
        Where to draw: a pair ``(spectrum_axes, residual_axes)`` when ``show_residuals`` is
        true, a single Axes otherwise. Default: a new figure.
    show_components : bool, optional
        Draw the median of every line and continuum component (absorption lines dashed).
    show_residuals : bool, optional
        Add a panel of ``(observed_flux - median model) / scaled_error``.
    title : str, optional
        Figure title; default the table's ``meta['SPECNAME']``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
    """
    missing = [name for name in _DATA_COLUMNS if name not in table.colnames]
    if missing:
        raise ValueError(
            f"spectrum table lacks the columns {missing}; expected a table from "
            f"results.make_spectra_tables with columns {list(_DATA_COLUMNS)} (got {table.colnames})"
        )
    ax_spec, ax_res = _spectrum_axes(ax, show_residuals)

    wavelength = u.Quantity(table["wavelength"])
    wave = wavelength.value
    flux_unit = _display_unit(u.Quantity(table["observed_flux"]))
    flux, error, scaled_error = (
        u.Quantity(table[name]).to_value(flux_unit)
        for name in ("observed_flux", "observed_error", "scaled_error")
    )
    model = _percentile_columns(table, "model_total", flux_unit)
    median = model[:, model.shape[1] // 2]

    ax_spec.fill_between(
        wave, flux - error, flux + error, step="mid", color="0.6", alpha=0.35, linewidth=0
    )
    (data_line,) = ax_spec.step(wave, flux, where="mid", color="k", linewidth=1)
    handles = [(Patch(color="0.6", alpha=0.35), data_line)]
    labels = ["Data"]
    (model_line,) = ax_spec.plot(wave, median, color=_MODEL_COLOUR, linewidth=2, zorder=3)
    if model.shape[1] > 1:
        ax_spec.fill_between(
            wave, model[:, 0], model[:, -1], color=_MODEL_COLOUR, alpha=0.3, linewidth=0, zorder=2
        )
        handles.append((Patch(color=_MODEL_COLOUR, alpha=0.3), model_line))
    else:
        handles.append(model_line)
    labels.append("Model")

    if show_components:
        for i, name in enumerate(_component_names(table)):
            component = _percentile_columns(table, name, flux_unit)
            (line,) = ax_spec.plot(
                wave,
                component[:, component.shape[1] // 2],
                color=_COMPONENT_COLOURS[i % len(_COMPONENT_COLOURS)],
                linestyle="--" if f"od_{name}" in table.colnames else "-",
                linewidth=1.2,
                alpha=0.75,
            )
            handles.append(line)
            labels.append(name)
    ax_spec.legend(handles, labels, fontsize="small", ncols=2 if len(labels) > 6 else 1)
    ax_spec.set_ylabel(_axis_label("Flux density", flux_unit, sep="\n"))
    ax_spec.set_title(title if title is not None else table.meta.get("SPECNAME", ""))

    if ax_res is not None:
        ax_res.step(wave, (flux - median) / scaled_error, where="mid", color="k", linewidth=1)
        ax_res.axhline(0, color="0.5", linewidth=1)
        for level in (-1, 1):
            ax_res.axhline(level, color="0.5", linewidth=1, linestyle="--")
        ax_res.set_ylabel(r"$\Delta/\sigma$")
    (ax_res if ax_res is not None else ax_spec).set_xlabel(
        _axis_label("Wavelength", wavelength.unit)
    )
    return ax_spec.figure


def plot_fit(
    samples,
    args,
    *,
    percentiles: Sequence[float] = (0.16, 0.5, 0.84),
    spectra: str | Iterable[str] | None = None,
    max_draws: int | None = MAX_BAND_DRAWS,
) -> list[Figure]:
    """Plot every fitted spectrum (or the named ones) with :func:`plot_spectrum`.

    Parameters
    ----------
    samples, args
        Posterior samples and model arguments, as passed to ``results.make_spectra_tables``.
    percentiles : sequence of float, optional
        Increasing fractions in (0, 1), odd in number; the middle one is drawn as the model
        and the outermost two as its band.
    spectra : str or iterable of str, optional
        Names of the spectra to plot; default all, in the order of the results tables.
    max_draws : int or None, optional
        Largest number of draws the model and its band are computed from (default
        :data:`MAX_BAND_DRAWS`); a longer run is thinned to that many draws, evenly spaced
        over the chains (the same draws every time). ``None`` uses every draw.

    Returns
    -------
    list of matplotlib.figure.Figure
        One figure per spectrum.

    Notes
    -----
    The model is evaluated in pieces of the spectrum, each reduced to its percentiles at once
    (see ``results.make_spectra_tables``), so memory stays at a few hundred MB for any
    number of pixels; the time grows with draws × pixels, which the thinning bounds.
    """
    # results imports the model-building stack; plots of traces should not pay for it
    from unite_stan import results

    percentiles = np.asarray(percentiles, dtype=float)
    if (
        percentiles.ndim != 1
        or percentiles.size % 2 == 0
        or np.any(np.diff(percentiles) <= 0)
        or np.any((percentiles <= 0) | (percentiles >= 1))
    ):
        raise ValueError(
            f"percentiles={percentiles.tolist()}: need an odd number of increasing fractions "
            "in (0, 1), e.g. (0.16, 0.5, 0.84)"
        )
    # gap rows break the drawn lines between separate wavelength regions
    tables = results.make_spectra_tables(
        thin_draws(samples, max_draws), args, insert_nan=True, percentiles=percentiles
    )
    if spectra is None:
        names = list(tables)
    else:
        names = [spectra] if isinstance(spectra, str) else list(spectra)
        unknown = [name for name in names if name not in tables]
        if unknown:
            raise ValueError(f"unknown spectra {unknown}; the fit has {list(tables)}")
    return [plot_spectrum(tables[name]) for name in names]


def thin_draws(samples: dict, max_draws: int | None) -> dict:
    """At most ``max_draws`` draws of ``samples``, evenly spaced (deterministic).

    Parameters
    ----------
    samples : dict
        Name → 1-D array of draws, every array of the same length (as returned by ``fit``:
        the chains one after the other).
    max_draws : int or None
        Number of draws to keep; ``None`` keeps all.

    Returns
    -------
    dict
        ``samples`` itself if it has at most ``max_draws`` draws, else a dict of the draws at
        indices ``round(linspace(0, n - 1, max_draws))``: every chain contributes in
        proportion to its length, and the same samples always give the same draws.
    """
    if max_draws is not None and max_draws < 1:
        raise ValueError(f"max_draws={max_draws!r}: give a positive number of draws, or None")
    lengths = {len(np.asarray(values)) for values in samples.values()}
    if len(lengths) > 1:
        raise ValueError(
            f"samples hold arrays of different lengths {sorted(lengths)}; thin_draws needs one "
            "draw per element of every array"
        )
    n_draws = lengths.pop() if lengths else 0
    if max_draws is None or n_draws <= max_draws:
        return samples
    keep = np.round(np.linspace(0, n_draws - 1, max_draws)).astype(int)
    return {name: np.asarray(values)[keep] for name, values in samples.items()}


def plot_trace(ds: xr.Dataset, var_names: Iterable[str] | None = None) -> Figure:
    """Trace plot: per-chain histograms (left) and draws against iteration (right).

    Divergent transitions, if the dataset has a boolean ``diverging`` variable, are marked
    with red ticks along the bottom of the trace panels.

    Parameters
    ----------
    ds : xarray.Dataset
        Draws with dimensions ``('chain', 'draw', ...)``.
    var_names : iterable of str, optional
        Variables to plot, one row per scalar element. Default: ``ds.attrs['free_parameters']``
        if present, else every non-constant variable with dimensions exactly (chain, draw).

    Returns
    -------
    matplotlib.figure.Figure
        Figure with two axes per row.
    """
    series = _plot_series(ds, var_names)
    fig, axes = plt.subplots(
        len(series),
        2,
        figsize=(12, 3 * len(series) + 1),
        width_ratios=(1, 2),
        squeeze=False,
        layout="constrained",
    )
    chains = _chain_labels(ds)
    diverging = (
        ds["diverging"].transpose("chain", "draw").values.astype(bool)
        if "diverging" in ds
        else None
    )
    for (label, draws), (ax_hist, ax_trace) in zip(series, axes, strict=True):
        edges = np.histogram_bin_edges(draws[np.isfinite(draws)], bins=30)
        for c, chain in enumerate(draws):
            colour = f"C{c}"
            ax_hist.hist(chain, bins=edges, density=True, histtype="step", color=colour)
            ax_trace.plot(chain, color=colour, linewidth=0.6, alpha=0.8, label=chains[c])
        if diverging is not None and diverging.any():
            _, draw_index = np.nonzero(diverging)
            ax_trace.plot(
                draw_index,
                np.zeros(draw_index.size),
                "|",
                color="red",
                markersize=12,
                transform=ax_trace.get_xaxis_transform(),
                label="divergent",
            )
        ax_hist.xaxis.set_major_locator(MaxNLocator(3))
        ax_hist.set_yticks([])
        ax_hist.tick_params(axis="y", which="minor", left=False, right=False)
        ax_hist.set_title(label)
        ax_trace.set_title(label)
    # a figure legend above the panels: inside one, it would cover the draws
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 5))
    axes[-1, 0].set_xlabel("Value")
    axes[-1, 1].set_xlabel("Draw")
    return fig


def plot_rank(ds: xr.Dataset, var_names: Iterable[str] | None = None, *, bins: int = 20) -> Figure:
    """Rank plot: histogram of each chain's ranks among all draws (Vehtari et al. 2021).

    Chains that sample the same distribution give flat histograms; a chain stuck in one region
    piles its ranks up at one end. The dashed lines mark the uniform expectation.

    Parameters
    ----------
    ds : xarray.Dataset
        Draws with dimensions ``('chain', 'draw', ...)``.
    var_names : iterable of str, optional
        Variables to plot, one panel per scalar element; default as in :func:`plot_trace`.
    bins : int, optional
        Number of rank bins.

    Returns
    -------
    matplotlib.figure.Figure
        Figure with one axes per scalar quantity, up to three per row.
    """
    if bins < 1:
        raise ValueError(f"bins={bins}: need at least one rank bin")
    series = _plot_series(ds, var_names)
    n_cols = min(3, len(series))
    n_rows = -(-len(series) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4.5 * n_cols, 3.5 * n_rows), squeeze=False, layout="constrained"
    )
    chains = _chain_labels(ds)
    for ax, (label, draws) in zip(axes.flat, series, strict=False):
        n_chains, n_draws = draws.shape
        ranks = rankdata(draws, axis=None).reshape(draws.shape)
        edges = np.linspace(0.5, draws.size + 0.5, bins + 1)
        counts = np.array([np.histogram(chain_ranks, edges)[0] for chain_ranks in ranks])
        expected = n_draws / bins
        # stack the chains' histograms; leave room for the tallest bar so none overlap
        spacing = 1.05 * max(counts.max(), 2 * expected)
        for c in range(n_chains):
            ax.bar(
                edges[:-1],
                counts[c],
                width=np.diff(edges),
                bottom=c * spacing,
                align="edge",
                color=f"C{c}",
                alpha=0.8,
            )
            ax.axhline(c * spacing + expected, color="k", linestyle="--", linewidth=1)
        ax.set_yticks(np.arange(n_chains) * spacing, chains)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.set_title(label)
        ax.set_xlabel("Rank (all chains)")
    for ax in axes.flat[len(series) :]:
        ax.remove()
    return fig


def _spectrum_axes(ax, show_residuals: bool):
    if ax is None:
        if show_residuals:
            _, (ax_spec, ax_res) = plt.subplots(
                2,
                1,
                sharex=True,
                figsize=(10, 8),
                height_ratios=(3, 1),
                layout="constrained",
            )
            return ax_spec, ax_res
        _, ax_spec = plt.subplots(figsize=(10, 5), layout="constrained")
        return ax_spec, None
    if not show_residuals:
        return ax, None
    try:
        ax_spec, ax_res = ax
    except (TypeError, ValueError):
        raise ValueError(
            f"ax={ax!r}: with show_residuals=True pass two axes (spectrum, residuals), "
            "or show_residuals=False with one"
        ) from None
    return ax_spec, ax_res


def _percentile_columns(table: Table, name: str, unit: u.UnitBase) -> np.ndarray:
    """A model column as a (n_pix, n_percentiles) array in ``unit``."""
    values = u.Quantity(table[name]).to_value(unit)
    values = values.reshape(len(values), -1)
    if values.shape[1] % 2 == 0:
        raise ValueError(
            f"column {name!r} has {values.shape[1]} columns; plot_spectrum needs an odd number of "
            "percentiles with the median in the middle, e.g. percentiles=[0.16, 0.5, 0.84]"
        )
    return values


def _display_unit(quantity: u.Quantity) -> u.UnitBase:
    """``quantity``'s unit, rescaled by a power of ten if its values are far from 1.

    Spectra in cgs units hold numbers near 1e-17; a unit of ``1e-17 erg / (Angstrom s cm2)`` in
    the axis label reads better than matplotlib's offset text.
    """
    magnitudes = np.abs(quantity.value)
    magnitudes = magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]
    if magnitudes.size == 0:
        return quantity.unit
    typical = np.median(magnitudes)
    if 1e-2 <= typical < 1e4:
        return quantity.unit
    return u.CompositeUnit(10.0 ** np.floor(np.log10(typical)), [quantity.unit], [1])


def _axis_label(name: str, unit: u.UnitBase, *, sep: str = " ") -> str:
    """``name [unit]``, the unit typeset as math (valid for mathtext and for LaTeX); a power
    of ten from :func:`_display_unit` reads ``10^-16 erg ...``, not ``1 × 10^-16 erg ...``."""
    if unit == u.dimensionless_unscaled:
        return name
    scale = getattr(unit, "scale", 1.0)
    exponent = np.log10(scale) if scale > 0 else np.nan
    if scale != 1.0 and np.isclose(exponent, np.round(exponent), rtol=0, atol=1e-9):
        unscaled = u.CompositeUnit(1.0, unit.bases, unit.powers)
        math = unscaled.to_string("latex_inline").strip("$")
        text = f"$10^{{{int(np.round(exponent))}}}\\,{math}$"
    else:
        text = unit.to_string("latex_inline")
    return f"{name}{sep}[{text}]"


def _plot_series(ds: xr.Dataset, var_names) -> list[tuple[str, np.ndarray]]:
    series = _scalar_draws(ds, var_names, scalar_only=True)
    if not series:
        raise ValueError(
            "nothing to plot: the dataset has no free_parameters attribute and no non-constant "
            f"variable with dimensions (chain, draw) among {sorted(ds.data_vars)}; pass var_names"
        )
    return series


def _chain_labels(ds: xr.Dataset) -> list[str]:
    chains = ds["chain"].values if "chain" in ds.coords else range(ds.sizes["chain"])
    return [f"chain {c}" for c in chains]
