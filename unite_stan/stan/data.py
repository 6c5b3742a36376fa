"""The data dict of a rendered program: every number the Stan program reads.

Besides unit conversions and normalisation this decides two things that only affect speed:

* **Shared edges.** Pixels built as ``centre ± half-width`` often miss sharing an edge by a
  rounding error (1e-12 Å); each miss would add a zero-width "gap" interval and two profile
  evaluations. Gaps narrower than ``EDGE_TOLERANCE`` of the median pixel width are closed
  (their two edges replaced by their mean), which moves edges by far less than any precision
  the data carry.
* **Line windows.** A line's cumulative profile is evaluated only on the edges it can reach for
  any parameter value its priors allow (centre range ± the profile's ``window_sigmas``
  standard deviations of the widest total width, plus the largest pixel offset). Outside,
  the profile contributes nothing to any pixel that float64 could hold: a Gaussian beyond
  8 sigma carries 6e-16 of its flux. Profiles with heavy tails set ``window_sigmas = None``
  and are evaluated on every edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from unite_stan.constants import C_KMS, FWHM_TO_SIGMA
from unite_stan.prior import Fixed
from unite_stan.stan.ranges import site_ranges

__all__ = [
    "EDGE_TOLERANCE",
    "WindowContext",
    "block_data",
    "fixed_shapes",
    "build_data",
    "compact_edges",
    "line_windows",
    "reblock",
    "window_bounds",
    "windows_contain",
]

EDGE_TOLERANCE = 1e-9


def is_literal_fixed(prior) -> bool:
    """A Fixed prior holding a number (not an expression of other parameters)."""
    return isinstance(prior, Fixed) and not prior.dependencies()


def resolution_slopes(disperser, edges: np.ndarray, dlam_dpix: np.ndarray):
    """First and second derivatives of ``disperser.R`` at ``edges``, from central differences
    one pixel (``dlam_dpix``) either side.

    A sampled pixel offset p moves an edge by ``s = p · dλ/dpix``, and the program reads R there
    as ``R − s R' + s² R''/2``. Differences over one pixel (rather than infinitesimal ones) fit
    that parabola on the scale edges actually move: on the PRISM, whose R changes by ~1 % per
    pixel near 1.1 µm, R at an edge moved by 0.7 (1.5) pixels is then within 4e-6 (2e-5) for the
    point-source curve and 5e-5 (8e-5) for the uniform table, instead of 3.5e-4 (1.6e-3) with
    the tangent alone (tests/stan/test_pixel_offset.py).
    """
    h = np.abs(np.asarray(dlam_dpix, dtype=float))
    tiny = ~(h > 0)
    h[tiny] = 1e-6 * np.maximum(np.abs(edges[tiny]), 1e-300)
    r_lo = np.asarray(disperser.R(edges - h), dtype=float)
    r_mid = np.asarray(disperser.R(edges), dtype=float)
    r_hi = np.asarray(disperser.R(edges + h), dtype=float)
    return (r_hi - r_lo) / (2 * h), (r_hi - 2 * r_mid + r_lo) / h**2


def fixed_shapes(args) -> tuple[list[bool], list[bool]]:
    """Which lines have their whole shape fixed to numbers (redshift, every width, and the
    calibration of every spectrum), and which continuum regions every parameter of.

    Their flux per pixel interval, for unit amplitude, is data the program computes once (in
    transformed data); only the amplitudes of such lines are sampled.
    """
    priors = args.all_priors
    if args.integration_mode == "convolution":  # the fine grid's model is computed per draw
        return [False] * len(args.line_config), [False] * len(args.cont_resolved_params)

    def number(name):
        return is_literal_fixed(priors[name])

    calibration = all(
        number(c["pix_offset"]) and number(c["r_scale"]) for c in args.spec_calibration
    )
    # an absorber's optical depth enters through exp(-tau phi), never linear in a sampled
    # amplitude: its shape is always computed in the likelihood
    lines = [
        calibration
        and not e.is_absorption
        and number(e.redshift.name)
        and all(number(t.name) for t in e.fwhms.values())
        for e in args.line_config
    ]
    regions = [
        calibration and all(number(t.name) for t in slots.values())
        for slots in args.cont_resolved_params
    ]
    return lines, regions


def compact_edges(edges: np.ndarray, keep_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Close rounding-size gaps: ``(edges, pixel_interval)`` with 0-based pixel intervals."""
    widths = np.diff(edges)
    pixel_widths = np.abs(widths[keep_mask])
    tol = EDGE_TOLERANCE * (np.median(pixel_widths) if pixel_widths.size else 0.0)
    out_edges = [edges[0]]
    pixel_interval = []
    for i, is_pixel in enumerate(keep_mask):
        if not is_pixel and abs(widths[i]) <= tol:
            out_edges[-1] = 0.5 * (out_edges[-1] + edges[i + 1])
            continue
        if is_pixel:
            pixel_interval.append(len(out_edges) - 1)
        out_edges.append(edges[i + 1])
    return np.asarray(out_edges, dtype=float), np.asarray(pixel_interval, dtype=int)


@dataclass(frozen=True)
class WindowContext:
    """What line windows are computed from, besides the site ranges, per spectrum: its pixel
    edges (canonical unit), the largest shift of an edge by the pixel offset, and at each edge
    the largest LSF FWHM (canonical unit), both for any calibration value the priors allow
    (``inf`` where unbounded)."""

    edges: list[np.ndarray]
    shift_max: list[float]
    lsf_edge: list[np.ndarray]


def window_bounds(args, ranges, ctx: WindowContext, sigmas_add: float = 0.0) -> list[list]:
    """Per spectrum and line, the wavelength interval ``(lo, hi)`` a line's profile must be
    evaluated on for every value in ``ranges``, or ``None`` where it cannot be bounded.

    The interval is the centre range ± ``window_sigmas + sigmas_add`` standard deviations of
    the widest total width (intrinsic and LSF in quadrature) ± the largest pixel offset. The
    LSF is the largest at the edges of the interval found with the spectrum's largest LSF
    (which contains the final one, so every edge left out is covered by the bound).
    """
    entries = list(args.line_config)
    canonical = args.canonical_unit
    out = [[None] * len(entries) for _ in ctx.edges]
    for j, entry in enumerate(entries):
        rest = entry.wavelength.to_value(canonical)
        z_lo, z_hi = ranges[entry.redshift.name]
        c_lo = rest * (1 + args.redshift + z_lo)
        c_hi = rest * (1 + args.redshift + z_hi)
        width_max = 0.0
        for slot, token in entry.fwhms.items():
            if entry.profile.is_velocity(slot):
                v = max(abs(x) for x in ranges[token.name])
                width_max = max(width_max, max(abs(c_lo), abs(c_hi)) * v / C_KMS)
        sigmas = entry.profile.window_sigmas
        if sigmas is None:
            continue
        k = sigmas + sigmas_add
        for s, e in enumerate(ctx.edges):
            lsf, shift = ctx.lsf_edge[s], ctx.shift_max[s]
            if not all(math.isfinite(x) for x in (c_lo, c_hi, width_max, shift)) or not np.all(
                np.isfinite(lsf)
            ):
                continue
            wide = k * math.hypot(float(np.max(lsf)), width_max) * FWHM_TO_SIGMA + shift
            near = (e >= c_lo - wide) & (e <= c_hi + wide)
            local = float(np.max(lsf[near])) if near.any() else float(np.max(lsf))
            half = k * math.hypot(local, width_max) * FWHM_TO_SIGMA + shift
            out[s][j] = (c_lo - half, c_hi + half)
    return out


def line_windows(
    args, ranges, ctx: WindowContext, sigmas_add: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per spectrum and line, the first edge (1-based) and number of edges to evaluate.

    ``ranges`` are site ranges, e.g. the prior ranges of
    :func:`~unite_stan.stan.ranges.site_ranges`.
    """
    bounds = window_bounds(args, ranges, ctx, sigmas_add)
    n_spec, n_line = len(ctx.edges), len(bounds[0]) if bounds else 0
    start = np.ones((n_spec, n_line), dtype=int)
    length = np.zeros((n_spec, n_line), dtype=int)
    for s, e in enumerate(ctx.edges):
        for j in range(n_line):
            if bounds[s][j] is None:
                start[s, j], length[s, j] = 1, e.size
                continue
            lo, hi = bounds[s][j]
            inside = np.flatnonzero((e >= lo) & (e <= hi))
            if inside.size == 0:
                # the window falls between two edges or outside the spectrum
                first = int(np.searchsorted(e, lo)) - 1
                last = first + 1
            else:
                first, last = inside[0] - 1, inside[-1] + 1
            first, last = max(first, 0), min(last, e.size - 1)
            if last <= first or (last == e.size - 1 and e[-1] < lo) or (first == 0 and e[0] > hi):
                continue
            start[s, j], length[s, j] = first + 1, last - first + 1
    return start, length


def block_data(
    pix_start: np.ndarray, intervals: list[np.ndarray], n_blocks: list[int]
) -> dict[str, np.ndarray]:
    """The pixel-block arrays of the data dict.

    ``intervals[s]`` holds the (1-based, increasing) interval of each pixel of spectrum ``s``
    within that spectrum's edges; its pixels are split into ``n_blocks[s]`` contiguous blocks of
    near-equal size. A block covers the edges from its first pixel's interval to its last
    pixel's, and ``pix_interval`` numbers each pixel's interval within its block.
    """
    intervals = [np.asarray(iv, dtype=int) for iv in intervals]
    groups = []
    for s, iv in enumerate(intervals):
        if np.any(np.diff(iv) <= 0):
            raise ValueError(f"pixel intervals of spectrum {s} are not increasing")
        k = int(n_blocks[s])
        if not 1 <= k <= iv.size:
            raise ValueError(
                f"n_blocks={k} for spectrum {s}: must be in [1, {iv.size}] (its pixel count)"
            )
        groups.append(np.array_split(np.arange(iv.size), k))
    return _blocks_of(pix_start, intervals, groups, sum(iv.size for iv in intervals))


def _blocks_of(pix_start, intervals, groups, n_total: int) -> dict[str, np.ndarray]:
    """Block arrays with one block per group of pixels (indices into each spectrum's pixels,
    contiguous and increasing); ``pix_interval`` of a pixel in no block is 1 (it is not read)."""
    edge0, n_edge, pix0, n_pix, spec_block_start, spec_n_block = [], [], [], [], [], []
    pix_interval = np.ones(n_total, dtype=int)
    for s, (iv, chunks) in enumerate(zip(intervals, groups, strict=True)):
        spec_block_start.append(len(edge0) + 1)
        spec_n_block.append(len(chunks))
        for chunk in chunks:
            first, last = int(iv[chunk[0]]), int(iv[chunk[-1]])
            p0 = int(pix_start[s]) + int(chunk[0])
            edge0.append(first)
            n_edge.append(last - first + 2)
            pix0.append(p0)
            n_pix.append(chunk.size)
            pix_interval[p0 - 1 : p0 - 1 + chunk.size] = iv[chunk] - first + 1
    return {
        "N_block": len(edge0),
        "spec_block_start": np.array(spec_block_start, dtype=int),
        "spec_n_block": np.array(spec_n_block, dtype=int),
        "block_edge0": np.array(edge0, dtype=int),
        "block_n_edge": np.array(n_edge, dtype=int),
        "block_pix0": np.array(pix0, dtype=int),
        "block_n_pix": np.array(n_pix, dtype=int),
        "pix_interval": pix_interval,
    }


#: continuum_statistics moves pixels only where at least this many leave the blocks per block
#: or region sum it adds. Measured gradients (2026-12-02, posterior windows; the prototype
#: script is in commit 88a8e49): two_resolutions 1465 pixels for 4 more blocks and 2 sums,
#: 73.8 -> 46.3 us; low_snr 183 for 0 and 2, 24.6 -> 20.9 us; dozen_lines 296 for 7 and 6,
#: 36.6 -> 39.2 us (slower).
STAT_MIN_PIXELS_PER_TERM = 50


def continuum_statistics(
    data: dict,
    regions,
    min_per_term: int = STAT_MIN_PIXELS_PER_TERM,
    min_blocks: list[int] | None = None,
) -> dict | None:
    """A copy of ``data`` in which the pixels outside every line window that lie in exactly one
    region, one of the sampled affine-form ``regions`` (1-based), leave the pixel blocks for
    that region's seven sums (see the
    program's ``region_stat``); the other pixels form one block per contiguous run, the longest
    runs halved until spectrum ``s`` has at least ``min_blocks[s]`` blocks (the threads' split
    of the threaded program). ``None`` when fewer than ``min_per_term`` pixels would move per
    block or sum added. ``data`` must have every pixel in a block (one block per spectrum or
    more, none moved yet).
    """
    if int(np.sum(data["region_stat_n"])) > 0:
        raise ValueError("continuum statistics are already in this data")
    n_spec, n_region = int(data["N_spec"]), int(data["N_region"])
    affine = [int(r) - 1 for r in np.atleast_1d(regions)]
    stats = np.zeros((n_spec, n_region, 7))
    counts = np.zeros((n_spec, n_region), dtype=int)
    keep = []
    intervals = spectrum_intervals(data)
    for s, iv in enumerate(intervals):
        n_edge = int(data["spec_n_edge"][s])
        first_edge = int(data["spec_edge_start"][s]) - 1
        covered = np.zeros(n_edge - 1, dtype=bool)
        for start, length in zip(data["line_win_start"][s], data["line_win_len"][s], strict=True):
            if length >= 2:
                covered[start - 1 : start + length - 2] = True
        member = np.zeros((n_region, n_edge - 1), dtype=bool)
        for r in range(n_region):
            start, length = data["region_int_start"][s, r], data["region_int_len"][s, r]
            member[r, start - 1 : start - 1 + length] = True
        k = iv - 1
        inside = member[:, k]
        region = inside.argmax(axis=0)
        movable = ~covered[k] & (inside.sum(axis=0) == 1) & np.isin(region, affine)
        pixels = int(data["spec_pix_start"][s]) - 1 + np.arange(iv.size)
        edge = data["edge"][first_edge : first_edge + n_edge]
        centre = 0.5 * (edge[1:] + edge[:-1])[k]
        flux, error = data["flux_norm"][pixels], data["error_norm"][pixels]
        for r in range(n_region):
            m = movable & (region == r)
            if not m.any():
                continue
            a, u = flux[m] / error[m], 1.0 / error[m]
            v = (centre[m] - data["region_center"][r]) / error[m]
            log_norm = -np.sum(np.log(error[m])) - 0.5 * m.sum() * math.log(2 * math.pi)
            stats[s, r] = [a @ a, a @ u, a @ v, u @ u, u @ v, v @ v, log_norm]
            counts[s, r] = m.sum()
        keep.append(~movable)
    moved = int(counts.sum())
    if moved == 0 or not all(k.any() for k in keep):  # every spectrum keeps a block
        return None
    runs = [np.split(i, np.flatnonzero(np.diff(i) > 1) + 1) for i in map(np.flatnonzero, keep)]
    added = sum(len(r) - 1 for r in runs) + int(np.count_nonzero(counts))
    if moved < min_per_term * added:
        return None
    # (the threads' blocks are there with or without the statistics: not counted as added)
    for s, wanted in enumerate(min_blocks or []):
        while len(runs[s]) < wanted and max(len(r) for r in runs[s]) > 1:
            longest = max(range(len(runs[s])), key=lambda k: len(runs[s][k]))
            runs[s][longest : longest + 1] = np.array_split(runs[s][longest], 2)
    out = dict(data)
    out.update(_blocks_of(data["spec_pix_start"], intervals, runs, int(data["N_pix"])))
    out["region_stat"] = stats
    out["region_stat_n"] = counts
    return out


def spectrum_intervals(data: dict) -> list[np.ndarray]:
    """Each spectrum's pixel intervals (1-based, within the spectrum) from a data dict."""
    local = np.empty(int(data["N_pix"]), dtype=int)
    for b in range(int(data["N_block"])):
        p0, n = int(data["block_pix0"][b]) - 1, int(data["block_n_pix"][b])
        local[p0 : p0 + n] = data["pix_interval"][p0 : p0 + n] + data["block_edge0"][b] - 1
    return [
        local[start - 1 : start - 1 + n]
        for start, n in zip(data["spec_pix_start"], data["spec_n_pix"], strict=True)
    ]


def reblock(data: dict, n_blocks: list[int]) -> dict:
    """A copy of ``data`` with each spectrum split into ``n_blocks[s]`` pixel blocks."""
    out = dict(data)
    out.update(block_data(data["spec_pix_start"], spectrum_intervals(data), n_blocks))
    return out


def build_data(args, literals, free, structure, shapes) -> tuple[dict, WindowContext]:
    """The values of the data of the program rendered from ``args``, and its line windows'
    context.

    ``structure`` is the program's :class:`~unite_stan.stan.data_block.ProgramStructure` and
    ``shapes`` :func:`fixed_shapes` of ``args``, as the program was rendered with them. The
    values may hold more than the program reads: which keys its data dict has is
    :func:`~unite_stan.stan.data_block.select_data`'s decision.
    """
    order = args.dependency_order
    theta_index = {n: k + 1 for k, n in enumerate(order)}
    priors = args.all_priors
    ranges = site_ranges(args)
    entries = list(args.line_config)
    canonical = args.canonical_unit
    z_sys = float(args.redshift)
    data: dict = {
        "N_free": len(free),
        "coord_loc": np.zeros(len(free)),
        "coord_chol": np.eye(len(free)),
        "N_lit": len(literals),
        "lit": np.array(literals, dtype=float),
        "c_kms": C_KMS,
        "z_sys": z_sys,
    }
    fixed_lines, fixed_regions = shapes
    data.update(_line_data(entries, theta_index, canonical, structure.profiles, fixed_lines))
    if structure.absorbers:
        data.update(_absorption_data(args, theta_index, structure.absorbers))
    regions = args.cont_regions
    data.update(_region_data(args, theta_index, structure.forms, z_sys, fixed_regions))

    edges, res, dldp, dres, d2res, pix_interval = [], [], [], [], [], []
    edge_start, n_edge, pix_start, n_pix = [], [], [], []
    flux_norm, error_norm, line_factor, cont_factor, pix_ref = [], [], [], [], []
    r_par, f_par, p_par, shift_max, lsf_edge = [], [], [], [], []
    region_res = np.ones((len(args.spectra), len(regions)))
    region_start = np.ones((len(args.spectra), len(regions)), dtype=int)
    region_len = np.zeros((len(args.spectra), len(regions)), dtype=int)
    e0 = p0 = 1
    for s, spec in enumerate(args.spectra):
        disp = spec.disperser
        calib = args.spec_calibration[s]
        pix_prior = priors[calib["pix_offset"]]
        p_ref = float(pix_prior.resolved_value({})) if is_literal_fixed(pix_prior) else 0.0
        native, pixel_interval = compact_edges(
            np.asarray(spec.edges, dtype=float), np.asarray(spec.keep_mask)
        )
        dl = np.asarray(disp.dlam_dpix(native), dtype=float)
        shifted = native - p_ref * dl
        to_c = args.spec_to_canonical[s]
        e_canon = shifted * to_c
        resolution = np.asarray(disp.R(shifted), dtype=float)
        edges.append(e_canon)
        res.append(resolution)
        p_lo, p_hi = ranges[calib["pix_offset"]]
        shift_max.append(
            max(abs(p_lo - p_ref), abs(p_hi - p_ref)) * float(np.max(np.abs(dl))) * to_c * 1.5
        )
        r_lo = ranges[calib["r_scale"]][0]
        # the LSF FWHM of an edge is e / (R r_scale); a pixel offset moves the edge (and where R
        # is read) by at most shift_max, allowed for by the largest value within that distance
        lsf = e_canon / resolution / r_lo if r_lo > 0 else np.full(e_canon.size, math.inf)
        if shift_max[-1] > 0 and r_lo > 0:
            reach = max(1, int(np.ceil(shift_max[-1] / np.min(np.abs(np.diff(e_canon))))))
            padded = np.pad(lsf, reach, mode="edge")
            lsf = np.max(np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1), axis=1)
        lsf_edge.append(lsf)
        dr, d2r = resolution_slopes(disp, shifted, dl)
        dldp.append(dl * to_c)
        dres.append(dr / to_c)
        d2res.append(d2r / to_c**2)
        pix_ref.append(p_ref)
        pix_interval.append(pixel_interval + 1)
        norm = args.norm_factors[s]
        flux_norm.append(np.asarray(spec.flux, dtype=float) / norm)
        error_norm.append(np.asarray(spec.scaled_error, dtype=float) / norm)
        line_factor.append(args.line_flux_scales[s] / norm)
        cont_factor.append(args.continuum_scales[s] / norm)
        edge_start.append(e0)
        n_edge.append(native.size)
        pix_start.append(p0)
        n_pix.append(spec.npix)
        e0 += native.size
        p0 += spec.npix
        r_par.append(theta_index[calib["r_scale"]])
        f_par.append(theta_index[calib["flux_scale"]])
        p_par.append(theta_index[calib["pix_offset"]])
        mid = 0.5 * (e_canon[1:] + e_canon[:-1])
        for r in range(len(regions)):
            centre_native = args.cont_center[r] * (1 + z_sys) / to_c
            region_res[s, r] = float(np.asarray(disp.R(np.array([centre_native])))[0])
            member = np.flatnonzero(
                (mid >= args.cont_low[r] * (1 + z_sys)) & (mid <= args.cont_high[r] * (1 + z_sys))
            )
            if member.size:
                region_start[s, r], region_len[s, r] = member[0] + 1, member[-1] - member[0] + 1

    windows = WindowContext(edges, shift_max, lsf_edge)
    win_start, win_len = line_windows(args, ranges, windows)
    data.update(
        {
            "N_spec": len(args.spectra),
            "N_edge": int(sum(n_edge)),
            "N_pix": int(sum(n_pix)),
            "spec_edge_start": np.array(edge_start, dtype=int),
            "spec_n_edge": np.array(n_edge, dtype=int),
            "spec_pix_start": np.array(pix_start, dtype=int),
            "spec_n_pix": np.array(n_pix, dtype=int),
            "edge": np.concatenate(edges),
            "edge_resolution": np.concatenate(res),
            "flux_norm": np.concatenate(flux_norm),
            "error_norm": np.concatenate(error_norm),
            "spec_line_factor": np.array(line_factor, dtype=float),
            "spec_cont_factor": np.array(cont_factor, dtype=float),
            "spec_r_scale_par": np.array(r_par, dtype=int),
            "spec_flux_scale_par": np.array(f_par, dtype=int),
            "spec_pix_offset_par": np.array(p_par, dtype=int),
            "line_win_start": win_start,
            "line_win_len": win_len,
        }
    )
    data.update(block_data(data["spec_pix_start"], pix_interval, [1] * len(args.spectra)))
    data["region_int_start"] = region_start
    data["region_int_len"] = region_len
    data["edge_dlam_dpix"] = np.concatenate(dldp)
    data["edge_dresolution"] = np.concatenate(dres)
    data["edge_d2resolution"] = np.concatenate(d2res)
    data["spec_pix_offset_ref"] = np.array(pix_ref, dtype=float)
    data["region_resolution"] = region_res
    # every pixel in a block until a layout with statistics moves some (RenderedProgram.laid_out)
    data["region_stat_n"] = np.zeros((len(args.spectra), len(regions)), dtype=int)
    data["region_stat"] = np.zeros((len(args.spectra), len(regions), 7))
    if args.integration_mode == "convolution":
        data.update(_convolution_data(args, edges, pix_interval, dldp, ranges))
    return data, windows


def _line_data(entries, theta_index, canonical, profiles, fixed) -> dict:
    n_slot = max(len(e.fwhms) for e in entries)
    slot_par = np.ones((len(entries), n_slot), dtype=int)
    slot_vel = np.zeros((len(entries), n_slot), dtype=int)
    for j, e in enumerate(entries):
        for k, (slot, token) in enumerate(e.fwhms.items()):
            slot_par[j, k] = theta_index[token.name]
            slot_vel[j, k] = int(e.profile.is_velocity(slot))
    data = {
        "N_line": len(entries),
        "N_line_slot": n_slot,
        "line_wave": np.array([e.wavelength.to_value(canonical) for e in entries]),
        "line_strength": np.array([e.strength for e in entries], dtype=float),
        "line_z_par": np.array([theta_index[e.redshift.name] for e in entries], dtype=int),
        "line_amp_par": np.array(
            [theta_index[(e.flux if e.flux is not None else e.tau).name] for e in entries],
            dtype=int,
        ),
        "line_slot_par": slot_par,
        "line_slot_is_velocity": slot_vel,
    }
    for p in profiles:
        members = [
            j for j, e in enumerate(entries) if e.profile.stan_name == p and not e.is_absorption
        ]
        data.update(_split_by_shape(p, "lines", members, fixed))
    return data


def _absorption_data(args, theta_index, absorbers) -> dict:
    """Absorbers per profile, and the attenuation groups: one per zorder among the emission
    lines and the continuum (spec §3.7)."""
    entries = list(args.line_config)
    cont_z = args.cont_config.zorder if args.cont_config is not None else 0
    zorders = sorted({e.zorder for e in entries if not e.is_absorption} | {cont_z})
    group = {z: g + 1 for g, z in enumerate(zorders)}
    data = {
        "N_group": len(zorders),
        "group_zorder": np.array(zorders, dtype=int),
        "line_group": np.array(
            [1 if e.is_absorption else group[e.zorder] for e in entries], dtype=int
        ),
        "cont_group": group[cont_z],
        "line_zorder": np.array([e.zorder for e in entries], dtype=int),
        "line_cf_par": np.array(
            [theta_index[e.covering.name] if e.covering is not None else 0 for e in entries],
            dtype=int,
        ),
    }
    for p in absorbers:
        members = [
            j + 1 for j, e in enumerate(entries) if e.profile.stan_name == p and e.is_absorption
        ]
        data[f"N_{p}_abs"] = len(members)
        data[f"{p}_absorbers"] = np.array(members, dtype=int)
    return data


def _split_by_shape(name: str, what: str, members: list[int], fixed: list[bool]) -> dict:
    """``N_<name>`` and ``<name>_<what>`` (1-based) for the members sampled in the program's
    loops, ``N_<name>_fixed`` and ``<name>_fixed_<what>`` for the members whose shape is data
    (which the program has only with some fixed shape in the model)."""
    sampled = [k + 1 for k in members if not fixed[k]]
    shaped = [k + 1 for k in members if fixed[k]]
    return {
        f"N_{name}": len(sampled),
        f"{name}_{what}": np.array(sampled, dtype=int),
        f"N_{name}_fixed": len(shaped),
        f"{name}_fixed_{what}": np.array(shaped, dtype=int),
    }


def _region_data(args, theta_index, forms, z_sys, fixed) -> dict:
    regions = args.cont_regions
    resolved = args.cont_resolved_params
    max_par = max((len([s for s in r if s != "norm_wav"]) for r in resolved), default=1)
    region_par = np.ones((len(regions), max_par), dtype=int)
    region_npar = np.zeros(len(regions), dtype=int)
    region_nw_par = np.ones(len(regions), dtype=int)
    for r, slots in enumerate(resolved):
        shape_slots = [s for s in slots if s != "norm_wav"]
        region_npar[r] = len(shape_slots)
        for k, slot in enumerate(shape_slots):
            region_par[r, k] = theta_index[slots[slot].name]
        if "norm_wav" in slots:
            region_nw_par[r] = theta_index[slots["norm_wav"].name]
    data = {
        "N_region": len(regions),
        "N_region_par": max_par,
        "region_low": args.cont_low * (1 + z_sys),
        "region_high": args.cont_high * (1 + z_sys),
        "region_center": args.cont_center * (1 + z_sys),
        "region_nw_factor": args.cont_nw_conv * (1 + z_sys),
        "region_npar": region_npar,
        "region_par": region_par,
        "region_nw_par": region_nw_par,
    }
    consts, start, count = [], [], []
    for r, form in enumerate(args.cont_forms):
        values = np.asarray(
            form.stan_constants(
                obs_low=float(data["region_low"][r]),
                obs_high=float(data["region_high"][r]),
                wl_unit=args.canonical_unit,
                z_sys=z_sys,
            ),
            dtype=float,
        ).ravel()
        start.append(sum(map(len, consts)) + 1)
        count.append(values.size)
        consts.append(values)
    consts.append(np.zeros(1))  # never empty, so that every start is within the vector
    data["region_const"] = np.concatenate(consts)
    data["N_region_const"] = data["region_const"].size
    data["region_const_start"] = np.array(start, dtype=int)
    data["region_nconst"] = np.array(count, dtype=int)
    for f in forms:
        members = [r for r, form in enumerate(args.cont_forms) if form.stan_name == f]
        data.update(_split_by_shape(f, "regions", members, fixed))
    return data


def windows_contain(outer: tuple[np.ndarray, np.ndarray], inner: tuple[np.ndarray, np.ndarray]):
    """Whether every window of ``inner`` (start, length) lies within ``outer``'s, per entry."""
    o_start, o_len = outer
    i_start, i_len = inner
    return (i_len == 0) | ((i_start >= o_start) & (i_start + i_len <= o_start + o_len))


def _convolution_data(args, edges, pix_interval, dlam_dpix, ranges) -> dict:
    """Convolution mode's fine grids and LSF kernels (:mod:`unite_stan.convolution`), from
    each spectrum's (shifted, canonical) edges and its pixels' 1-based intervals."""
    from unite_stan import convolution

    n_super, half = int(args.n_super), int(args.conv_half_width)
    priors = args.all_priors
    fine_edges, fine_dl, cells, kernels, tiny = [], [], [], [], []
    fedge_start, n_fedge, cell_start = [], [], []
    r_free = False
    g0 = c0 = 1
    for s, spec in enumerate(args.spectra):
        grid = convolution.fine_grid(edges[s], pix_interval[s] - 1, n_super)
        fine_edges.append(grid.edges)
        fine_dl.append(convolution.fine_grid(dlam_dpix[s], pix_interval[s] - 1, n_super).edges)
        cells.append(grid.cells + 1)
        to_c = args.spec_to_canonical[s]
        resolution = np.asarray(spec.disperser.R(grid.centres / to_c), dtype=float)
        log_w = convolution.kernel(grid.centres, resolution, half)
        r_prior = priors[args.spec_calibration[s]["r_scale"]]
        if is_literal_fixed(r_prior):
            r_scale = float(r_prior.resolved_value({}))
            kernels.append((convolution.pixel_kernel(log_w, r_scale, n_super), log_w))
        else:
            r_free = True
            kernels.append((None, log_w))
        tiny.append((convolution.INTRINSIC_LSF_FRACTION * float(np.min(np.diff(grid.edges)))) ** 2)
        fedge_start.append(g0)
        n_fedge.append(grid.edges.size)
        cell_start.append(c0)
        g0 += grid.edges.size
        c0 += grid.cells.size
    data = {
        "n_super": n_super,
        "conv_half": half,
        "N_fedge": int(sum(n_fedge)),
        "spec_fedge_start": np.array(fedge_start, dtype=int),
        "spec_n_fedge": np.array(n_fedge, dtype=int),
        "fine_edge": np.concatenate(fine_edges),
        "fine_dlam_dpix": np.concatenate(fine_dl),
        "spec_cell_start": np.array(cell_start, dtype=int),
        "fine_cell": np.concatenate(cells).astype(int),
        "spec_intrinsic_lsf2": np.array(tiny, dtype=float),
        "conv_logw": np.concatenate([log_w.ravel() for _, log_w in kernels]),
    }
    if not r_free:
        data["conv_w"] = np.concatenate([w.ravel() for w, _ in kernels])
    # the sparse layout: each row's columns in the spectrum's extended cells, row starts from 1
    width = n_super + 2 * half if not r_free else 2 * half + 1
    step = n_super if not r_free else 1
    columns, starts = [], []
    for grid in cells:
        n_rows = grid.size // n_super if not r_free else grid.size
        columns.append((np.arange(n_rows)[:, None] * step + np.arange(1, width + 1)).ravel())
        starts.append(np.arange(n_rows + 1) * width + 1)
    data["conv_v"] = np.concatenate(columns).astype(int)
    data["conv_u"] = np.concatenate(starts).astype(int)
    data["N_conv_nz"] = data["conv_v"].size
    data["N_conv_rows"] = data["conv_u"].size
    return data
