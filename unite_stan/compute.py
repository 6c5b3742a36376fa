"""Posterior-predictive evaluation of the forward model in numpy (tables, plots, REWs).

The Stan program evaluates the same model for the likelihood; this module evaluates it per draw
for the decomposition into lines and continua, in each spectrum's original flux units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unite_stan.constants import C_KMS, FWHM_TO_SIGMA

__all__ = ["SpectrumPrediction", "evaluate_model", "line_arrays", "resolve_site_values"]


def resolve_site_values(samples: dict, args) -> dict[str, np.ndarray]:
    """Per-draw values of every site, free and fixed, in dependency order.

    Sampled sites come from ``samples``; Fixed literals are broadcast; Fixed expressions are
    evaluated per draw.
    """
    graph = args.prior_graph
    missing = [n for n in graph.free_sites if n not in samples]
    if missing:
        raise KeyError(f"samples lack the sampled sites {missing}")
    n_draws = _n_draws(samples, args)
    values = graph.resolve({n: np.asarray(samples[n], dtype=float) for n in graph.free_sites})
    # a Fixed number is one float: one value per draw, like the others
    return {n: np.broadcast_to(v, (n_draws,)).astype(float) for n, v in values.items()}


def _n_draws(samples: dict, args) -> int:
    for name in args.dependency_order:
        if name in samples:
            return int(np.asarray(samples[name]).shape[0])
    for key in ("log_prob", "log_likelihood"):
        if key in samples:
            return int(np.asarray(samples[key]).shape[0])
    return 1


@dataclass
class SpectrumPrediction:
    """Model decomposition of one spectrum; arrays have shape (n_draws, n_pix).

    ``lines`` holds, for an emission line, its flux profile without attenuation, and for an
    absorption line the flux it removes (negative): ``total`` less the total without that
    absorber. ``continuum_regions`` holds each region's continuum, not attenuated;
    ``tau_profiles`` each absorber's optical depth at the pixel centres, as unite's: its area
    optical depth times its density convolved with the LSF at the line's centre (the
    likelihood's exponent is the same optical depth averaged over each pixel, with each pixel
    edge's LSF).
    """

    name: str
    wavelength: np.ndarray  # pixel centres, disperser unit, not shifted
    total: np.ndarray
    lines: dict[str, np.ndarray]
    continuum_regions: dict[str, np.ndarray]
    observed_flux: np.ndarray
    observed_error: np.ndarray
    scaled_error: np.ndarray
    in_region: np.ndarray  # pixel centre inside some observed region (inclusive)
    tau_profiles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def continua(self) -> dict[str, np.ndarray]:
        """Alias of :attr:`continuum_regions`."""
        return self.continuum_regions


def line_arrays(values: dict[str, np.ndarray], args) -> dict[str, np.ndarray]:
    """Per line (columns) and draw (rows): observed centre, amplitude and slot widths."""
    entries = list(args.line_config)
    canonical = args.canonical_unit
    rest = np.array([e.wavelength.to_value(canonical) for e in entries])
    z = np.stack([values[e.redshift.name] for e in entries], axis=1)
    centre = rest * (1.0 + args.redshift + z)
    amp = np.stack(
        [values[(e.flux if e.flux is not None else e.tau).name] * e.strength for e in entries],
        axis=1,
    )
    widths = []
    for j, e in enumerate(entries):
        w = {}
        for slot, token in e.fwhms.items():
            v = values[token.name]
            w[slot] = centre[:, j] * v / C_KMS if e.profile.is_velocity(slot) else v
        widths.append(w)
    # an absorber's area optical depth: its peak optical depth over its intrinsic density at
    # the centre (spec §3.7); its covering fraction (1 without one)
    n_draws = centre.shape[0]
    area_tau = np.zeros_like(amp)
    covering = np.ones_like(amp)
    for j, e in enumerate(entries):
        if e.is_absorption:
            area_tau[:, j] = amp[:, j] / e.profile.peak(widths[j])
            if e.covering is not None:
                covering[:, j] = np.broadcast_to(values[e.covering.name], (n_draws,))
    return {
        "centre": centre,
        "amp": amp,
        "widths": widths,
        "area_tau": area_tau,
        "covering": covering,
    }


def _transmissions(entries, optical_depth: dict[int, np.ndarray], covering, targets):
    """Transmission of each target zorder, and of each with one absorber left out.

    Absorber ``k`` attenuates a target of zorder ``z`` when its own zorder exceeds ``z``; its
    transmission is ``1 - C + C exp(-tau)`` (``C`` its covering fraction; ``exp(-tau)`` at
    ``C = 1``, unite's). Returns ``{z: T}`` and ``{(z, k): T without k}``.
    """
    factor = {k: 1.0 - covering[:, k : k + 1] * -np.expm1(-od) for k, od in optical_depth.items()}
    full, without = {}, {}
    for z in targets:
        acting = [k for k in optical_depth if entries[k].zorder > z]
        full[z] = np.prod([factor[k] for k in acting], axis=0) if acting else 1.0
        for k in optical_depth:
            rest = [factor[i] for i in acting if i != k]
            without[(z, k)] = np.prod(rest, axis=0) if rest else 1.0
    return full, without


def _profile_cdf(profile, e, centre, widths, lsf):
    """``profile.cdf`` at edges ``e`` (draws × edges, increasing) for lines at ``centre``
    (draws × 1).

    As in the Stan program, a profile with ``window_sigmas`` is evaluated only within that many
    standard deviations of its widest total width (widest slot and widest LSF of the draw, in
    quadrature) around each draw's centre; left of that the cumulative is 0 and right of it 1
    (a Gaussian beyond 8 sigma carries 6e-16 of its flux). The window is each draw's own, so the
    result does not depend on which draws are evaluated together. It saves most of the work
    (and memory) on long spectra.
    """
    start, band = _profile_cdf_band(profile, e, centre, widths, lsf)
    out = np.zeros((band.shape[0], e.shape[1]))
    out[:, start + band.shape[1] :] = 1.0
    out[:, start : start + band.shape[1]] = band
    return out


def _profile_cdf_band(profile, e, centre, widths, lsf) -> tuple[int, np.ndarray]:
    """:func:`_profile_cdf` as ``(start, band)``: the cumulative is ``band`` on the edges
    ``start, start + 1, ...`` (every draw), 0 on the edges before them and 1 after them."""
    if profile.window_sigmas is None:
        return 0, profile.cdf(e - centre, widths, lsf)
    width_max = np.zeros(np.shape(centre))
    for w in widths.values():
        width_max = np.maximum(width_max, np.abs(w))
    # a sampled r_scale gives each draw its LSF while the edges may be shared by all draws (a
    # fixed pixel offset): the band is as wide as either
    full = np.broadcast_shapes(np.shape(lsf), e.shape)
    lsf_max = np.max(np.broadcast_to(lsf, full), axis=1, keepdims=True)
    half = profile.window_sigmas * FWHM_TO_SIGMA * np.hypot(lsf_max, width_max)
    lo, hi = centre - half, centre + half
    e_min, e_max = e.min(axis=0), e.max(axis=0)
    cols = np.flatnonzero((e_max >= lo.min()) & (e_min <= hi.max()))
    if cols.size == 0:  # every edge is left (0) or right (1) of every draw's window
        return int(np.count_nonzero(~(e_min > hi.max()))), np.zeros((centre.shape[0], 0))
    near = slice(cols[0], cols[-1] + 1)
    edges = e[:, near]
    x = edges - centre
    inside = (edges >= lo) & (edges <= hi)
    values = profile.cdf(x, widths, np.broadcast_to(lsf, full)[:, near])
    return int(cols[0]), np.where(inside, values, x > 0)


def evaluate_model(
    samples: dict,
    args,
    *,
    draws: slice | np.ndarray | None = None,
    pixels: dict[int, slice] | None = None,
):
    """Evaluate the model per draw for every spectrum of a fit.

    Returns a list of :class:`SpectrumPrediction` (one per trimmed spectrum) in original flux
    units. Lines and continua are pixel averages, as in the likelihood (unite's tables
    evaluate continua at pixel centres; see docs/differences.md): each continuum is its
    antiderivative's difference over the pixel, with the region's LSF for the forms that use
    one. ``pixels`` (spectrum index → non-empty slice of its pixels)
    evaluates only those spectra and pixels, so that long spectra can be evaluated in pieces;
    a piece's profile windows use the widest LSF within the piece.
    """
    if draws is not None:
        samples = {k: np.asarray(v)[draws] for k, v in samples.items()}
    values = resolve_site_values(samples, args)
    lines = line_arrays(values, args)
    n_draws = lines["centre"].shape[0]
    entries = list(args.line_config)
    z_sys = args.redshift
    out = []
    for s, spec in enumerate(args.spectra):
        if pixels is not None and s not in pixels:
            continue
        keep = slice(None) if pixels is None else pixels[s]
        if args.integration_mode == "convolution":
            out.append(_convolved_prediction(spec, s, values, lines, args, keep))
            continue
        to_c = args.spec_to_canonical[s]
        disp = spec.disperser
        # a calibration the same in every draw (Fixed, as usual) gives the edges and LSF one
        # row, which broadcasts against the draws: the same numbers for a fraction of the work
        p, r_scale, f_scale = (_one_row_if_constant(c) for c in _calibration(values, args, s))
        pix = np.asarray(spec.pixel_idx)[keep]
        # only the edges of the selected pixels (and of the gaps between them)
        e_native = np.asarray(spec.edges, dtype=float)[pix[0] : pix[-1] + 2]
        pix = pix - pix[0]
        dl = np.asarray(disp.dlam_dpix(e_native), dtype=float)
        e_shift = e_native[None, :] - p * dl[None, :]
        lsf = e_shift / (np.asarray(disp.R(e_shift), dtype=float) * r_scale) * to_c
        e = e_shift * to_c
        line_cols, optical_depth = _line_columns(entries, lines, e, pix, lsf, f_scale, s, args)
        tau_profiles = _tau_profiles(
            entries, optical_depth, lines, 0.5 * (e[:, :-1] + e[:, 1:])[:, pix], disp, to_c, r_scale
        )

        def region_lsf(r, form, disp=disp, to_c=to_c, r_scale=r_scale):
            if not form.uses_lsf:
                return None
            # one LSF width per region, at its observed centre (as the likelihood)
            centre = args.cont_center[r] * (1 + z_sys)
            return centre / (float(np.asarray(disp.R(np.array([centre / to_c])))[0]) * r_scale)

        cont_cols, continuum = _continuum_columns(values, e, pix, region_lsf, f_scale, s, args)
        total = _compose(entries, line_cols, continuum, optical_depth, lines, args)
        total = np.broadcast_to(total, (n_draws, total.shape[1])).copy()
        centres = np.asarray(spec.wavelength, dtype=float)[keep]
        in_region = _in_region(centres * to_c, args)
        out.append(
            SpectrumPrediction(
                name=spec.name,
                wavelength=centres,
                total=total,
                lines=line_cols,
                continuum_regions=cont_cols,
                observed_flux=np.asarray(spec.flux, dtype=float)[keep],
                observed_error=np.asarray(spec.error, dtype=float)[keep],
                scaled_error=np.asarray(spec.scaled_error, dtype=float)[keep],
                in_region=in_region,
                tau_profiles=tau_profiles,
            )
        )
    return out


def _compose(entries, line_cols: dict, continuum, optical_depth: dict, lines: dict, args):
    """The total model from the emission lines' columns and the continuum, attenuated by the
    absorbers (spec §3.5, §3.7), and each absorber's column (the total less the total without
    it, filled into ``line_cols``)."""
    emission = [(j, e) for j, e in enumerate(entries) if not e.is_absorption]
    if not optical_depth:
        return continuum + sum((line_cols[e.name] for _, e in emission), np.zeros(()))
    cont_z = args.cont_config.zorder if args.cont_config is not None else 0
    targets = {e.zorder for _, e in emission} | {cont_z}
    full, without = _transmissions(entries, optical_depth, lines["covering"], targets)

    def total_with(transmission) -> np.ndarray:
        out = continuum * transmission[cont_z]
        for _, e in emission:
            out = out + line_cols[e.name] * transmission[e.zorder]
        return out

    total = total_with(full)
    for k in optical_depth:
        line_cols[entries[k].name] = total - total_with({z: without[(z, k)] for z in targets})
    return total


def _convolved_prediction(spec, s: int, values: dict, lines: dict, args, keep):
    """Spectrum ``s``'s decomposition in convolution mode (:mod:`unite_stan.convolution`):
    the whole spectrum's model on its fine grid, convolved column by column, then the pixels
    ``keep``."""
    from unite_stan import convolution
    from unite_stan.stan.data import compact_edges

    entries = list(args.line_config)
    n_super = int(args.n_super)
    to_c = args.spec_to_canonical[s]
    disp = spec.disperser
    p, r_scale, f_scale = _calibration(values, args, s)
    native, pixel_interval = compact_edges(
        np.asarray(spec.edges, dtype=float), np.asarray(spec.keep_mask)
    )
    p_ref = _reference_pix_offset(args, s)
    dl = np.asarray(disp.dlam_dpix(native), dtype=float)
    reference = convolution.fine_grid((native - p_ref * dl) * to_c, pixel_interval, n_super)
    fine_dl = convolution.fine_grid(dl * to_c, pixel_interval, n_super).edges
    e = reference.edges[None, :] - (p - p_ref) * fine_dl[None, :]
    cells = reference.cells
    tiny = convolution.INTRINSIC_LSF_FRACTION * float(np.min(np.diff(reference.edges)))
    intrinsic = np.full(e.shape, tiny)
    line_cols, optical_depth = _line_columns(entries, lines, e, cells, intrinsic, f_scale, s, args)
    cont_cols, continuum = _continuum_columns(
        values, e, cells, lambda r, form: None, f_scale, s, args
    )
    total = _compose(entries, line_cols, continuum, optical_depth, lines, args)
    resolution = np.asarray(disp.R(reference.centres / to_c), dtype=float)
    log_w = convolution.kernel(reference.centres, resolution, int(args.conv_half_width))

    def observed(cell_values):
        smooth = convolution.convolve(cell_values, log_w, r_scale)
        return convolution.pixel_means(smooth, n_super)[:, keep]

    centres = np.asarray(spec.wavelength, dtype=float)[keep]
    in_region = _in_region(centres * to_c, args)
    tau_profiles = _tau_profiles(
        entries, optical_depth, lines, centres[None, :] * to_c, disp, to_c, r_scale
    )
    return SpectrumPrediction(
        name=spec.name,
        wavelength=centres,
        total=observed(total),
        lines={name: observed(col) for name, col in line_cols.items()},
        continuum_regions={name: observed(col) for name, col in cont_cols.items()},
        observed_flux=np.asarray(spec.flux, dtype=float)[keep],
        observed_error=np.asarray(spec.error, dtype=float)[keep],
        scaled_error=np.asarray(spec.scaled_error, dtype=float)[keep],
        in_region=in_region,
        tau_profiles=tau_profiles,
    )


def _reference_pix_offset(args, s: int) -> float:
    """The pixel offset the program's edges are shifted by: its value when Fixed to a number,
    else 0 (the program shifts them by the sampled value)."""
    from unite_stan.stan.data import is_literal_fixed

    prior = args.all_priors[args.spec_calibration[s]["pix_offset"]]
    return float(prior.resolved_value({})) if is_literal_fixed(prior) else 0.0


def _line_columns(entries, lines, e, index, lsf, f_scale, s: int, args):
    """Emission lines' columns (flux units, the intervals ``index`` of the edges ``e``) and
    absorbers' optical depths, each line's cumulative differenced over the intervals with the
    LSF FWHM ``lsf`` at each edge; an absorber's column is ``None`` until the total is known."""
    line_cols, optical_depth = {}, {}
    index = np.asarray(index)
    width = np.diff(e, axis=1)[:, index]  # one row when the edges are the same in every draw
    n_draws, n_edges = lines["centre"].shape[0], e.shape[1]
    shape = (n_draws, index.size)
    for j, entry in enumerate(entries):
        start, band = _profile_cdf_band(
            entry.profile,
            e,
            lines["centre"][:, j : j + 1],
            {k: np.asarray(v)[:, None] for k, v in lines["widths"][j].items()},
            lsf,
        )
        # the intervals that touch the band: its edges with the 0 before and the 1 after
        first = max(start - 1, 0)
        padded = [band]
        if start > 0:
            padded.insert(0, np.zeros((n_draws, 1)))
        if start + band.shape[1] < n_edges:
            padded.append(np.ones((n_draws, 1)))
        mass = np.diff(np.concatenate(padded, axis=1), axis=1)
        # every other interval holds 0 (0 - 0 before the band, 1 - 1 after it)
        touched = (index >= first) & (index < first + mass.shape[1])
        phi = np.zeros(shape)
        phi[:, touched] = mass[:, index[touched] - first] / width[:, touched]
        if entry.is_absorption:
            optical_depth[j] = lines["area_tau"][:, j : j + 1] * phi
            line_cols[entry.name] = None  # filled once the total is known
        else:
            amp = lines["amp"][:, j : j + 1]
            column = np.zeros(shape)
            column[:, touched] = f_scale * amp * args.line_flux_scales[s] * phi[:, touched]
            line_cols[entry.name] = column
    return line_cols, optical_depth


def _continuum_columns(values, e, index, region_lsf, f_scale, s: int, args):
    """Each region's continuum (flux units) averaged over the intervals ``index`` of the edges
    ``e`` whose midpoints lie in the region, with ``region_lsf(r, form)`` (or none), and their
    sum."""
    z_sys = args.redshift
    width = np.diff(e, axis=1)[:, index]
    mid = 0.5 * (e[:, :-1] + e[:, 1:])[:, index]
    cont_cols, continuum = {}, np.zeros(mid.shape)
    for r, region in enumerate(args.cont_regions):
        obs_low, obs_high = args.cont_low[r] * (1 + z_sys), args.cont_high[r] * (1 + z_sys)
        params = {
            slot: values[tok.name][:, None] for slot, tok in args.cont_resolved_params[r].items()
        }
        nw = params.get("norm_wav", np.ones((1, 1)))
        antiderivative = region.form.antiderivative(
            e,
            params,
            obs_low=obs_low,
            obs_high=obs_high,
            norm_wav=nw * args.cont_nw_conv[r] * (1 + z_sys),
            lsf_fwhm=region_lsf(r, region.form),
            wl_unit=args.canonical_unit,
            z_sys=z_sys,
        )
        value = np.diff(antiderivative * np.ones_like(e), axis=1)[:, index] / width
        inside = (mid >= obs_low) & (mid <= obs_high)
        col = f_scale * np.where(inside, value, 0.0) * args.continuum_scales[s]
        cont_cols[args.continuum_labels[r]] = col
        continuum = continuum + col
    return cont_cols, continuum


def _tau_profiles(entries, optical_depth, lines, wavelength, disp, to_c, r_scale):
    """unite's tau profiles: each absorber's area optical depth times its density at
    ``wavelength`` (canonical unit, pixel centres), convolved with the LSF at its centre."""
    out = {}
    for k in optical_depth:
        c = lines["centre"][:, k : k + 1]
        lsf_c = c / (np.asarray(disp.R(c / to_c), dtype=float) * r_scale)
        widths = {n: np.asarray(v)[:, None] for n, v in lines["widths"][k].items()}
        density = entries[k].profile.pdf(wavelength - c, widths, lsf_c)
        out[entries[k].name] = lines["area_tau"][:, k : k + 1] * density
    return out


def _in_region(centres, args) -> np.ndarray:
    """Which pixel centres (canonical unit) lie in some observed region (inclusive); every
    pixel without continuum regions."""
    if not args.cont_regions:
        return np.ones(centres.size, dtype=bool)
    z_sys = args.redshift
    inside = np.zeros(centres.size, dtype=bool)
    for r in range(len(args.cont_regions)):
        low, high = args.cont_low[r] * (1 + z_sys), args.cont_high[r] * (1 + z_sys)
        inside |= (centres >= low) & (centres <= high)
    return inside


def _one_row_if_constant(column: np.ndarray) -> np.ndarray:
    """A (draws, 1) column as its first row when every draw holds the same value."""
    return column[:1] if np.all(column == column[:1]) else column


def _calibration(values: dict, args, s: int):
    """Spectrum ``s``'s pixel offset, r_scale and flux_scale per draw, as columns."""
    calib = args.spec_calibration[s]
    return tuple(values[calib[k]][:, None] for k in ("pix_offset", "r_scale", "flux_scale"))
