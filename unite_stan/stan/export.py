"""A rendered program as files, for running it with CmdStan, cmdstanpy or BridgeStan by hand.

:func:`write_program` writes three files side by side:

``<name>.stan``
    the program text that the backends compile (:attr:`RenderedProgram.code`);
``<name>.data.json``
    its data in CmdStan's JSON format (written by ``cmdstanpy.write_stan_json``: float64
    numbers in the shortest text that reads back to the same double, integer arrays as
    integers, zero-size arrays as ``[]``);
``<name>.sites.json``
    how the program's names relate to unite's site names (:func:`sites_description`).

Site names never reach Stan code as typed (:mod:`unite_stan.stan.naming`), so the draws of a
run by hand are named by Stan identifiers; the sites file maps them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unite_stan.stan.coordinates import FLUX, LOGIT

__all__ = ["ProgramFiles", "read_stan_json", "sites_description", "write_program"]

#: Version of the layout of ``<name>.sites.json``.
SITES_FORMAT = 1


@dataclass(frozen=True)
class ProgramFiles:
    """The paths :func:`write_program` wrote."""

    program: Path
    data: Path
    sites: Path


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(
            f"name={name!r}: give a plain file name without a folder or suffix, e.g. 'model'"
        )
    return name


def sites_description(program) -> dict:
    """What ``<name>.sites.json`` holds, as a dict.

    Keys: ``stan_to_site`` (every Stan identifier of a site → its unite site name, in
    dependency order), ``free_sites`` (the sampled sites in the order of the program's
    parameter vector ``xi``, each with its identifier and coordinate), ``fixed_sites``,
    ``log_likelihood`` (``log_lik_spec[s]`` → spectrum name) and ``coordinates``, which says
    how ``xi`` becomes the sites.
    """
    names = program.name_map
    scales = program.flux_scales
    free = []
    for k, site in enumerate(program.free_sites):
        entry = {"index": k + 1, "site": site, "stan": names.ident(site)}
        if site in scales:
            entry.update(coordinate=FLUX, scale=scales[site])
        else:
            entry["coordinate"] = program.site_coordinates.get(site, LOGIT)
        free.append(entry)
    description = {
        "format": SITES_FORMAT,
        "stan_to_site": {ident: site for site, ident in names.items()},
        "free_sites": free,
        "fixed_sites": [{"site": s, "stan": names.ident(s)} for s in program.fixed_sites],
        "coordinates": (
            "The program's only parameter is the unconstrained vector xi. "
            "u = coord_loc + coord_chol * xi (both data; as build() renders the program, "
            "coord_loc = 0 and coord_chol is the identity, so u = xi). Free site k is a "
            "function of u[k] given by its coordinate: 'logit' low + (high - low) inv_logit(u), "
            "'slope' atan(u), 'lower' low + exp(u), 'upper' high - exp(u), 'real' u, 'flux' "
            "low + (high - low) (1 - exp(-scale / (high - low) softplus(u))). low and high are "
            "the site's prior bounds. The program adds each site's prior "
            "density and the Jacobian of that map to target itself, so Stan's jacobian flag "
            "(optimize, log_prob) changes nothing: target is the posterior density of xi."
        ),
    }
    description["log_likelihood"] = {
        f"log_lik_spec[{s + 1}]": str(n) for s, n in enumerate(program.spectrum_names)
    }
    return description


def write_program(program, directory, name: str = "model") -> ProgramFiles:
    """Write ``program`` (a :class:`~unite_stan.stan.render.RenderedProgram`) as
    ``<name>.stan``, ``<name>.data.json`` and ``<name>.sites.json`` in ``directory``
    (created if missing; existing files of those names are replaced).

    Raises
    ------
    ValueError
        If ``name`` is not a plain file name, or a data value is not numeric.
    """
    from cmdstanpy import write_stan_json

    name = _check_name(name)
    for key, value in program.data.items():
        kind = np.asarray(value).dtype.kind
        if kind not in "biuf":
            raise ValueError(
                f"Stan data {key!r} has dtype {np.asarray(value).dtype}: only numbers can be "
                "written to CmdStan JSON"
            )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = ProgramFiles(
        folder / f"{name}.stan", folder / f"{name}.data.json", folder / f"{name}.sites.json"
    )
    files.program.write_text(program.code)
    write_stan_json(str(files.data), dict(program.data))
    files.sites.write_text(json.dumps(sites_description(program), indent=2) + "\n")
    return files


def read_stan_json(path, like: dict | None = None) -> dict:
    """Read a CmdStan JSON data file into numpy values (ints stay ints).

    With ``like`` (a data dict), each zero-size value takes the shape of ``like``'s entry, which
    JSON's ``[]`` cannot record (Stan takes it from the program's declarations).
    """
    with open(path) as handle:
        raw = json.load(handle)
    out = {}
    for key, value in raw.items():
        if isinstance(value, (int, float)):
            out[key] = value
            continue
        array = np.asarray(value)
        if array.size == 0:
            shape = np.shape(like[key]) if like is not None and key in like else array.shape
            dtype = np.asarray(like[key]).dtype if like is not None and key in like else float
            array = np.zeros(shape, dtype=dtype)
        out[key] = array
    return out
