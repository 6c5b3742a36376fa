"""Render a built model (:class:`~unite_stan.model.ModelArgs`) into a Stan program + data dict.

Structure goes into code: which sites exist and which are free, which profiles and continuum
forms occur, whether any pixel offset is sampled. Every number — prior bounds and
hyperparameters, fixed values, wavelengths, pixel edges, fluxes, errors, scales — goes into the
data dict, so changing numbers never changes the program text (and never recompiles).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache

import jinja2
import numpy as np

from unite_stan._resources import template_dir
from unite_stan.prior import Fixed, Parameter, TruncatedNormal, Uniform, _BinOpExpr, _LiteralLeaf
from unite_stan.stan.naming import NameMap

__all__ = ["RenderedProgram", "identity_coordinates", "render_program"]

C_KMS = 299792.458


@dataclass
class RenderedProgram:
    """A Stan program with its data and the site-name ↔ identifier map."""

    code: str
    data: dict
    name_map: NameMap
    free_sites: list[str]
    fixed_sites: list[str]
    literal_sources: list[str] = field(default_factory=list)

    @property
    def code_hash(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()

    def with_coordinates(self, loc: np.ndarray, chol: np.ndarray) -> RenderedProgram:
        """Same program, sampling coordinates ``u = loc + chol @ xi`` (data only)."""
        data = dict(self.data)
        data["coord_loc"] = np.asarray(loc, dtype=float)
        data["coord_chol"] = np.asarray(chol, dtype=float)
        return RenderedProgram(
            self.code,
            data,
            self.name_map,
            self.free_sites,
            self.fixed_sites,
            self.literal_sources,
        )

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "a unite_stan model is a Stan program, not a NumPyro model function; fit it with "
            "ModelBuilder.fit()"
        )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _chunk(name: str) -> str:
    return (template_dir() / "functions" / f"{name}.stan").read_text().rstrip("\n")


class _Literals:
    """Allocates ``lit[k]`` slots for the numbers in priors, in rendering order."""

    def __init__(self):
        self.values: list[float] = []
        self.sources: list[str] = []

    def add(self, value: float, source: str) -> str:
        self.values.append(float(value))
        self.sources.append(source)
        return f"lit[{len(self.values)}]"


def _expr(
    node, names: NameMap, token_site: dict[Parameter, str], lits: _Literals, source: str
) -> str:
    if isinstance(node, _LiteralLeaf):
        return lits.add(node.value, source)
    if isinstance(node, Parameter):
        return names.ident(token_site[node])
    if isinstance(node, _BinOpExpr):
        left = _expr(node.left, names, token_site, lits, source)
        right = _expr(node.right, names, token_site, lits, source)
        return f"({left} {node.op} {right})"
    raise TypeError(f"cannot render {node!r} in a prior")


def _is_literal_fixed(prior) -> bool:
    return isinstance(prior, Fixed) and not prior.dependencies()


def identity_coordinates(n_free: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampling in unite's own unconstrained coordinates."""
    return np.zeros(n_free), np.eye(n_free)


def render_program(args) -> RenderedProgram:
    """Render the Stan program and data dict of a built model."""
    order = args.dependency_order
    priors = args.all_priors
    token_site = {tok: name for name, tok in args.name_to_token.items()}
    names = NameMap(order)
    lits = _Literals()
    free = [n for n in order if not isinstance(priors[n], Fixed)]
    fixed = [n for n in order if isinstance(priors[n], Fixed)]
    free_index = {n: k + 1 for k, n in enumerate(free)}

    fixed_literals, tp_sites = [], []
    for name in order:
        prior = priors[name]
        ident = names.ident(name)

        def ex(node, part, _name=name):
            return _expr(node, names, token_site, lits, f"{_name}.{part}")

        if isinstance(prior, Fixed):
            site = {"ident": ident, "expr": ex(prior.value, "value")}
            (fixed_literals if not prior.dependencies() else tp_sites).append(site)
        elif isinstance(prior, Uniform):
            k = free_index[name]
            low, high = ex(prior.low, "low"), ex(prior.high, "high")
            tp_sites.append({"ident": ident, "expr": f"uniform_unc_lp(u[{k}], {low}, {high})"})
        elif isinstance(prior, TruncatedNormal):
            k = free_index[name]
            loc = ex(prior.loc, "loc")
            scale = lits.add(prior.scale, f"{name}.scale")
            low, high = ex(prior.low, "low"), ex(prior.high, "high")
            tp_sites.append(
                {
                    "ident": ident,
                    "expr": f"truncnormal_unc_lp(u[{k}], {loc}, {scale}, {low}, {high})",
                }
            )
        else:  # pragma: no cover - the prior module defines three families
            raise TypeError(f"unsupported prior {prior!r} for {name!r}")

    entries = list(args.line_config)
    profiles = sorted({e.profile.stan_name for e in entries})
    forms = sorted({f.stan_name for f in args.cont_forms})
    lsf_forms = sorted({f.stan_name for f in args.cont_forms if f.uses_lsf})
    pix_offset_free = any(
        not _is_literal_fixed(priors[c["pix_offset"]]) for c in args.spec_calibration
    )

    chunks = ["priors", *profiles, *(f"continuum_{f}" for f in forms)]
    functions = "\n\n".join(_chunk(c) for c in chunks)
    code = (
        _environment()
        .get_template("model.stan.j2")
        .render(
            functions=functions,
            profiles=profiles,
            forms=forms,
            lsf_forms=lsf_forms,
            pix_offset_free=pix_offset_free,
            free=[names.ident(n) for n in free],
            fixed=[names.ident(n) for n in fixed],
            fixed_literals=fixed_literals,
            tp_sites=tp_sites,
            theta=[names.ident(n) for n in order],
        )
    )
    data = _data(args, lits, order, free, profiles, forms, lsf_forms, pix_offset_free)
    return RenderedProgram(code, data, names, free, fixed, lits.sources)


def _data(args, lits, order, free, profiles, forms, lsf_forms, pix_offset_free) -> dict:
    theta_index = {n: k + 1 for k, n in enumerate(order)}
    priors = args.all_priors
    entries = list(args.line_config)
    canonical = args.canonical_unit
    z_sys = float(args.redshift)
    loc, chol = identity_coordinates(len(free))
    data: dict = {
        "N_free": len(free),
        "coord_loc": loc,
        "coord_chol": chol,
        "N_lit": len(lits.values),
        "lit": np.array(lits.values, dtype=float),
        "c_kms": C_KMS,
        "z_sys": z_sys,
    }

    n_slot = max(len(e.fwhms) for e in entries)
    slot_par = np.ones((len(entries), n_slot), dtype=int)
    slot_vel = np.zeros((len(entries), n_slot), dtype=int)
    for j, e in enumerate(entries):
        for k, (slot, token) in enumerate(e.fwhms.items()):
            slot_par[j, k] = theta_index[token.name]
            slot_vel[j, k] = int(slot.startswith("fwhm"))
    data.update(
        {
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
    )
    for p in profiles:
        members = [j + 1 for j, e in enumerate(entries) if e.profile.stan_name == p]
        data[f"N_{p}"] = len(members)
        data[f"{p}_lines"] = np.array(members, dtype=int)

    regions = args.cont_regions
    if forms:
        resolved = args.cont_resolved_params
        max_par = max(len([s for s in r if s != "norm_wav"]) for r in resolved)
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
        data.update(
            {
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
        )
        for f in forms:
            members = [r + 1 for r, form in enumerate(args.cont_forms) if form.stan_name == f]
            data[f"N_{f}"] = len(members)
            data[f"{f}_regions"] = np.array(members, dtype=int)

    edges, res, dldp, dres, pix_interval = [], [], [], [], []
    edge_start, n_edge, pix_start, n_pix = [], [], [], []
    flux_norm, error_norm, line_factor, cont_factor, pix_ref = [], [], [], [], []
    r_par, f_par, p_par = [], [], []
    region_res = np.ones((len(args.spectra), len(regions)))
    e0 = p0 = 1
    for s, spec in enumerate(args.spectra):
        disp = spec.disperser
        calib = args.spec_calibration[s]
        pix_prior = priors[calib["pix_offset"]]
        p_ref = float(pix_prior.resolved_value({})) if _is_literal_fixed(pix_prior) else 0.0
        e_native = np.asarray(spec.edges, dtype=float)
        dl = np.asarray(disp.dlam_dpix(e_native), dtype=float)
        shifted = e_native - p_ref * dl
        to_c = args.spec_to_canonical[s]
        edges.append(shifted * to_c)
        res.append(np.asarray(disp.R(shifted), dtype=float))
        if pix_offset_free:
            step = 1e-6 * np.maximum(np.abs(shifted), 1e-300)
            dr = (np.asarray(disp.R(shifted + step)) - np.asarray(disp.R(shifted - step))) / (
                2 * step
            )
            dldp.append(dl * to_c)
            dres.append(dr / to_c)
            pix_ref.append(p_ref)
        pix_interval.append(np.asarray(spec.pixel_idx, dtype=int) + 1)
        norm = args.norm_factors[s]
        flux_norm.append(np.asarray(spec.flux, dtype=float) / norm)
        error_norm.append(np.asarray(spec.scaled_error, dtype=float) / norm)
        line_factor.append(args.line_flux_scales[s] / norm)
        cont_factor.append(args.continuum_scales[s] / norm)
        edge_start.append(e0)
        n_edge.append(e_native.size)
        pix_start.append(p0)
        n_pix.append(spec.npix)
        e0 += e_native.size
        p0 += spec.npix
        r_par.append(theta_index[calib["r_scale"]])
        f_par.append(theta_index[calib["flux_scale"]])
        p_par.append(theta_index[calib["pix_offset"]])
        for r in range(len(regions)):
            centre_native = args.cont_center[r] * (1 + z_sys) / to_c
            region_res[s, r] = float(np.asarray(disp.R(np.array([centre_native])))[0])

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
            "pix_interval": np.concatenate(pix_interval),
            "flux_norm": np.concatenate(flux_norm),
            "error_norm": np.concatenate(error_norm),
            "spec_line_factor": np.array(line_factor, dtype=float),
            "spec_cont_factor": np.array(cont_factor, dtype=float),
            "spec_r_scale_par": np.array(r_par, dtype=int),
            "spec_flux_scale_par": np.array(f_par, dtype=int),
            "spec_pix_offset_par": np.array(p_par, dtype=int),
        }
    )
    if pix_offset_free:
        data["edge_dlam_dpix"] = np.concatenate(dldp)
        data["edge_dresolution"] = np.concatenate(dres)
        data["spec_pix_offset_ref"] = np.array(pix_ref, dtype=float)
    if lsf_forms:
        data["region_resolution"] = region_res
    return data
