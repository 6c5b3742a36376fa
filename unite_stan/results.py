"""Result tables, FITS output and parameter freezing for a fitted model (unite's ``results``).

Every function takes the ``(samples, args)`` pair returned by
:meth:`~unite_stan.model.ModelBuilder.fit`: ``samples`` maps each sampled site to a flat array of
draws (plus ``log_prob`` and ``log_likelihood``), ``args`` is the
:class:`~unite_stan.model.ModelArgs` of the fit. Fixed parameters are resolved per draw from
``args``, so tables and frozen values always cover every parameter of the model.
"""

from __future__ import annotations

from collections.abc import Callable

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from unite_stan.compute import _n_draws, evaluate_model, line_arrays, resolve_site_values
from unite_stan.prior import Fixed
from unite_stan.stan.render import RenderedProgram

__all__ = [
    "count_parameters",
    "freeze_from_samples",
    "make_hdul",
    "make_parameter_table",
    "make_spectra_tables",
    "summary",
]

CENFUNCS = ("median", "mean", "map", "mle")
"""Names accepted by :func:`freeze_from_samples` (besides a callable)."""

_LOG_DENSITIES = ("log_prob", "log_likelihood")
# how summary() prints its numbers (the columns keep full precision)
_SUMMARY_FORMATS = {
    **dict.fromkeys(("mean", "sd", "q5", "q50", "q95"), ".4g"),
    "r_hat": ".4f",
    "ess_bulk": ".0f",
    "ess_tail": ".0f",
}
# Upper bound on the elements of one (draws × pixels × components) piece of the model evaluated
# at once by make_spectra_tables; bounds the forward model's temporaries (about ten arrays of
# one component's size, 8 bytes an element), not the returned tables.
_CHUNK_ELEMENTS = 4_000_000


# ---- parameters --------------------------------------------------------------------------


def count_parameters(model_fn, model_args) -> int:
    """Number of free scalar parameters of a model (Fixed parameters excluded).

    Parameters
    ----------
    model_fn : RenderedProgram
        The program returned by :meth:`~unite_stan.model.ModelBuilder.build` (unite's model
        function). Only its type is checked: the count comes from ``model_args``.
    model_args : ModelArgs
        The model's arguments.

    Returns
    -------
    int
        Number of sampled sites; every site of a unite_stan model is a scalar.
    """
    if not isinstance(model_fn, RenderedProgram):
        raise TypeError(
            f"model_fn={model_fn!r} ({type(model_fn).__name__}) is not a model: pass the first "
            "element of ModelBuilder(...).build()"
        )
    return len(model_args.free_sites)


def make_parameter_table(samples: dict, args, *, percentiles=None) -> QTable:
    """Table of every parameter, one row per draw or per percentile.

    Parameters
    ----------
    samples : dict
        Site name → 1-D array of draws for every sampled site; ``log_prob`` and
        ``log_likelihood`` are tabulated when present.
    args : ModelArgs
        The model's arguments.
    percentiles : array_like, optional
        Fractions in (0, 1). If given, the table has one row per percentile (linear
        interpolation over all draws, as :func:`numpy.percentile`) and a leading
        ``percentile`` column; otherwise one row per draw.

    Returns
    -------
    astropy.table.QTable
        Columns, each group in the model's dependency order: redshift sites; FWHM sites (velocity
        slots 0 and 1 of a profile, km/s); flux sites (× line scale, in spectrum-0 flux unit ×
        canonical unit) followed by ``rew_{line}`` rest-frame equivalent widths of emission lines
        (canonical unit); tau sites followed by ``rew_{line}`` of absorption lines; continuum
        sites (scale-like slots × continuum scale in spectrum-0 flux unit, ``norm_wav`` in the
        region unit, others raw); every other site (calibration, shape parameters, covering
        fractions) raw; then ``log_prob`` and ``log_likelihood``. Fixed
        parameters are constant columns. ``meta`` holds ``LFLXSCL``, ``LFLXUNT``, ``CNTSCL``,
        ``CNTUNT``, ``NRMFCTRS`` and ``ZSYS``.

    Notes
    -----
    The equivalent width of an emission line is ``F / (C·(1 + z_sys + δz))`` with ``C`` the
    continuum at the line's observed centre (summed over the regions containing the median
    centre, pointwise, without LSF). Lines outside every region, or with zero continuum in every
    draw, get no column. The equivalent width of an absorption line (negative) is the
    trapezoid integral, over the pixel centres of the finest spectrum covering the line, of
    the flux it removes (its column in :func:`make_spectra_tables`) over that continuum,
    divided by ``1 + z_sys + δz``; its ``rew_{line}`` follows the tau sites.
    """
    pct = _check_percentiles(percentiles)
    values = resolve_site_values(samples, args)
    groups = _site_groups(args)
    units = _site_units(args)
    table = QTable(meta=_scale_meta(args))
    if pct is not None:
        table["percentile"] = pct

    def add(name: str, data: np.ndarray, unit=None) -> None:
        column = _summarise(np.asarray(data, dtype=float), pct)
        table[name] = column if unit is None else column * unit

    def add_sites(group: str) -> None:
        for name in groups[group]:
            factor, unit = units[name]
            add(name, values[name] if factor == 1.0 else values[name] * factor, unit)

    add_sites("redshift")
    add_sites("fwhm")
    add_sites("flux")
    for line_name, rew in _emission_rews(values, args).items():
        add(f"rew_{line_name}", rew, args.canonical_unit)
    add_sites("tau")
    for line_name, rew in _absorption_rews(samples, values, args).items():
        add(f"rew_{line_name}", rew, args.canonical_unit)
    add_sites("continuum")
    add_sites("other")
    for key in _LOG_DENSITIES:
        if key in samples:
            add(key, samples[key])
    return table


def _check_percentiles(percentiles) -> np.ndarray | None:
    if percentiles is None:
        return None
    pct = np.atleast_1d(np.asarray(percentiles, dtype=float))
    if pct.ndim != 1 or pct.size == 0:
        raise ValueError(
            f"percentiles={percentiles!r}: give a 1-D sequence of fractions in (0, 1), "
            "e.g. [0.16, 0.5, 0.84]"
        )
    bad = [float(p) for p in pct if not 0.0 < p < 1.0]
    if bad:
        raise ValueError(
            f"percentiles={pct.tolist()}: {bad[0]!r} is not a fraction in (0, 1) (the "
            "percentiles are fractions, e.g. 0.5 for the median, not 50)"
        )
    return pct


def _summarise(draws: np.ndarray, pct: np.ndarray | None) -> np.ndarray:
    """Percentiles over the first (draw) axis, or the draws themselves."""
    if pct is None:
        return draws
    return np.percentile(draws, 100.0 * pct, axis=0)


def _site_groups(args) -> dict[str, list[str]]:
    """Sites by table group, each in dependency order; a site joins its first matching group."""
    entries = list(args.line_config)
    members = {
        "redshift": {e.redshift.name for e in entries},
        "fwhm": {
            e.fwhms[slot].name
            for e in entries
            for slot in e.profile.param_names()[:2]
            if e.profile.is_velocity(slot)
        },
        "flux": {e.flux.name for e in entries if e.flux is not None},
        "tau": {e.tau.name for e in entries if e.tau is not None},
        "continuum": {tok.name for slots in args.cont_resolved_params for tok in slots.values()},
    }
    groups: dict[str, list[str]] = {key: [] for key in (*members, "other")}
    for name in args.dependency_order:
        group = next((key for key, names in members.items() if name in names), "other")
        groups[group].append(name)
    return groups


def _site_units(args) -> dict[str, tuple[float, u.UnitBase | None]]:
    """Site → (factor, unit) turning its sampled value into the parameter table's.

    Fluxes × line scale, in spectrum-0 flux unit × canonical unit (erg/s/cm² for a spectrum in
    erg/s/cm²/Å); FWHMs in km/s; continuum slots as their form says; every other site as
    sampled (factor 1, no unit).
    """
    groups = _site_groups(args)
    units: dict[str, tuple[float, u.UnitBase | None]] = {
        name: (1.0, None) for names in groups.values() for name in names
    }
    units.update({name: (1.0, u.km / u.s) for name in groups["fwhm"]})
    flux = (float(args.line_flux_scales[0]), args.flux_units[0] * args.canonical_unit)
    units.update({name: flux for name in groups["flux"]})
    continuum = _continuum_units(args)
    units.update({name: continuum[name] for name in groups["continuum"]})
    return units


def _continuum_units(args) -> dict[str, tuple[float, u.UnitBase | None]]:
    """Continuum site → (factor, unit) from its form's ``param_units``; None for raw values."""
    out: dict[str, tuple[float, u.UnitBase | None]] = {}
    for region, slots in zip(args.cont_regions, args.cont_resolved_params, strict=True):
        units = region.form.param_units(args.flux_units[0], region.unit)
        for slot, token in slots.items():
            if token.name in out:
                continue
            scaled, unit = units[slot]
            factor = args.continuum_scales[0] if scaled else 1.0
            out[token.name] = (factor, None if unit == u.dimensionless_unscaled else unit)
    return out


def _continuum_at(
    values: dict[str, np.ndarray], args, wavelength: np.ndarray, regions
) -> np.ndarray:
    """Sum of the given regions' continua at observed wavelengths (canonical unit).

    ``wavelength`` has one value per draw; the result is in units of continuum_scale,
    pointwise and without LSF.
    """
    z_sys = args.redshift
    total = np.zeros_like(wavelength)
    for r in regions:
        params = {slot: values[tok.name] for slot, tok in args.cont_resolved_params[r].items()}
        norm_wav = params.get("norm_wav", np.ones_like(wavelength))
        total = total + args.cont_forms[r].evaluate(
            wavelength,
            params,
            obs_low=args.cont_low[r] * (1 + z_sys),
            obs_high=args.cont_high[r] * (1 + z_sys),
            norm_wav=norm_wav * args.cont_nw_conv[r] * (1 + z_sys),
            lsf_fwhm=None,
            wl_unit=args.canonical_unit,
            z_sys=z_sys,
        )
    return total


def _emission_rews(values: dict[str, np.ndarray], args) -> dict[str, np.ndarray]:
    """Line name → per-draw rest-frame equivalent width (canonical unit) of emission lines."""
    if not args.cont_regions:
        return {}
    lines = line_arrays(values, args)
    rews = {}
    for j, entry in enumerate(args.line_config):
        if entry.is_absorption:
            continue
        continuum = _line_continuum(values, args, j, lines)
        if continuum is None:
            continue
        flux = lines["amp"][:, j] * args.line_flux_scales[0]
        rest_factor = 1 + args.redshift + values[entry.redshift.name]
        with np.errstate(divide="ignore", invalid="ignore"):
            rews[entry.name] = flux / (continuum * rest_factor)
    return rews


def _line_continuum(values, args, j: int, lines: dict):
    """The continuum (continuum-scale units × ``continuum_scale[0]``) at line ``j``'s observed
    centre, per draw, summed over the regions that contain its median centre; ``None`` when
    no region does or the continuum is zero in every draw."""
    z_sys = args.redshift
    centre = lines["centre"][:, j]
    median = np.median(centre)
    regions = np.flatnonzero(
        (median >= args.cont_low * (1 + z_sys)) & (median <= args.cont_high * (1 + z_sys))
    )
    if regions.size == 0:
        return None
    continuum = _continuum_at(values, args, centre, regions) * args.continuum_scales[0]
    return None if np.all(continuum == 0) else continuum


def _absorption_rews(samples: dict, values: dict, args) -> dict[str, np.ndarray]:
    """Line name → per-draw rest-frame equivalent width (canonical unit, negative) of
    absorption lines: the trapezoid integral over the pixel centres of the finest spectrum
    covering the line of the flux the absorber removes over the continuum at its centre,
    divided by ``1 + z_sys + δz`` (spec §3.12)."""
    entries = list(args.line_config)
    if not args.cont_regions or not any(e.is_absorption for e in entries):
        return {}
    lines = line_arrays(values, args)
    # each absorber's continuum and spectrum; then one pass over each spectrum for all its
    # absorbers' integrals
    chosen = {}
    for j, entry in enumerate(entries):
        if not entry.is_absorption:
            continue
        continuum = _line_continuum(values, args, j, lines)
        s = _finest_spectrum(args, float(np.median(lines["centre"][:, j])))
        if continuum is not None and s is not None:
            chosen[entry.name] = (entry, continuum, s)
    removed = {}
    for s in sorted({s for _, _, s in chosen.values()}):
        names = [name for name, (_, _, t) in chosen.items() if t == s]
        removed.update(_trapezoids(samples, args, s, names))
    rews = {}
    for name, (entry, continuum, s) in chosen.items():
        # the spectrum's flux unit × canonical unit, in spectrum 0's
        factor = (args.flux_units[s] / args.flux_units[0]).to(u.dimensionless_unscaled)
        rest_factor = 1 + args.redshift + values[entry.redshift.name]
        with np.errstate(divide="ignore", invalid="ignore"):
            rews[name] = removed[name] * factor / (continuum * rest_factor)
    return rews


def _finest_spectrum(args, centre: float) -> int | None:
    """The spectrum whose pixels at ``centre`` (observed, canonical unit) are narrowest, among
    those whose pixel centres span it."""
    best, best_width = None, np.inf
    for s, spec in enumerate(args.spectra):
        wave = np.asarray(spec.wavelength, dtype=float) * args.spec_to_canonical[s]
        if wave.size < 2 or not wave.min() <= centre <= wave.max():
            continue
        k = int(np.clip(np.searchsorted(wave, centre), 1, wave.size - 1))
        width = abs(wave[k] - wave[k - 1])
        if width < best_width:
            best, best_width = s, width
    return best


def _trapezoids(samples: dict, args, s: int, names: list[str]) -> dict[str, np.ndarray]:
    """Per draw, the trapezoid integral of each of spectrum ``s``'s columns ``names`` over its
    pixel centres (canonical unit), evaluated in pieces of pixels that share their end
    pixels."""
    spec = args.spectra[s]
    chunk = _pixel_chunk(samples, args, s, minimum=2)
    total = {name: 0.0 for name in names}
    for start in range(0, spec.npix - 1, chunk - 1):
        (piece,) = evaluate_model(samples, args, pixels={s: slice(start, start + chunk)})
        step = np.diff(piece.wavelength * args.spec_to_canonical[s])
        for name in names:
            column = piece.lines[name]
            total[name] = total[name] + np.sum(
                0.5 * (column[:, 1:] + column[:, :-1]) * step, axis=1
            )
    return total


def _pixel_chunk(samples: dict, args, s: int, minimum: int = 1) -> int:
    """Pixels of spectrum ``s`` per piece of the forward model: at most ``_CHUNK_ELEMENTS``
    draws × pixels × components; the whole spectrum in convolution mode, whose every piece
    would compute the whole spectrum's convolution."""
    spec = args.spectra[s]
    if args.integration_mode == "convolution":
        return max(minimum, spec.npix)
    n_draws = _n_draws(samples, args)
    n_components = 1 + len(args.line_labels) + len(args.continuum_labels)
    return max(minimum, _CHUNK_ELEMENTS // max(n_draws * n_components, 1))


def _scale_meta(args) -> dict:
    return {
        "LFLXSCL": float(args.line_flux_scales[0]),
        "LFLXUNT": (args.flux_units[0] * args.canonical_unit).to_string(),
        "CNTSCL": float(args.continuum_scales[0]),
        "CNTUNT": u.Unit(args.flux_units[0]).to_string(),
        "NRMFCTRS": [float(n) for n in args.norm_factors],
        "ZSYS": float(args.redshift),
    }


# ---- spectra -----------------------------------------------------------------------------


def make_spectra_tables(
    samples: dict,
    args,
    *,
    insert_nan: bool = False,
    percentiles=None,
    return_hdul: bool = False,
):
    """Posterior-predictive model of every spectrum, decomposed into lines and continua.

    Parameters
    ----------
    samples : dict
        Site name → 1-D array of draws for every sampled site.
    args : ModelArgs
        The model's arguments.
    insert_nan : bool
        Insert two all-NaN rows in every gap between consecutive continuum regions (at one
        pixel step beyond the last pixel before and the first pixel after the gap), so that
        plotted lines break there.
    percentiles : array_like, optional
        Fractions in (0, 1); model columns then hold these percentiles over the draws
        (``numpy.percentile``, linear interpolation) instead of every draw.
    return_hdul : bool
        Return an :class:`~astropy.io.fits.HDUList` (empty primary HDU and one binary table per
        spectrum, ``EXTNAME`` = upper-cased spectrum name) instead of the dict.

    Returns
    -------
    dict of str to astropy.table.QTable, or astropy.io.fits.HDUList
        Spectrum name → table with one row per pixel whose centre lies in a continuum region
        (every pixel without continuum). Columns: ``wavelength`` (pixel centres, disperser
        unit); ``model_total``; one column per line (named by the line) and per continuum
        region (named by its label); ``observed_flux``, ``observed_error``, ``scaled_error``.
        Model columns have shape ``(n_pix, n_percentiles)`` or ``(n_pix, n_draws)``, in the
        spectrum's flux unit. ``meta`` holds ``SPECNAME`` and ``NORMFAC``.

    Notes
    -----
    The model is evaluated on pieces of the spectrum and each piece is reduced to its
    percentiles before the next, so with ``percentiles`` the memory used is the tables plus
    about 120 MB, whatever the number of draws and pixels; the time grows with draws × pixels
    (4000 draws of 100 000 pixels: about 90 s; ``plot.thin_draws`` bounds it). Without
    ``percentiles`` the tables themselves hold every draw: 8 bytes × draws × pixels ×
    (lines + continuum regions + 1), e.g. 2.2 GB for 4000 draws of 10 000 pixels with five
    lines and one region.
    """
    pct = _check_percentiles(percentiles)
    optical_depths = {f"od_{e.name}" for e in args.line_config if e.is_absorption}
    tables = {}
    for s, spec in enumerate(args.spectra):
        columns, in_region = _spectrum_columns(samples, args, s, pct)
        if insert_nan:
            step = (np.asarray(spec.high) - np.asarray(spec.low))[in_region]
            columns = _insert_gap_rows(columns, step, args, s)
        table = QTable(meta={"SPECNAME": spec.name, "NORMFAC": float(args.norm_factors[s])})
        for name, data in columns.items():
            if name == "wavelength":
                unit = spec.unit
            elif name in optical_depths:
                unit = u.dimensionless_unscaled
            else:
                unit = spec.flux_unit
            # ``<<`` attaches the unit without copying; a column of every draw can be large
            table.add_column(data << unit, name=name, copy=False)
        tables[spec.name] = table
    if return_hdul:
        return fits.HDUList([fits.PrimaryHDU(), *(_table_hdu(t) for t in tables.values())])
    return tables


def _spectrum_columns(
    samples: dict, args, s: int, pct: np.ndarray | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of spectrum ``s``'s table as plain arrays, and which pixels are its rows (those
    inside a region).

    The forward model runs on pieces of at most ``_CHUNK_ELEMENTS`` (draws × pixels ×
    components); each piece is reduced to its percentiles, or copied into the per-draw
    columns, before the next is evaluated.
    """
    spec = args.spectra[s]
    n_draws = _n_draws(samples, args)
    chunk = _pixel_chunk(samples, args, s)
    width = n_draws if pct is None else pct.size
    columns: dict[str, np.ndarray] = {}
    in_region = np.zeros(spec.npix, dtype=bool)
    n_rows = 0
    for start in range(0, spec.npix, chunk):
        (piece,) = evaluate_model(samples, args, pixels={s: slice(start, start + chunk)})
        rows = piece.in_region
        in_region[start : start + rows.size] = rows
        model = {
            "model_total": piece.total,
            **piece.lines,
            **piece.continuum_regions,
            **{f"od_{name}": od for name, od in piece.tau_profiles.items()},
        }
        data = {
            "observed_flux": piece.observed_flux,
            "observed_error": piece.observed_error,
            "scaled_error": piece.scaled_error,
        }
        if not columns:  # room for every pixel; rows outside the regions are cut at the end
            columns["wavelength"] = np.empty(spec.npix)
            columns.update({name: np.empty((spec.npix, width)) for name in model})
            columns.update({name: np.empty(spec.npix) for name in data})
        block = slice(n_rows, n_rows + int(rows.sum()))
        columns["wavelength"][block] = piece.wavelength[rows]
        every_row = bool(rows.all())
        for name, draws in model.items():
            draws = draws if every_row else draws[:, rows]
            columns[name][block] = (draws if pct is None else _pixel_percentiles(draws, pct)).T
        for name, values in data.items():
            columns[name][block] = values[rows]
        n_rows = block.stop
    return {name: column[:n_rows] for name, column in columns.items()}, in_region


def _pixel_percentiles(draws: np.ndarray, pct: np.ndarray) -> np.ndarray:
    """``numpy.percentile(draws, 100 * pct, axis=0)`` of a (draws, pixels) array, bit for bit.

    Pixels whose value is the same in every draw (most pixels of a line component, far from
    the line) skip the sort: their percentiles are that value, as ``numpy.percentile`` gives.
    The others are sorted with the draws contiguous, which is about three times faster than
    numpy's partition along the strided axis, and interpolated as numpy's ``linear`` method
    does (:func:`_sorted_percentiles`); a pixel with a NaN draw goes to ``numpy.percentile``.
    """
    out = np.empty((pct.size, draws.shape[1]))
    varies = np.any(draws != draws[:1], axis=0)
    out[:, ~varies] = draws[0, ~varies]
    if varies.any():
        ordered = np.sort(draws[:, varies].T, axis=1)
        values = _sorted_percentiles(ordered, 100.0 * pct)
        nan = np.isnan(ordered[:, -1])  # the sort puts NaN last
        if nan.any():
            values[:, nan] = np.percentile(ordered[nan].T, 100.0 * pct, axis=0)
        out[:, varies] = values
    return out


def _sorted_percentiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Percentiles ``q`` (in %) of each row of ``ordered`` (rows sorted, no NaN), shape
    (q, rows): numpy's ``linear`` method step by step (``numpy.lib._function_base_impl``:
    the fraction ``q / 100``, virtual index ``(n - 1) q``, and its ``_lerp``, which
    interpolates from the upper neighbour when the weight is >= 0.5), so that the result
    equals ``numpy.percentile`` to the last bit (tests/test_results.py checks it)."""
    n = ordered.shape[1]
    virtual = (n - 1) * np.true_divide(np.asarray(q, dtype=float), 100)
    below = np.clip(np.floor(virtual).astype(np.intp), 0, n - 1)
    above = np.clip(below + 1, 0, n - 1)
    gamma = (virtual - below)[:, None]
    a, b = ordered[:, below].T, ordered[:, above].T
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def _insert_gap_rows(
    columns: dict[str, np.ndarray], step: np.ndarray, args, s: int
) -> dict[str, np.ndarray]:
    """Add two NaN rows per gap between consecutive regions that has pixels on both sides.

    ``step`` is the width of each row's pixel, the distance of a NaN row from its neighbour.
    """
    to_native = (1 + args.redshift) / args.spec_to_canonical[s]
    wave = columns["wavelength"]
    gap_low = np.maximum.accumulate(args.cont_high)[:-1] * to_native
    gap_high = args.cont_low[1:] * to_native
    positions, new_waves = [], []
    for lo, hi in zip(gap_low, gap_high, strict=True):
        if not hi > lo:
            continue
        left = np.flatnonzero(wave <= lo)
        right = np.flatnonzero(wave >= hi)
        if left.size == 0 or right.size == 0:
            continue
        i, k = left[-1], right[0]
        before, after = wave[i] + step[i], wave[k] - step[k]
        if before > after:  # gap narrower than a pixel: keep the wavelengths sorted
            before = after = 0.5 * (wave[i] + wave[k])
        positions += [i + 1, i + 1]
        new_waves += [before, after]
    if not positions:
        return columns
    out = {}
    for name, data in columns.items():
        fill = new_waves if name == "wavelength" else np.nan
        out[name] = np.insert(data, positions, fill, axis=0)
    return out


def _table_hdu(table: QTable, name: str | None = None) -> fits.BinTableHDU:
    hdu = fits.table_to_hdu(table)
    # through ``name``, astropy writes EXTNAME with its standard comment, as unite's files have
    hdu.name = (name if name is not None else table.meta["SPECNAME"]).upper()
    return hdu


# The primary header of make_hdul: key -> comment, in unite's order.
_PRIMARY_KEYS = {
    "ZSYS": "Systemic redshift",
    "LFLXSCL": "Line flux scale",
    "LFLXUNT": "Line flux scale unit",
    "CNTSCL": "Continuum flux scale",
    "CNTUNT": "Continuum flux scale unit",
}


def make_hdul(samples: dict, args, *, insert_nan: bool = False, percentiles=None) -> fits.HDUList:
    """All results of a fit as one FITS :class:`~astropy.io.fits.HDUList`.

    Parameters
    ----------
    samples, args
        As for :func:`make_parameter_table`.
    insert_nan, percentiles
        As for :func:`make_spectra_tables`; ``percentiles`` also applies to the parameter table.

    Returns
    -------
    astropy.io.fits.HDUList
        Primary HDU (header ``ZSYS``, ``LFLXSCL``, ``LFLXUNT``, ``CNTSCL``, ``CNTUNT``,
        ``NSPEC``, with unite's comments), the ``PARAMETERS`` table (its ``meta`` in the
        header: the scales, one ``NRMFCTRS`` card per spectrum, ``ZSYS``), then one table per
        spectrum (``EXTNAME`` the upper-cased spectrum name, header ``SPECNAME`` and
        ``NORMFAC``), as :func:`make_spectra_tables` with ``return_hdul=True``.
    """
    params = make_parameter_table(samples, args, percentiles=percentiles)
    return hdul_of(params, samples, args, insert_nan=insert_nan, percentiles=percentiles)


def hdul_of(
    params: QTable, samples: dict, args, *, insert_nan: bool = False, percentiles=None
) -> fits.HDUList:
    """:func:`make_hdul` around a parameter table already made (``make_parameter_table`` of
    the same ``samples``, ``args`` and ``percentiles``), as the batch layer does to use one
    table for the FITS file and the status record."""
    spectra = make_spectra_tables(
        samples, args, insert_nan=insert_nan, percentiles=percentiles, return_hdul=True
    )
    primary = fits.PrimaryHDU()
    for key, comment in _PRIMARY_KEYS.items():
        primary.header[key] = (params.meta[key], comment)
    primary.header["NSPEC"] = (len(args.spectra), "Number of spectra")
    return fits.HDUList([primary, _table_hdu(params, "PARAMETERS"), *spectra[1:]])


# ---- freezing and diagnostics ------------------------------------------------------------


def freeze_from_samples(
    samples: dict, args, *, cenfunc: str | Callable[[np.ndarray], float] = "median"
) -> dict[str, Fixed]:
    """One :class:`~unite_stan.prior.Fixed` prior per parameter, from the posterior draws.

    Parameters
    ----------
    samples : dict
        Site name → 1-D array of draws, with ``log_prob`` / ``log_likelihood`` for ``'map'`` /
        ``'mle'``.
    args : ModelArgs
        The model's arguments.
    cenfunc : {'median', 'mean', 'map', 'mle'} or callable
        How to summarise: per-parameter median or mean; ``'map'`` / ``'mle'`` take every
        parameter from the single draw with the largest ``log_prob`` / ``log_likelihood``; a
        callable maps a 1-D array of draws to a number.

    Returns
    -------
    dict of str to Fixed
        Every site of ``args.dependency_order`` (including parameters that were already Fixed,
        and the calibration tokens), in that order.
    """
    if isinstance(cenfunc, str):
        if cenfunc not in CENFUNCS:
            raise ValueError(
                f"cenfunc={cenfunc!r}; valid values are {list(CENFUNCS)} or a callable"
            )
    elif not callable(cenfunc):
        raise TypeError(
            f"cenfunc={cenfunc!r} ({type(cenfunc).__name__}) must be one of {list(CENFUNCS)} or "
            "a callable"
        )
    values = resolve_site_values(samples, args)
    if cenfunc in ("map", "mle"):
        key = "log_prob" if cenfunc == "map" else "log_likelihood"
        if key not in samples:
            raise ValueError(
                f"cenfunc={cenfunc!r} needs samples[{key!r}], which is missing; samples from "
                "ModelBuilder.fit() always have it"
            )
        best = int(np.nanargmax(np.asarray(samples[key], dtype=float)))
        return {name: _fixed(name, v[best], cenfunc) for name, v in values.items()}
    reduce = {"median": np.median, "mean": np.mean}.get(cenfunc, cenfunc)
    return {name: _fixed(name, reduce(v), cenfunc) for name, v in values.items()}


def _fixed(name: str, value, cenfunc) -> Fixed:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 0 or not np.isfinite(arr):
        raise ValueError(
            f"cenfunc={cenfunc!r} gave {value!r} for {name!r}; it must give one finite number"
        )
    return Fixed(float(arr))


def summary(args) -> Table:
    """Posterior summary of the free parameters, in the parameter table's units, with
    convergence diagnostics.

    Parameters
    ----------
    args : ModelArgs
        The model's arguments after :meth:`~unite_stan.model.ModelBuilder.fit`.

    Returns
    -------
    astropy.table.Table
        :func:`unite_stan.diagnostics.summary` of the fit's free parameters (columns ``name,
        mean, sd, q5, q50, q95, unit, r_hat, ess_bulk, ess_tail``), each in the unit of its
        :func:`make_parameter_table` column, named in ``unit``: fluxes × line scale in
        erg/s/cm² (for spectra in erg/s/cm²/Å), FWHMs in km/s, continuum scales × continuum
        scale; R-hat and ESS do not depend on the scale.
    """
    # the draws as numpy arrays: args.dataset would build (and import) xarray
    draws = args.draws
    if draws is None:
        raise ValueError(
            "args.dataset is None: no draws are attached; run ModelBuilder.fit() first"
        )
    from unite_stan import diagnostics
    from unite_stan.draws import Draws

    units = _site_units(args)
    variables = dict(draws.variables)
    for name, (factor, _) in units.items():
        if name in variables and factor != 1.0:
            dims, values, *var_attrs = variables[name]
            variables[name] = (dims, np.asarray(values) * factor, *var_attrs)
    scaled = Draws(variables, draws.coords, draws.attrs)
    table = diagnostics.summary(scaled, draws.attrs.get("free_parameters"))
    unit_names = [units.get(name, (1.0, None))[1] for name in table["name"]]
    table.add_column(
        [format(unit) if unit is not None else "" for unit in unit_names],
        name="unit",
        index=table.colnames.index("r_hat"),
    )
    for name, spec in _SUMMARY_FORMATS.items():
        table[name].info.format = spec
    return table
