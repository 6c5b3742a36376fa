"""The data block's one declaration: the program's data block, blocks_loglik's arguments and
the data dict's keys all come from it."""

from __future__ import annotations

import re

import pytest

from unite_stan.stan.data_block import (
    ProgramStructure,
    argument_type,
    block_arguments,
    data_block_code,
    data_names,
    select_data,
)


def structure(**changes) -> ProgramStructure:
    """The tutorial Fit 1's structure (Gaussian lines, one sampled Linear region, fixed
    calibration), with ``changes``."""
    base = dict(
        profiles=("gaussian",),
        forms=("linear",),
        lsf_forms=(),
        affine_forms=("linear",),
        pix_offset_free=False,
        fixed_lines=False,
        fixed_regions=False,
        sampled_lines=True,
        sampled_regions=True,
    )
    return ProgramStructure(**{**base, **changes})


def test_argument_types_drop_sizes_and_constraints():
    assert argument_type("array[N_spec, N_line] int<lower=1>") == "array[,] int"
    assert argument_type("array[N_line] int<lower=0, upper=1>") == "array[] int"
    assert argument_type("array[N_spec, N_region] vector[7]") == "array[,] vector"
    assert argument_type("vector<lower=0>[N_edge]") == "vector"
    assert argument_type("matrix[N_spec, N_region]") == "matrix"
    assert argument_type("int<lower=0>") == "int"


def test_data_keys_follow_the_structure():
    fit1 = set(data_names(structure()))
    assert {"region_int_start", "region_stat_n", "linear_regions"} <= fit1
    assert not fit1 & {"edge_dlam_dpix", "gaussian_fixed_lines", "region_resolution"}
    moving = set(data_names(structure(pix_offset_free=True, lsf_forms=("linear",))))
    assert {"edge_dlam_dpix", "spec_pix_offset_ref", "region_resolution"} <= moving
    assert not moving & {"region_int_start", "region_stat_n"}
    lines_only = set(data_names(structure(forms=(), sampled_regions=False)))
    assert not {n for n in lines_only if n.startswith("region_") or n.startswith("N_region")}
    frozen = data_names(structure(fixed_lines=True, fixed_regions=True, sampled_regions=False))
    assert frozen[frozen.index("N_gaussian") : frozen.index("N_gaussian") + 4] == [
        "N_gaussian",
        "gaussian_lines",
        "N_gaussian_fixed",
        "gaussian_fixed_lines",
    ]
    assert "region_stat" not in frozen


def test_data_block_declares_each_key_once_in_order():
    s = structure(fixed_lines=True, pix_offset_free=True, lsf_forms=("linear",))
    declared = re.findall(r"^  [^/].* (\w+);$", data_block_code(s), flags=re.M)
    assert declared == data_names(s)


def test_block_arguments_take_declared_types():
    fixed_edges = dict((name, kind) for kind, name in block_arguments(structure()))
    assert fixed_edges["line_win_start"] == "array[,] int"
    assert fixed_edges["edge_lsf2"] == "vector" and "edge_resolution" not in fixed_edges
    assert fixed_edges["linear_regions"] == "array[] int"
    moving = [name for _, name in block_arguments(structure(pix_offset_free=True))]
    assert "edge_lsf2" not in moving and "region_int_start" not in moving
    assert moving[6:12] == [
        "edge_resolution",
        "edge_dlam_dpix",
        "edge_dresolution",
        "edge_d2resolution",
        "spec_pix_offset_ref",
        "spec_pix_offset_par",
    ]


def test_select_data_names_missing_variables_and_drops_the_rest():
    s = structure(forms=(), sampled_regions=False)
    values = {name: 0 for name in data_names(s)}
    assert select_data({**values, "region_low": 1}, s) == values
    del values["flux_norm"], values["N_lit"]
    with pytest.raises(
        KeyError, match=re.escape("lack the program's variables ['N_lit', 'flux_norm']")
    ):
        select_data(values, s)
