"""The rendered program's data block, declared once.

Every variable the Stan program reads from the data dict is declared here, in the order of the
program's ``data`` block, with its Stan type, the comment that introduces it and when the program
has it (a condition on the :class:`ProgramStructure`). From this one declaration come:

* the program's ``data`` block (:func:`data_block_code`);
* the argument list of ``blocks_loglik`` (:func:`block_arguments`): the data it takes have
  their declared types, the other variables it takes are declared in :data:`OTHER_VARIABLES`;
* the keys of the data dict (:func:`select_data`): exactly the declared variables the program
  has, each one present.

A variable whose name holds ``{}`` is declared once per profile (``each='profiles'``) or per
continuum form (``each='forms'``) of the program, with the profile's or form's Stan name in
place of ``{}``; consecutive such variables are written per member in turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "DATA_VARIABLES",
    "OTHER_VARIABLES",
    "ProgramStructure",
    "Variable",
    "argument_type",
    "block_arguments",
    "conv_arguments",
    "data_block_code",
    "data_names",
    "declared_names",
    "select_data",
]


@dataclass(frozen=True)
class ProgramStructure:
    """What a rendered program holds, decided by the configuration alone (never by numbers).

    Attributes
    ----------
    profiles, forms : tuple of str
        Stan names of the line profiles and continuum forms that occur, sorted.
    lsf_forms : tuple of str
        The forms among ``forms`` that use the LSF.
    affine_forms : tuple of str
        The forms among ``forms`` that are affine in the wavelength
        (``ContinuumForm.affine``), whose regions' continuum-only pixels the likelihood may sum
        through their sufficient statistics.
    pix_offset_free : bool
        Some spectrum's pixel offset is not a Fixed number (its edges move).
    fixed_lines, fixed_regions : bool
        Some line (continuum region) has its whole shape fixed to numbers.
    sampled_lines, sampled_regions : bool
        Some line (continuum region) has a shape that is not fixed to numbers.
    absorbers : tuple of str
        Stan names of the profiles of the absorption lines, sorted (every absorber's shape is
        computed in the likelihood, never fixed data).
    convolution : bool
        unite's convolution mode (:mod:`unite_stan.convolution`): the likelihood is
        ``conv_loglik``, one spectrum at a time; no line or region has a fixed shape.
    r_scale_free : bool
        Some spectrum's r_scale is not a Fixed number (the convolution kernel's weights are
        computed in the likelihood).
    """

    profiles: tuple[str, ...]
    forms: tuple[str, ...]
    lsf_forms: tuple[str, ...]
    affine_forms: tuple[str, ...]
    pix_offset_free: bool
    fixed_lines: bool
    fixed_regions: bool
    sampled_lines: bool
    sampled_regions: bool
    absorbers: tuple[str, ...] = ()
    convolution: bool = False
    r_scale_free: bool = False

    @property
    def region_stats(self) -> bool:
        """The program can sum continuum-only pixels through their statistics: it has a
        sampled region, an affine form among the forms and fixed pixel offsets (edges that do
        not move)."""
        return (
            bool(self.affine_forms)
            and not self.pix_offset_free
            and self.sampled_regions
            and not self.convolution
        )


def _always(structure: ProgramStructure) -> bool:
    return True


@dataclass(frozen=True)
class Variable:
    """One variable of the program: name, Stan type, and when the program has it.

    Attributes
    ----------
    name : str
        The variable's name; ``{}`` stands for each member of ``each``.
    stan_type : str
        Its type as the data block declares it (``array[N_spec] int<lower=1>``), with ``{}``
        as in ``name``; for the variables of :data:`OTHER_VARIABLES`, its type as a function
        argument.
    when : callable
        ``when(structure)``: whether the program has the variable.
    each : {None, 'profiles', 'absorbers', 'forms'}
        Declared once per member of that attribute of the :class:`ProgramStructure`.
    comment : tuple of str
        Comment lines written before it in the data block.
    """

    name: str
    stan_type: str
    when: Callable[[ProgramStructure], bool] = _always
    each: str | None = None
    comment: tuple[str, ...] = ()

    def instance(self, member: str | None = None) -> tuple[str, str]:
        """``(name, stan_type)`` for one member (the variable itself without ``each``)."""
        if member is None:
            return self.name, self.stan_type
        return self.name.format(member), self.stan_type.format(member)


def _forms(s: ProgramStructure) -> bool:
    return bool(s.forms)


def _fixed_lines(s: ProgramStructure) -> bool:
    return s.fixed_lines


def _fixed_regions(s: ProgramStructure) -> bool:
    return s.fixed_regions


def _absorption(s: ProgramStructure) -> bool:
    return bool(s.absorbers)


def _absorption_fixed_lines(s: ProgramStructure) -> bool:
    return bool(s.absorbers) and s.fixed_lines


def _convolution(s: ProgramStructure) -> bool:
    return s.convolution


def _convolution_moving(s: ProgramStructure) -> bool:
    return s.convolution and s.pix_offset_free


def _convolution_fixed_kernel(s: ProgramStructure) -> bool:
    return s.convolution and not s.r_scale_free


def _convolution_free_kernel(s: ProgramStructure) -> bool:
    return s.convolution and s.r_scale_free


def _pix_offset_free(s: ProgramStructure) -> bool:
    return s.pix_offset_free


def _regions_fixed_edges(s: ProgramStructure) -> bool:
    return bool(s.forms) and not s.pix_offset_free


def _region_stats(s: ProgramStructure) -> bool:
    return s.region_stats


def _edges_fixed(s: ProgramStructure) -> bool:
    return not s.pix_offset_free


def _lsf_forms(s: ProgramStructure) -> bool:
    return bool(s.lsf_forms)


def _declare(*declarations: str, when=_always, comment: tuple[str, ...] = ()):
    """Variables from Stan declarations (``"array[N_spec] int<lower=1> spec_n_pix"``), all
    present ``when``; ``comment`` goes before the first."""
    out = []
    for k, declaration in enumerate(declarations):
        stan_type, name = declaration.rsplit(" ", 1)
        out.append(Variable(name, stan_type, when, comment=comment if k == 0 else ()))
    return tuple(out)


def _members(each: str, what: str, any_fixed) -> tuple[Variable, ...]:
    """Per profile (form): how many and which lines (regions) the program's loops sample,
    then, where ``any_fixed``, those whose shape is data."""
    return (
        Variable("N_{}", "int<lower=0>", each=each),
        Variable("{}_" + what, "array[N_{}] int<lower=1>", each=each),
        Variable("N_{}_fixed", "int<lower=0>", any_fixed, each=each),
        Variable("{}_fixed_" + what, "array[N_{}_fixed] int<lower=1>", any_fixed, each=each),
    )


#: The data block, in the program's order.
DATA_VARIABLES: tuple[Variable, ...] = (
    *_declare(
        "int<lower=0> N_free",
        "vector[N_free] coord_loc",
        "matrix[N_free, N_free] coord_chol",
        comment=(
            "Sampled coordinates xi map to unite's unconstrained scale "
            "u = coord_loc + coord_chol * xi",
            "(identity: unite's own coordinates; a Laplace pilot supplies a whitening map).",
        ),
    ),
    *_declare(
        "int<lower=0> N_lit",
        "vector[N_lit] lit",
        "real c_kms",
        "real z_sys",
        comment=(
            "Prior bounds, hyperparameters and fixed values, in the order the program uses them.",
        ),
    ),
    *_declare(
        "int<lower=0> N_line",
        "int<lower=1> N_line_slot",
        "vector[N_line] line_wave",
        "vector[N_line] line_strength",
        "array[N_line] int<lower=1> line_z_par",
        "array[N_line] int<lower=1> line_amp_par",
        "array[N_line, N_line_slot] int<lower=1> line_slot_par",
        "array[N_line, N_line_slot] int<lower=0, upper=1> line_slot_is_velocity",
        comment=(
            "Lines: rest wavelengths (canonical unit); *_par are indices into theta (all sites).",
        ),
    ),
    *_members("profiles", "lines", _fixed_lines),
    Variable("N_{}_abs", "int<lower=0>", each="absorbers"),
    Variable("{}_absorbers", "array[N_{}_abs] int<lower=1>", each="absorbers"),
    *_declare(
        "int<lower=1> N_group",
        "array[N_group] int group_zorder",
        "array[N_line] int<lower=1> line_group",
        "int<lower=1> cont_group",
        "array[N_line] int line_zorder",
        "array[N_line] int<lower=0> line_cf_par",
        when=_absorption,
        comment=(
            "Absorption lines (above, per profile) attenuate the emission lines and the continuum,",
            "which fall into groups by zorder; absorber j",
            "attenuates group g when line_zorder[j] > group_zorder[g]. line_cf_par: the covering",
            "fraction's index in theta (0: the absorber covers everything).",
        ),
    ),
    *_declare(
        "int<lower=0> N_region",
        "int<lower=1> N_region_par",
        "vector[N_region] region_low",
        "vector[N_region] region_high",
        "vector[N_region] region_center",
        "vector[N_region] region_nw_factor",
        "array[N_region] int<lower=1> region_npar",
        "array[N_region, N_region_par] int<lower=1> region_par",
        "array[N_region] int<lower=1> region_nw_par",
        when=_forms,
        comment=("Continuum regions: observed-frame bounds and centres (canonical unit).",),
    ),
    *_declare(
        "int<lower=1> N_region_const",
        "vector[N_region_const] region_const",
        "array[N_region] int<lower=1> region_const_start",
        "array[N_region] int<lower=0> region_nconst",
        when=_forms,
        comment=(
            "Each region's numbers besides its parameters (its form's stan_constants: knots,",
            "unit factors, templates), concatenated; a trailing 0 keeps the vector non-empty.",
        ),
    ),
    *_members("forms", "regions", _fixed_regions),
    *_declare(
        "int<lower=1> N_spec",
        "int<lower=2> N_edge",
        "int<lower=1> N_pix",
        "array[N_spec] int<lower=1> spec_edge_start",
        "array[N_spec] int<lower=2> spec_n_edge",
        "array[N_spec] int<lower=1> spec_pix_start",
        "array[N_spec] int<lower=1> spec_n_pix",
        "vector[N_edge] edge",
        "vector<lower=0>[N_edge] edge_resolution",
        comment=("Spectra: pixel edges (canonical unit) and pixels of all spectra, concatenated.",),
    ),
    *_declare(
        "vector[N_edge] edge_dlam_dpix",
        "vector[N_edge] edge_dresolution",
        "vector[N_edge] edge_d2resolution",
        "vector[N_spec] spec_pix_offset_ref",
        when=_pix_offset_free,
    ),
    *_declare(
        "int<lower=1> N_block",
        "array[N_spec] int<lower=1> spec_block_start",
        "array[N_spec] int<lower=1> spec_n_block",
        "array[N_block] int<lower=1> block_edge0",
        "array[N_block] int<lower=2> block_n_edge",
        "array[N_block] int<lower=1> block_pix0",
        "array[N_block] int<lower=1> block_n_pix",
        "array[N_spec, N_line] int<lower=1> line_win_start",
        "array[N_spec, N_line] int<lower=0> line_win_len",
        comment=(
            "Pixel blocks: runs of pixels of one spectrum (one block per spectrum unless the "
            "likelihood",
            "is split for threads); edges and intervals are numbered within the block's spectrum.",
        ),
    ),
    *_declare(
        "array[N_spec, N_region] int<lower=1> region_int_start",
        "array[N_spec, N_region] int<lower=0> region_int_len",
        when=_regions_fixed_edges,
    ),
    *_declare(
        "array[N_pix] int<lower=1> pix_interval",
        "vector[N_pix] flux_norm",
        "vector<lower=0>[N_pix] error_norm",
        "vector[N_spec] spec_line_factor",
        "vector[N_spec] spec_cont_factor",
        "array[N_spec] int<lower=1> spec_r_scale_par",
        "array[N_spec] int<lower=1> spec_flux_scale_par",
        "array[N_spec] int<lower=1> spec_pix_offset_par",
        comment=("the interval of each pixel, numbered within its block",),
    ),
    *_declare(
        "array[N_spec, N_region] int<lower=0> region_stat_n",
        "array[N_spec, N_region] vector[7] region_stat",
        when=_region_stats,
        comment=(
            "Pixels outside every line window that lie in one sampled Linear region may leave the",
            "blocks and enter through seven sums per spectrum and region (a = flux / error,",
            "v = (pixel centre - region centre) / error, u = 1 / error): a^2, a u, a v, u^2, "
            "u v, v^2",
            "and the log normalising constant; region_stat_n counts them (0: all pixels in "
            "blocks).",
        ),
    ),
    *_declare("matrix[N_spec, N_region] region_resolution", when=_lsf_forms),
    *_declare(
        "int<lower=1> n_super",
        "int<lower=1> conv_half",
        "int<lower=2> N_fedge",
        "array[N_spec] int<lower=1> spec_fedge_start",
        "array[N_spec] int<lower=2> spec_n_fedge",
        "vector[N_fedge] fine_edge",
        "array[N_spec] int<lower=1> spec_cell_start",
        "array[n_super * N_pix] int<lower=1> fine_cell",
        "vector<lower=0>[N_spec] spec_intrinsic_lsf2",
        when=_convolution,
        comment=(
            "Convolution mode: each interval between a spectrum's edges split into n_super "
            "cells (fine",
            "edges, canonical unit); fine_cell: each pixel's cells, numbered within its "
            "spectrum's cells;",
            "spec_intrinsic_lsf2: the squared LSF FWHM standing for none (1e-4 of a cell).",
        ),
    ),
    *_declare("vector[N_fedge] fine_dlam_dpix", when=_convolution_moving),
    *_declare(
        "int<lower=1> N_conv_nz",
        "array[N_conv_nz] int<lower=1> conv_v",
        "int<lower=2> N_conv_rows",
        "array[N_conv_rows] int<lower=1> conv_u",
        when=_convolution,
        comment=(
            "The kernel's sparse layout, per spectrum: column of each weight and start of each row",
            "(rows: pixels with the kernel as data, cells with a sampled r_scale).",
        ),
    ),
    *_declare(
        "vector[N_pix * (n_super + 2 * conv_half)] conv_w",
        when=_convolution_fixed_kernel,
        comment=(
            "Each pixel's value from the n_super + 2 conv_half cells around it (the ends "
            "repeated): the",
            "normalised LSF kernel of each of its cells, averaged",
        ),
    ),
    *_declare(
        "vector[n_super * N_pix * (2 * conv_half + 1)] conv_logw",
        when=_convolution_free_kernel,
        comment=(
            "log of the LSF kernel's weights at r_scale = 1 (the weight is exp(r_scale^2 "
            "conv_logw))",
        ),
    ),
)

#: Variables of the program besides the data that ``blocks_loglik`` takes (transformed data
#: and the likelihood's parameters), with their types as function arguments.
OTHER_VARIABLES: tuple[Variable, ...] = (
    *_declare("vector theta", "vector centre", "vector amp", "matrix width"),
    *_declare("vector amp_fixed", "matrix line_shape", when=_fixed_lines),
    *_declare("matrix fixed_group", when=_absorption_fixed_lines),
    *_declare("vector cont_fixed", when=_fixed_regions),
    *_declare("vector edge_lsf2", when=_edges_fixed),
    *_declare("vector flux_over_error", "vector pix_weight", "vector block_log_norm"),
)

#: Argument runs both likelihood functions take: the sampled values, the lines (windows,
#: profiles' members, attenuation), the continuum regions and the spectra's factors.
_MODEL_VALUES = ("theta", "centre", "amp", "width")
_LINE_ARGUMENTS = (
    "line_win_start",
    "line_win_len",
    "{}_lines",
    "{}_absorbers",
    "group_zorder",
    "line_group",
    "cont_group",
    "line_zorder",
    "line_cf_par",
)
_REGION_ARGUMENTS = (
    "region_low",
    "region_high",
    "region_center",
    "region_nw_factor",
    "region_npar",
    "region_par",
    "region_nw_par",
    "region_const",
    "region_const_start",
    "region_nconst",
    "{}_regions",
)
_SPECTRUM_FACTORS = (
    "spec_line_factor",
    "spec_cont_factor",
    "spec_r_scale_par",
    "spec_flux_scale_par",
)
#: What ``blocks_loglik`` takes after ``(blocks, start, end, s)``, in order, where the program
#: has it.
_BLOCK_ARGUMENTS = (
    *_MODEL_VALUES,
    "spec_edge_start",
    "edge",
    "amp_fixed",
    "line_shape",
    "fixed_group",
    "cont_fixed",
    "edge_resolution",
    "edge_dlam_dpix",
    "edge_dresolution",
    "edge_d2resolution",
    "spec_pix_offset_ref",
    "spec_pix_offset_par",
    "edge_lsf2",
    "block_edge0",
    "block_n_edge",
    "block_pix0",
    "block_n_pix",
    *_LINE_ARGUMENTS,
    *_REGION_ARGUMENTS,
    "region_int_start",
    "region_int_len",
    "region_resolution",
    "pix_interval",
    "flux_over_error",
    "pix_weight",
    "block_log_norm",
    *_SPECTRUM_FACTORS,
)
#: What ``conv_loglik`` takes after ``s`` (convolution mode), where the program has it.
_CONV_ARGUMENTS = (
    *_MODEL_VALUES,
    "n_super",
    "conv_half",
    "spec_fedge_start",
    "spec_n_fedge",
    "fine_edge",
    "fine_dlam_dpix",
    "spec_pix_offset_ref",
    "spec_pix_offset_par",
    "spec_cell_start",
    "fine_cell",
    "spec_intrinsic_lsf2",
    "conv_w",
    "conv_logw",
    "conv_v",
    "conv_u",
    "spec_pix_start",
    "spec_n_pix",
    "spec_block_start",
    *_LINE_ARGUMENTS,
    *_REGION_ARGUMENTS,
    "flux_over_error",
    "error_norm",
    "block_log_norm",
    *_SPECTRUM_FACTORS,
)
#: Data the function reads only where the edges move (with fixed edges, edge_lsf2 holds the
#: resolution and the pixel offsets are in the edges).
_READ_WHERE_EDGES_MOVE = frozenset({"edge_resolution", "spec_pix_offset_par"})
_DECLARED = {v.name: v for v in DATA_VARIABLES + OTHER_VARIABLES}


def _instances(
    variables: tuple[Variable, ...], structure: ProgramStructure
) -> Iterator[tuple[Variable, str, str]]:
    """``(variable, name, stan_type)`` of the variables the program has, in order; each run
    of consecutive per-member variables is written member by member."""
    k = 0
    while k < len(variables):
        variable = variables[k]
        if variable.each is None:
            if variable.when(structure):
                yield (variable, *variable.instance())
            k += 1
            continue
        run = [variable]
        while k + len(run) < len(variables) and variables[k + len(run)].each == variable.each:
            run.append(variables[k + len(run)])
        for member in getattr(structure, variable.each):
            for v in run:
                if v.when(structure):
                    yield (v, *v.instance(member))
        k += len(run)


def data_names(structure: ProgramStructure) -> list[str]:
    """The keys of the data dict of a program with this structure, in the data block's order."""
    return [name for _, name, _ in _instances(DATA_VARIABLES, structure)]


def declared_names() -> frozenset[str]:
    """The names of the declared variables, but for those declared per profile or form (their
    names depend on the program), which site identifiers must avoid
    (:mod:`~unite_stan.stan.naming`)."""
    return frozenset(v.name for v in DATA_VARIABLES + OTHER_VARIABLES if v.each is None)


def data_block_code(structure: ProgramStructure) -> str:
    """The declarations of the program's ``data`` block (indented, one per line)."""
    lines = []
    for variable, name, stan_type in _instances(DATA_VARIABLES, structure):
        lines += [f"  // {text}" for text in variable.comment]
        lines.append(f"  {stan_type} {name};")
    return "\n".join(lines)


def select_data(values: dict, structure: ProgramStructure) -> dict:
    """The data dict of a program with this structure: the declared variables it has, taken
    from ``values`` (which may hold more), in the data block's order.

    Raises
    ------
    KeyError
        Naming the declared variables ``values`` lacks.
    """
    names = data_names(structure)
    missing = [name for name in names if name not in values]
    if missing:
        raise KeyError(f"the data lack the program's variables {missing}")
    return {name: values[name] for name in names}


def argument_type(stan_type: str) -> str:
    """The type of a function argument that takes a variable of ``stan_type``:
    ``array[N_spec, N_line] int<lower=1>`` -> ``array[,] int``, ``vector<lower=0>[N]`` ->
    ``vector``."""
    bare = re.sub(r"<[^>]*>", "", stan_type)
    dims = re.match(r"array\[([^\]]*)\]\s*(.*)", bare)
    if dims is not None:
        return f"array[{',' * dims.group(1).count(',')}] {argument_type(dims.group(2))}"
    return bare.split("[")[0].strip()


def _arguments(names, structure: ProgramStructure, skip=frozenset()) -> list[tuple[str, str]]:
    """``(type, name)`` of the variables ``names`` the program has, with their declared
    types, but for ``skip``."""
    out = []
    for name in names:
        if name in skip:
            continue
        for _, instance, stan_type in _instances((_DECLARED[name],), structure):
            out.append((argument_type(stan_type), instance))
    return out


def conv_arguments(structure: ProgramStructure) -> list[tuple[str, str]]:
    """``(type, name)`` of what ``conv_loglik`` takes after ``s`` (convolution mode)."""
    return _arguments(_CONV_ARGUMENTS, structure)


def block_arguments(structure: ProgramStructure) -> list[tuple[str, str]]:
    """``(type, name)`` of what ``blocks_loglik`` takes after ``(blocks, start, end, s)``:
    the variables the lines and continua need, each where the program has it, with the type
    of its declaration (with fixed edges, not the data read only where they move)."""
    skip = frozenset() if structure.pix_offset_free else _READ_WHERE_EDGES_MOVE
    return _arguments(_BLOCK_ARGUMENTS, structure, skip)
