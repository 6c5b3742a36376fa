"""Render a built model (:class:`~unite_stan.model.ModelArgs`) into a Stan program + data dict.

Structure goes into code: which sites exist and which are free, which profiles and continuum
forms occur, whether any pixel offset is sampled. Every number — prior bounds and
hyperparameters, fixed values, wavelengths, pixel edges, fluxes, errors, scales — goes into the
data dict, so changing numbers never changes the program text (and never recompiles).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cache

import jinja2
import numpy as np

from unite_stan._resources import template_dir
from unite_stan.line.config import Flux
from unite_stan.prior import Fixed, TruncatedNormal, Uniform, fold_expression
from unite_stan.stan.coordinates import LOWER, REAL, SLOPE, UPPER, site_kind
from unite_stan.stan.data import (
    WindowContext,
    build_data,
    continuum_statistics,
    fixed_shapes,
    is_literal_fixed,
    reblock,
)
from unite_stan.stan.data_block import (
    ProgramStructure,
    block_arguments,
    conv_arguments,
    data_block_code,
    select_data,
)
from unite_stan.stan.naming import NameMap

__all__ = ["Layout", "RenderedProgram", "identity_coordinates", "render_program"]

#: literal source suffix of a line flux's FLUX-coordinate c
COORDINATE_SCALE = ".coordinate_scale"


@dataclass(frozen=True)
class Layout:
    """How a program's likelihood is laid out over its data (all choices change data only).

    Attributes
    ----------
    blocks : tuple of int, optional
        Pixel blocks per spectrum (``None``: one each), which ``reduce_sum_static`` sums and
        may split over the threads of a chain.
    windows : (numpy.ndarray, numpy.ndarray), optional
        Each line's window of pixel edges (first edge, number of edges) per spectrum;
        ``None`` for the prior's windows, which hold for every value the priors allow.
    statistics : bool
        Sum the pixels that carry only a sampled Linear continuum through their sufficient
        statistics (:func:`~unite_stan.stan.data.continuum_statistics`), where it pays.
    """

    blocks: tuple[int, ...] | None = None
    windows: tuple[np.ndarray, np.ndarray] | None = None
    statistics: bool = False


@dataclass
class RenderedProgram:
    """A Stan program with its data and the site-name ↔ identifier map."""

    code: str
    data: dict
    name_map: NameMap
    free_sites: list[str]
    fixed_sites: list[str]
    literal_sources: list[str] = field(default_factory=list)
    #: what line windows are computed from (edges, shifts, LSF widths); see ``laid_out``
    windows: WindowContext | None = None
    #: the program's two texts, identical but for how a spectrum's pixel blocks are summed: in
    #: turn (``serial_code``, the reference the tests compare with) or by ``reduce_sum_static``
    #: (``threaded_code``, what ``code`` is and what runs, but in convolution mode)
    serial_code: str = ""
    threaded_code: str = ""
    #: what the program holds (profiles, forms, which parts are sampled), as rendered
    structure: ProgramStructure | None = None
    #: how the likelihood is laid out over the data (``None``: as rendered), and the program
    #: as rendered, which every layout starts from
    layout: Layout | None = None
    rendered: RenderedProgram | None = field(default=None, repr=False)
    #: free site -> the coordinate it is sampled in (``unite_stan.stan.coordinates``'s kinds)
    site_coordinates: dict[str, str] = field(default_factory=dict)
    #: the spectra's names, in the order of ``log_lik_spec``
    spectrum_names: list[str] = field(default_factory=list)

    @property
    def code_hash(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()

    @property
    def flux_scales(self) -> dict[str, float]:
        """Site -> c of the line fluxes sampled in the FLUX coordinate (c > 0; see
        :mod:`unite_stan.stan.coordinates`)."""
        out = {}
        for k, source in enumerate(self.literal_sources):
            if source.endswith(COORDINATE_SCALE) and self.data["lit"][k] > 0:
                out[source[: -len(COORDINATE_SCALE)]] = float(self.data["lit"][k])
        return out

    def with_flux_scales(self, scales: dict[str, float]) -> RenderedProgram:
        """Same program, the line fluxes in ``scales`` sampled in the FLUX coordinate with
        those c (data only); the other fluxes on the logistic scale."""
        lit = np.array(self.data["lit"], dtype=float)
        for k, source in enumerate(self.literal_sources):
            if source.endswith(COORDINATE_SCALE):
                lit[k] = float(scales.get(source[: -len(COORDINATE_SCALE)], 0.0))
        return dataclasses.replace(self, data={**self.data, "lit": lit})

    def with_coordinates(self, loc: np.ndarray, chol: np.ndarray) -> RenderedProgram:
        """Same program, sampling coordinates ``u = loc + chol @ xi`` (data only)."""
        data = dict(self.data)
        data["coord_loc"] = np.asarray(loc, dtype=float)
        data["coord_chol"] = np.asarray(chol, dtype=float)
        return dataclasses.replace(self, data=data)

    def laid_out(self, layout: Layout) -> RenderedProgram:
        """The same model with its likelihood laid out over the data as ``layout`` says.

        The three choices are applied in the one order that keeps each valid, always to the
        program as rendered (``self.rendered``), so no order can be got wrong: pixel blocks
        first (which ``reduce_sum_static`` sums), then the line windows, then the continuum
        statistics, which move pixels out of the blocks. Data only: the program text stays
        the rendered ``code``.
        """
        base = self.rendered or self
        n_spec = len(base.data["spec_n_pix"])
        blocks = list(layout.blocks) if layout.blocks is not None else [1] * n_spec
        threaded = max(blocks, default=1) > 1
        code = (base.threaded_code or base.code) if threaded else base.code
        data = reblock(base.data, blocks)
        if layout.windows is not None:
            data["line_win_start"] = np.asarray(layout.windows[0], dtype=int)
            data["line_win_len"] = np.asarray(layout.windows[1], dtype=int)
        # the threaded program's blocks are the threads' split: it keeps at least as many
        region_stats = base.structure is not None and base.structure.region_stats
        if layout.statistics and region_stats:
            affine = np.concatenate(
                [np.atleast_1d(data[f"{f}_regions"]) for f in base.structure.affine_forms]
            )
            data = (
                continuum_statistics(data, affine, min_blocks=blocks if threaded else None) or data
            )
        for key in ("coord_loc", "coord_chol"):
            data[key] = self.data[key]
        return dataclasses.replace(self, code=code, data=data, layout=layout, rendered=base)

    def write(self, directory, name: str = "model"):
        """Write ``<name>.stan`` (``code``), ``<name>.data.json`` (``data``, CmdStan's JSON)
        and ``<name>.sites.json`` (Stan identifiers -> site names) into ``directory``, to run
        the program with CmdStan, cmdstanpy or BridgeStan by hand; returns their paths
        (:class:`~unite_stan.stan.export.ProgramFiles`). See ``docs/driving_stan.md``."""
        from unite_stan.stan.export import write_program

        return write_program(self, directory, name)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "a unite_stan model is a Stan program, not a NumPyro model function; fit it with "
            "ModelBuilder.fit()"
        )


#: Width of the rendered program's lines where the renderer wraps them.
LINE_WIDTH = 100


def wrap_list(items, indent: int, width: int = LINE_WIDTH) -> str:
    """Join ``items`` with ``', '``, wrapping between items at ``width`` (continuation lines
    indented by ``indent``); the first line starts at column ``indent`` too."""
    lines, line = [], ""
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "")
        if line and indent + len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return ("\n" + " " * indent).join(lines)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["wrap_list"] = lambda items, indent: wrap_list(list(items), indent)
    return env


def _chunk(path: str) -> str:
    """A Stan function chunk, by its path relative to the templates folder."""
    return (template_dir() / path).read_text().rstrip("\n")


def component_chunks(components) -> list[str]:
    """The Stan chunks (paths in ``templates/``) of component classes, in order: the shared
    chunks they require (each once, before their first user), then their own."""
    paths: list[str] = []
    for cls in components:
        for path in (*getattr(cls, "stan_requires", ()), cls.chunk()):
            if path not in paths:
                paths.append(path)
    return paths


class _Literals:
    """Allocates ``lit[k]`` slots for the numbers in priors, in rendering order."""

    def __init__(self):
        self.values: list[float] = []
        self.sources: list[str] = []

    def add(self, value: float, source: str) -> str:
        self.values.append(float(value))
        self.sources.append(source)
        return f"lit[{len(self.values)}]"


def _expr(bound, graph, names: NameMap, lits: _Literals, source: str) -> str:
    """Stan text of a bound: numbers become ``lit[k]`` slots, tokens their sites' identifiers."""
    return fold_expression(
        bound,
        number=lambda v: lits.add(v, source),
        token=lambda t: names.ident(graph.site_of(t)),
        operation=lambda op, a, b: f"({a} {op} {b})",
    )


def identity_coordinates(n_free: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampling in the unconstrained coordinates themselves (no whitening map)."""
    return np.zeros(n_free), np.eye(n_free)


def render_program(args) -> RenderedProgram:
    """Render the Stan program and data dict of a built model."""
    graph = args.prior_graph
    order, priors = graph.order, graph.priors
    names = NameMap(order)
    lits = _Literals()
    free, fixed = graph.free_sites, graph.fixed_sites
    free_index = {n: k + 1 for k, n in enumerate(free)}

    fixed_literals, tp_sites = [], []
    for name in order:
        prior = priors[name]
        ident = names.ident(name)

        def ex(bound, part, _name=name):
            return _expr(bound, graph, names, lits, f"{_name}.{part}")

        if isinstance(prior, Fixed):
            site = {"ident": ident, "expr": ex(prior.value, "value")}
            (fixed_literals if not prior.dependencies() else tp_sites).append(site)
        elif isinstance(prior, Uniform):
            k = free_index[name]
            low, high = ex(prior.low, "low"), ex(prior.high, "high")
            kind = site_kind(graph, name)
            if isinstance(graph.tokens[name], Flux) and kind != SLOPE:
                # the flux coordinate's c, data: 0 (the logistic scale) until the pilot sets it
                scale = lits.add(0.0, f"{name}{COORDINATE_SCALE}")
                expr = f"uniform_flux_lp(u[{k}], {low}, {high}, {scale})"
            else:
                transform = "uniform_slope_lp" if kind == SLOPE else "uniform_unc_lp"
                expr = f"{transform}(u[{k}], {low}, {high})"
            tp_sites.append({"ident": ident, "expr": expr})
        elif isinstance(prior, TruncatedNormal):
            k = free_index[name]
            loc = ex(prior.loc, "loc")
            scale = lits.add(prior.scale, f"{name}.scale")
            # an open side is structure (it picks the map), never an infinite number in data
            kind = site_kind(graph, name)
            if kind == REAL:
                expr = f"normal_open_lp(u[{k}], {loc}, {scale})"
            elif kind == LOWER:
                expr = f"truncnormal_lower_lp(u[{k}], {loc}, {scale}, {ex(prior.low, 'low')})"
            elif kind == UPPER:
                expr = f"truncnormal_upper_lp(u[{k}], {loc}, {scale}, {ex(prior.high, 'high')})"
            else:
                low, high = ex(prior.low, "low"), ex(prior.high, "high")
                expr = f"truncnormal_unc_lp(u[{k}], {loc}, {scale}, {low}, {high})"
            tp_sites.append({"ident": ident, "expr": expr})
        else:  # pragma: no cover - the prior module defines three families
            raise TypeError(f"unsupported prior {prior!r} for {name!r}")

    shapes = fixed_shapes(args)
    line_fixed, region_fixed = shapes
    profiles = {type(e.profile) for e in args.line_config}
    forms = {type(f) for f in args.cont_forms}
    structure = ProgramStructure(
        profiles=tuple(sorted(p.stan_name for p in profiles)),
        forms=tuple(sorted(f.stan_name for f in forms)),
        lsf_forms=tuple(sorted(f.stan_name for f in forms if f.uses_lsf)),
        affine_forms=tuple(sorted(f.stan_name for f in forms if f.affine)),
        pix_offset_free=any(
            not is_literal_fixed(priors[c["pix_offset"]]) for c in args.spec_calibration
        ),
        fixed_lines=any(line_fixed),
        fixed_regions=any(region_fixed),
        sampled_lines=not all(line_fixed),
        sampled_regions=not all(region_fixed),
        absorbers=tuple(sorted({e.profile.stan_name for e in args.line_config if e.is_absorption})),
        convolution=args.integration_mode == "convolution",
        r_scale_free=any(not is_literal_fixed(priors[c["r_scale"]]) for c in args.spec_calibration),
    )
    theta_fixed = [
        (k + 1, names.ident(n)) for k, n in enumerate(order) if is_literal_fixed(priors[n])
    ]
    slope = any(site_kind(graph, n) == SLOPE for n in free)
    flux = any(isinstance(priors[n], Uniform) and isinstance(graph.tokens[n], Flux) for n in free)
    open_sided = any(site_kind(graph, n) in (LOWER, UPPER, REAL) for n in free)
    chunks = [
        "priors",
        *(["slope"] if slope else []),
        *(["flux"] if flux else []),
        *(["open_normal"] if open_sided else []),
    ]
    paths = [f"functions/{c}.stan" for c in chunks]
    components = [
        *sorted(profiles, key=lambda p: p.stan_name),
        *sorted(forms, key=lambda f: f.stan_name),
    ]
    paths += component_chunks(components)
    functions = "\n\n".join(_chunk(path) for path in paths)
    template = _environment().get_template("model.stan.j2")
    serial, threaded = (
        template.render(
            **dataclasses.asdict(structure),
            region_stats=structure.region_stats,
            threaded=with_threads,
            functions=functions,
            free=[names.ident(n) for n in free],
            fixed=[names.ident(n) for n in fixed],
            fixed_literals=fixed_literals,
            tp_sites=tp_sites,
            theta=[names.ident(n) for n in order],
            block_args=block_arguments(structure),
            conv_args=conv_arguments(structure) if structure.convolution else [],
            data_block=data_block_code(structure),
            theta_fixed=theta_fixed,
        )
        for with_threads in (False, True)
    )
    values, windows = build_data(args, lits.values, free, structure, shapes)
    data = select_data(values, structure)
    # What runs is the text that sums the blocks by reduce_sum_static, one block per spectrum
    # too: the likelihood then stays a function whose vectors soa.py makes struct-of-arrays,
    # where stanc inlines the serial text's one call into the model class, whose vectors turn
    # array-of-structs as soon as the program holds more than the simplest profiles (1.6-3.3x
    # slower gradients measured; benchmarks/profile_cost_program.py). Convolution mode has one
    # likelihood function and no blocks, and programs with absorbers fill matrices that the
    # rewrite cannot (soa.LEAVE): their serial text, the threaded one only for several blocks.
    code = serial if structure.convolution or structure.absorbers else threaded
    return RenderedProgram(
        code,
        data,
        names,
        free,
        fixed,
        lits.sources,
        windows,
        serial,
        threaded,
        structure,
        site_coordinates={n: site_kind(graph, n) for n in free},
        spectrum_names=[str(s.name) for s in args.spectra],
    )
