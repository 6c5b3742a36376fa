"""Fit many spectra of one configuration: one compile, any executor, resumable, one catalogue.

``fit_many(config, source, output_dir=...)`` fits every object of ``source`` and writes, per
object, ``<id>.nc`` (the draws in ArviZ's group layout), ``<id>.fits`` (``make_hdul``'s content;
not with ``fits=False``) and, last, ``<id>.status.json``. :func:`merge` joins the status records
into one catalogue. See docs/batch.md.

Guarantees:

* Every program is compiled once, in the parent process (cached). In-process, the first object
  compiles its program as it is fitted. Workers run inside
  :func:`unite_stan.stan.cache.builds_forbidden`: a worker whose program is not cached hands
  the program back, the parent compiles it and sends the object again.
* Every file is written to a temporary file in the output directory and renamed into place;
  the status record is written last and holds the size and sha256 of the others, so a
  status record whose files match marks a finished object and nothing else does.
* A failing object is recorded (``status: failed`` with the error) and never stops the batch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import re
import tempfile
import traceback
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LOADERS",
    "STATUSES",
    "BatchResult",
    "CatalogueRow",
    "fit_many",
    "inference_data",
    "exit_with_parent",
    "inputs_digest",
    "is_complete",
    "detect_loader",
    "load_row",
    "merge",
    "redshift_in_file",
    "object_seed",
    "read_catalogue",
]

#: Loaders a catalogue row may name.
LOADERS = ("sdss", "desi", "dja", "table")
#: Values of a status record's ``status``.
STATUSES = ("ok", "poor_convergence", "misfit", "failed")
#: Statuses of a finished object (its outputs written).
FINISHED = ("ok", "poor_convergence", "misfit")
#: chi^2 of the posterior median's model this many of its standard deviations (sqrt(2 N) for N
#: pixels) above N makes an object a ``misfit``.
MISFIT_SIGMAS = 5.0
#: Percentiles of every parameter in the status records and the catalogue.
PERCENTILES = (16, 50, 84)
#: Percentiles (fractions) of the per-object FITS file's tables (the draws are in the netCDF).
HDUL_PERCENTILES = (0.025, 0.16, 0.5, 0.84, 0.975)
#: Stem of the merged catalogue's files (an object id may not be this).
CATALOGUE = "catalogue"
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*", re.ASCII)
#: Longest object id: its files' names (and their temporary names) must fit in 255 bytes.
MAX_ID_LENGTH = 200
_SAMPLE_STATS = {
    "log_prob": "lp",
    "acceptance_rate": "acceptance_rate",
    "step_size": "step_size",
    "tree_depth": "tree_depth",
    "n_steps": "n_steps",
    "diverging": "diverging",
    "energy": "energy",
}
_FIT_DEFAULTS = {"num_warmup": 500, "num_samples": 1000, "num_chains": 2}


@dataclasses.dataclass(frozen=True)
class CatalogueRow:
    """One row of a catalogue file: what :func:`load_row` reads, in the worker (``loader``
    empty: recognised from the file by :func:`detect_loader`)."""

    path: str
    loader: str
    name: str = ""
    index: int = 0


@dataclasses.dataclass
class BatchResult:
    """What :func:`fit_many` did.

    Attributes
    ----------
    statuses : dict
        Object id → its status record (as in ``<id>.status.json``), for every object of the
        source, including those skipped because they were complete.
    skipped : list of str
        Objects whose outputs were complete and valid (not fitted again).
    compiled : list of str
        Program hashes the parent built (a cached program is not counted).
    catalogue : Path
        The merged catalogue (FITS; the CSV lies beside it).
    settings : dict
        The sampler settings used, after clamping to the cores.
    """

    statuses: dict[str, dict]
    skipped: list[str]
    compiled: list[str]
    catalogue: Path
    settings: dict

    def count(self, status: str) -> int:
        """Objects with this status."""
        return sum(1 for s in self.statuses.values() if s["status"] == status)


# ---- sources -------------------------------------------------------------------------------


@dataclasses.dataclass
class _Task:
    id: str
    source: Any  # Spectra, Spectrum, list of Spectrum, zero-argument callable, CatalogueRow
    redshift: float | None
    error: str = ""  # a problem found before fitting: recorded as the object's failure


def read_catalogue(path) -> list[tuple[str, CatalogueRow | None, float | None, str]]:
    """Rows of a catalogue CSV: ``(id, CatalogueRow or None, redshift or None, problem)``.

    Columns ``id`` and ``path`` are required; ``loader``, ``redshift``, ``name`` (the
    spectrum's name) and ``index`` (the row in a DESI file) are optional; any other column is
    refused. An empty (or absent) ``loader`` is recognised from the file
    (:func:`detect_loader`) and an empty (or absent) ``redshift`` read from it
    (:func:`redshift_in_file`), in the worker; the status record says so. Relative paths are
    relative to the catalogue's directory. A row's problem (an unknown loader, a redshift that
    is not a number) is returned, not raised: the batch records that object as failed.

    Raises
    ------
    ValueError
        If a required column is missing or an unknown column is present.
    FileNotFoundError
        If the catalogue file does not exist.
    """
    from unite_stan.spectrum.spectra import is_redshift

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"catalogue file {path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's BOM
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        required, optional = ("id", "path"), ("loader", "redshift", "name", "index")
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(
                f"catalogue {path}: missing column(s) {missing}; it needs {list(required)} "
                f"(optional: {', '.join(optional)})"
            )
        unknown = [c for c in columns if c not in (*required, *optional)]
        if unknown:
            raise ValueError(
                f"catalogue {path}: unknown column(s) {unknown}; valid columns are "
                f"{[*required, *optional]}"
            )
        rows = []
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            problems = []
            if None in raw:  # DictReader's key for fields beyond the header's
                problems.append(
                    f"{len(raw[None])} more field(s) than the header's {len(columns)} "
                    f"columns: {raw[None]}"
                )
            if not row["path"]:
                problems.append("the path is empty")
            loader = row.get("loader", "").lower()
            if loader and loader not in LOADERS:
                problems.append(f"loader {row['loader']!r} is not one of {list(LOADERS)}")
            redshift = None
            if row.get("redshift"):
                try:
                    redshift = float(row["redshift"])
                    if not is_redshift(redshift):
                        raise ValueError
                except ValueError:
                    redshift = None
                    problems.append(f"redshift {row['redshift']!r} is not a finite number > -1")
            try:
                index = int(row.get("index") or 0)
            except ValueError:
                index = 0
                problems.append(f"index {row.get('index')!r} is not an integer")
            file = Path(row["path"])
            if not file.is_absolute():
                file = path.parent / file
            entry = CatalogueRow(str(file), loader, row.get("name") or "", index)
            problem = f"catalogue line {line}: {'; '.join(problems)}" if problems else ""
            rows.append((row["id"], entry, redshift, problem))
    return rows


def _tasks(spectra_source) -> list[_Task]:
    """The source's objects as tasks; duplicated ids become one failed task each."""
    if isinstance(spectra_source, (str, os.PathLike)):
        items = read_catalogue(spectra_source)
    else:
        items = []
        for i, item in enumerate(spectra_source):
            if not isinstance(item, (tuple, list)) or len(item) != 3:
                raise ValueError(
                    f"spectra_source item {i} is {item!r}: each item must be a tuple "
                    "(object_id, Spectra or zero-argument callable returning Spectra, redshift)"
                )
            items.append((*item, ""))
    tasks: list[_Task] = []
    where: dict[str, list[int]] = {}
    bad = []
    for i, (oid, source, redshift, problem) in enumerate(items):
        oid = str(oid).strip()
        if not _ID.fullmatch(oid) or len(oid) > MAX_ID_LENGTH:
            bad.append(f"{oid!r} (item {i})")
        elif oid == CATALOGUE:
            raise ValueError(
                f"object id {oid!r} (item {i}) is reserved: the merged catalogue is "
                f"{CATALOGUE}.fits; rename the object"
            )
        where.setdefault(oid, []).append(i)
        tasks.append(_Task(oid, source, redshift, problem))
    if bad:
        shown = ", ".join(bad[:20]) + (f" and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise ValueError(
            f"{len(bad)} object id(s) cannot name a file: {shown}; an id has at most "
            f"{MAX_ID_LENGTH} characters, ASCII letters, digits and '._+-', starting with a "
            "letter, digit or '_' (items count from 0, the first data row)"
        )
    out, seen = [], set()
    for task in tasks:
        places = where[task.id]
        if len(places) > 1:
            if task.id in seen:
                continue
            task = _Task(
                task.id,
                None,
                None,
                f"object id {task.id!r} appears {len(places)} times (items {places}); ids must "
                "be unique, so none of these items was fitted",
            )
        seen.add(task.id)
        out.append(task)
    return out


def _spectrum_file(path) -> Path:
    """``path`` as a Path, or FileNotFoundError naming it as the spectrum file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spectrum file {path} does not exist")
    return path


def detect_loader(path) -> str:
    """Which of :data:`LOADERS` reads a spectrum file, from its HDUs.

    ``sdss``: a ``COADD`` table with ``loglam``; ``desi``: ``B_FLUX``, ``R_FLUX`` or
    ``Z_FLUX`` images; ``dja``: a ``SPEC1D`` table; ``table``: HDU 1 a table with columns
    ``low``, ``high``, ``flux`` and ``error``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable FITS file, or none of the loaders' layouts matches.
    """
    from astropy.io import fits

    path = _spectrum_file(path)
    try:
        with fits.open(path) as hdul:
            names = {hdu.name.upper() for hdu in hdul}
            columns = {
                hdu.name.upper(): {c.lower() for c in hdu.columns.names}
                for hdu in hdul
                if isinstance(hdu, fits.BinTableHDU)
            }
            first = (
                {c.lower() for c in hdul[1].columns.names}
                if len(hdul) > 1 and isinstance(hdul[1], fits.BinTableHDU)
                else set()
            )
    except OSError as err:
        raise ValueError(f"{path} is not a readable FITS file: {err}") from err
    if "loglam" in columns.get("COADD", set()):
        return "sdss"
    if names & {"B_FLUX", "R_FLUX", "Z_FLUX"}:
        return "desi"
    if "SPEC1D" in columns:
        return "dja"
    if {"low", "high", "flux", "error"} <= first:
        return "table"
    raise ValueError(
        f"{path}: no loader recognises this file (sdss: a COADD table with loglam; desi: "
        "B_FLUX/R_FLUX/Z_FLUX images; dja: a SPEC1D table; table: HDU 1 a table with columns "
        "low, high, flux, error); name the loader"
    )


def redshift_in_file(path, loader: str, index: int = 0) -> tuple[float, str] | None:
    """The redshift a spectrum file carries, and where it was read, or None.

    ``sdss``: ``SPECOBJ`` column ``Z``; ``desi``: ``REDSHIFTS`` column ``Z`` of the target in
    row ``index`` of ``FIBERMAP`` (matched by ``TARGETID``); ``table``: header keyword
    ``REDSHIFT`` or ``Z`` of HDU 1 or the primary HDU; ``dja``: None (msaexp files carry no
    redshift: it is in the archive's table). A value that is not a finite number > -1 counts
    as none.

    Raises
    ------
    ValueError
        If ``loader`` is not one of :data:`LOADERS`, or ``index`` is outside a DESI file's
        spectra.
    """
    from astropy.io import fits

    from unite_stan.spectrum.spectra import is_redshift

    if loader not in LOADERS:
        raise ValueError(f"loader {loader!r} is not one of {list(LOADERS)}")
    found = None
    with fits.open(_spectrum_file(path)) as hdul:
        names = {hdu.name.upper() for hdu in hdul}
        if loader == "sdss" and "SPECOBJ" in names and "Z" in hdul["SPECOBJ"].columns.names:
            found = (hdul["SPECOBJ"].data["Z"][0], "SPECOBJ Z")
        elif loader == "desi" and "REDSHIFTS" in names:
            redshifts = hdul["REDSHIFTS"].data
            row = index
            if "FIBERMAP" in names and "TARGETID" in redshifts.columns.names:
                fibermap = hdul["FIBERMAP"].data
                if not 0 <= index < len(fibermap):
                    raise ValueError(
                        f"index {index} is outside {Path(path).name}'s {len(fibermap)} "
                        f"spectra (FIBERMAP rows 0-{len(fibermap) - 1})"
                    )
                target = fibermap["TARGETID"][index]
                rows = np.flatnonzero(redshifts["TARGETID"] == target)
                row = int(rows[0]) if rows.size else None
            if row is not None and row < len(redshifts):
                found = (redshifts["Z"][row], f"REDSHIFTS Z of row {row}")
        elif loader == "table":
            for number in (1, 0) if len(hdul) > 1 else (0,):
                for key in ("REDSHIFT", "Z"):
                    if key in hdul[number].header:
                        found = (hdul[number].header[key], f"header keyword {key} of HDU {number}")
                        break
                if found:
                    break
    if found is None:
        return None
    try:
        value = float(found[0])
    except (TypeError, ValueError):
        return None
    return (value, found[1]) if is_redshift(value) else None


def load_row(row: CatalogueRow, config) -> list:
    """The spectra of a catalogue row, read with its loader (a list of ``Spectrum``; an empty
    loader is recognised from the file by :func:`detect_loader`).

    Dispersers come from ``config.dispersers`` where it has one of the loader's kind (copied:
    loaders set a disperser's grids from the file), else the loader's default. ``table``: a
    FITS binary table (HDU 1) with columns ``low``, ``high``, ``flux``, ``error`` (units in
    ``TUNITn``) and the resolving power as header keyword ``R`` or a column ``R``; the
    catalogue's ``name`` names the spectrum and its disperser (default ``spectrum``; not the
    file's ``SPECNAME``, which differs from file to file: the name is part of the model's
    structure, e.g. ``flux_scale_<name>``, and of the catalogue's columns, so files named
    differently would each compile their own program). Pixels with a non-finite flux or error,
    or an error <= 0, are dropped.
    """
    import copy

    from unite_stan import spectrum
    from unite_stan.instrument.sdss import SDSSDisperser

    path = _spectrum_file(row.path)
    if not row.loader:
        row = dataclasses.replace(row, loader=detect_loader(path))
    dispersers = list(config.dispersers) if config.dispersers is not None else []
    if row.loader == "sdss":
        found = [d for d in dispersers if isinstance(d, SDSSDisperser)]
        disperser = copy.deepcopy(found[0]) if found else SDSSDisperser()
        return [spectrum.from_sdss_fits(path, disperser, name=row.name)]
    if row.loader == "desi":
        return list(spectrum.from_desi_fits(path, index=row.index, name=row.name))
    if row.loader == "dja":
        if len(dispersers) != 1:
            raise ValueError(
                f"loader 'dja' takes its disperser from the configuration's dispersers, which "
                f"must hold exactly one (it holds {len(dispersers)}): add a 'dispersers:' "
                "section to the configuration's YAML (docs/configuration_files.md), or in "
                "Python e.g. InstrumentConfig([PRISM()]) to the Configuration"
            )
        return [spectrum.from_DJA(path, copy.deepcopy(dispersers[0]), name=row.name)]
    if row.loader == "table":
        return [_load_table(path, row.name)]
    raise ValueError(f"loader {row.loader!r} is not one of {list(LOADERS)}")


def _load_table(path: Path, name: str):
    import astropy.units as u
    from astropy.io import fits
    from astropy.table import Table

    from unite_stan import spectrum
    from unite_stan.instrument.generic import SimpleDisperser

    try:
        with fits.open(path) as hdul:
            header = hdul[1].header
            table = Table.read(hdul[1])
    except (OSError, IndexError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable FITS spectrum table: {err}") from err
    for column in ("low", "high", "flux", "error"):
        if column not in table.colnames:
            raise ValueError(f"{path}: table has no column {column!r} (has {table.colnames})")
    name = name or "spectrum"
    low, high = (u.Quantity(table[c]) for c in ("low", "high"))
    resolution = np.asarray(table["R"], dtype=float) if "R" in table.colnames else header.get("R")
    if resolution is None:
        raise ValueError(f"{path}: no resolving power (header keyword R or column R)")
    flux, error = u.Quantity(table["flux"]), u.Quantity(table["error"])
    good = np.isfinite(flux.value) & np.isfinite(error.value) & (error.value > 0)
    if not good.any():
        raise ValueError(
            f"{path}: no pixel has a finite flux and a finite positive error ({good.size} "
            "pixels): nothing to fit"
        )
    disperser = SimpleDisperser(wavelength=0.5 * (low + high), R=resolution, name=name)
    # bad pixels are dropped (mask), as the survey loaders do
    return spectrum.from_edges(low, high, flux, error, disperser, mask=~good, name=name)


def _read_from_file(
    task: _Task, give: str = "the object's redshift (a catalogue's redshift column)"
) -> tuple[_Task, dict]:
    """A catalogue row's loader and redshift, where the row leaves them out, read from its
    file; and what was read (``{"loader": ..., "redshift": where}``, for the status record).
    ``give`` ends the error for a file without a redshift: how to give one."""
    row = task.source
    if not isinstance(row, CatalogueRow) or (row.loader and task.redshift is not None):
        return task, {}
    read: dict[str, str] = {}
    if not row.loader:
        row = dataclasses.replace(row, loader=detect_loader(row.path))
        read["loader"] = row.loader
    redshift = task.redshift
    if redshift is None:
        found = redshift_in_file(row.path, row.loader, row.index)
        if found is None:
            raise ValueError(
                f"{row.path} carries no redshift the {row.loader} loader reads: give {give}"
            )
        redshift, read["redshift"] = found
    return dataclasses.replace(task, source=row, redshift=redshift), read


def _spectra_of(task: _Task, config):
    """The task's ``Spectra`` (at the task's redshift), checked for something to fit."""
    from unite_stan.spectrum import Spectra, Spectrum

    source = task.source
    if isinstance(source, CatalogueRow):
        source = load_row(source, config)
    elif callable(source) and not isinstance(source, (Spectra, Spectrum)):
        source = source()
    if isinstance(source, Spectrum):
        source = [source]
    if isinstance(source, Spectra):
        spectra = source
        if task.redshift is not None and not math.isclose(
            spectra.redshift, task.redshift, rel_tol=0, abs_tol=1e-12
        ):
            raise ValueError(
                f"the Spectra's redshift {spectra.redshift} differs from the source's "
                f"{task.redshift}: give one redshift (or None with a Spectra)"
            )
    elif isinstance(source, (list, tuple)):
        if task.redshift is None:
            raise ValueError("no redshift given: the source's redshift is needed with Spectrum")
        spectra = Spectra(list(source), redshift=float(task.redshift))
    else:
        raise TypeError(
            f"the source gave {type(source).__name__}; expected a Spectra, a Spectrum or a list "
            "of Spectrum (or a zero-argument callable returning one)"
        )
    for spec in spectra:
        if "/" in spec.name:  # checked before the fit, not when its netCDF file is written
            raise ValueError(
                f"spectrum name {spec.name!r} contains '/', which the netCDF file's variable "
                "names (flux_<name>, ...) cannot hold: name the spectrum without '/' (the "
                "catalogue's name column, or name= of the loader)"
            )
        flux = np.asarray(spec.flux, dtype=float)
        if flux.size == 0 or not np.isfinite(flux).any():
            raise ValueError(
                f"spectrum {spec.name!r} has no finite flux value ({flux.size} pixels): "
                "nothing to fit"
            )
    return spectra


# ---- one object (runs in the worker) -------------------------------------------------------


def object_seed(seed: int, object_id: str) -> int:
    """The seed of one object's fit: the batch seed and the id hashed (same inputs, same
    draws, whichever worker and order)."""
    return zlib.crc32(f"{int(seed)}:{object_id}".encode())


_CONFIGS: dict[str, Any] = {}


def _config_of(payload):
    """The configuration in this process (YAML parsed once per process and text)."""
    if not isinstance(payload, str):
        return payload
    if payload not in _CONFIGS:
        from unite_stan.config import Configuration

        _CONFIGS.clear()
        _CONFIGS[payload] = Configuration.from_yaml(payload)
    return _CONFIGS[payload]


def _run_task(task: _Task, job: dict, *, forbid_builds: bool = True) -> dict:
    """Fit one object and write its outputs; returns its status record (never raises, except
    :class:`~unite_stan.stan.cache.NotCompiledError` reported as ``needs_compile``)."""
    from unite_stan._blas import one_blas_thread
    from unite_stan.stan import cache

    out = Path(job["output_dir"])
    _remove(out / f"{task.id}.status.json")
    if not job["fits"]:  # an earlier run's FITS file, which this run's record cannot vouch for
        _remove(out / f"{task.id}.fits")
    log = io.StringIO()
    record: dict[str, Any] = {
        "id": task.id,
        "seed": object_seed(job["seed"], task.id),
        "inputs": inputs_digest(task, job),
        "redshift": task.redshift,  # the fit's own (a Spectra's) replaces it
    }
    context = cache.builds_forbidden() if forbid_builds else contextlib.nullcontext()
    try:
        if task.error:
            raise ValueError(task.error)
        with context, one_blas_thread(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with contextlib.redirect_stderr(log):
                record.update(_fit_and_write(task, job, record["seed"]))
        record["warnings"] = sorted({str(w.message) for w in caught})
    except cache.NotCompiledError as err:
        return {"id": task.id, "status": "needs_compile", "backend": err.backend, "code": err.code}
    except Exception as err:  # noqa: BLE001 - every failure is recorded, the batch goes on
        record.update(
            status="failed",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=8),
        )
    record["log"] = log.getvalue().splitlines()[-30:]
    _write_atomic(out / f"{task.id}.status.json", json.dumps(record, indent=1).encode())
    return record


def _fit_and_write(task: _Task, job: dict, seed: int) -> dict:
    from unite_stan.diagnostics import check_convergence, convergence_statistics
    from unite_stan.model import ModelBuilder
    from unite_stan.results import hdul_of, make_parameter_table

    config = _config_of(job["config"])
    task, read = _read_from_file(task)
    spectra = _spectra_of(task, config)
    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont, **job["scale_kwargs"])
    samples, args = ModelBuilder(lines, cont, spectra).fit(
        seed=seed, progress_bar=False, **job["fit_kwargs"]
    )
    ds = args.dataset
    free = list(args.free_sites)
    # the fit computed these for its own warning; computed here only if it did not
    stats = args.run_info.get("convergence") or convergence_statistics(ds, free)
    problems = check_convergence(
        ds,
        free,
        rhat_max=job["rhat_max"],
        min_ess_per_chain=job["min_ess_per_chain"],
        statistics=stats,
    )
    chi2, chi2_limit, pixels = _chi2_of_chains(ds, free, args)
    status = "poor_convergence" if problems else "ok"
    if min(chi2, default=np.nan) > chi2_limit:
        status = "misfit"
    out = Path(job["output_dir"])
    files = {}
    nc = out / f"{task.id}.nc"
    _write_atomic(nc, _netcdf_bytes(args))
    files["nc"] = _file_record(nc)
    # one parameter table for the FITS file and the status record (the same percentiles)
    pct = HDUL_PERCENTILES if job["fits"] else [p / 100 for p in PERCENTILES]
    params = make_parameter_table(samples, args, percentiles=pct)
    if job["fits"]:
        fits_path = out / f"{task.id}.fits"
        buffer = io.BytesIO()
        hdul_of(params, samples, args, percentiles=pct).writeto(buffer)
        _write_atomic(fits_path, buffer.getvalue())
        files["fits"] = _file_record(fits_path)
    return {
        "status": status,
        "problems": problems,
        "redshift": float(spectra.redshift),
        "program_hash": str(ds.attrs.get("program_hash", "")),
        "diagnostics": {
            **_diagnostics(ds, stats),
            "chi2_per_pixel": min(chi2, default=float("nan")),
            "chi2_per_pixel_chains": chi2,
            "chi2_limit": chi2_limit,
            "pixels": pixels,
        },
        "parameters": _percentiles(params),
        "files": files,
        **({"read_from_file": read} if read else {}),
    }


def _chi2_of_chains(ds, free: list[str], args) -> tuple[list[float], float, int]:
    """chi^2 per pixel of the model at each chain's median, the misfit limit ``1 +
    MISFIT_SIGMAS sqrt(2 / N)`` and the number N of fitted pixels. Per chain, because chains
    in different modes of a multimodal posterior each describe the data while the median of
    all draws together may not."""
    from unite_stan.diagnostics import chi2_and_pixels

    chi2, pixels = [], 0
    for chain in range(int(ds.sizes["chain"])):
        medians = {n: float(np.median(np.asarray(ds[n])[chain])) for n in free}
        total, pixels = chi2_and_pixels(medians, args)
        chi2.append(total / pixels if pixels else float("nan"))
    limit = 1.0 + MISFIT_SIGMAS * np.sqrt(2.0 / pixels) if pixels else float("inf")
    return chi2, float(limit), pixels


def _diagnostics(ds, stats: dict) -> dict:
    """Largest R-hat and smallest bulk ESS over the free sites (their
    :func:`~unite_stan.diagnostics.convergence_statistics`), divergences, chains and draws."""
    rhats = [s["rhat"] for s in stats.values()]
    ess = [s["ess_bulk"] for s in stats.values()]
    return {
        "rhat_max": float(np.nanmax(rhats)) if rhats else float("nan"),
        "ess_bulk_min": float(np.nanmin(ess)) if ess else float("nan"),
        "divergences": int(np.sum(np.asarray(ds["diverging"]))),
        "chains": int(ds.sizes["chain"]),
        "draws": int(ds.sizes["draw"]),
    }


def _percentiles(table) -> dict:
    """Every parameter's 16th/50th/84th percentiles in physical units, from a parameter table
    (``make_parameter_table`` with percentiles that include 0.16, 0.5 and 0.84)."""
    rows = [int(np.flatnonzero(np.isclose(table["percentile"], p / 100))[0]) for p in PERCENTILES]
    out = {}
    for name in table.colnames:
        if name in ("percentile", "log_prob", "log_likelihood"):
            continue
        column = table[name]
        unit = getattr(column, "unit", None)
        values = np.asarray(getattr(column, "value", column), dtype=float)[rows]
        out[name] = {f"p{p}": float(v) for p, v in zip(PERCENTILES, values, strict=True)}
        out[name]["unit"] = "" if unit is None else unit.to_string()
    return out


# ---- files ---------------------------------------------------------------------------------


@functools.cache
def _file_mode() -> int:
    """The mode a new file gets here (0o666 less the umask), which ``mkstemp``'s private
    0o600 would otherwise replace: collaborators read a shared output directory."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place (with the
    permissions of a file created in the ordinary way)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), _file_mode())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(Path(tmp))
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _file_record(path: Path) -> dict:
    data = path.read_bytes()
    return {"name": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def inference_data(args):
    """A fit's draws as an ``xarray.DataTree`` in ArviZ's group layout (what
    ``ModelArgs.to_arviz()`` returns and ``<id>.nc`` holds).

    Groups: ``posterior`` (every site, in the model's scaled units as in ``args.dataset``;
    the run's attributes, lists as JSON text, booleans as 0/1, ``free_sites``, and the scales
    to physical units as in ``make_parameter_table``'s meta: ``ZSYS`` the systemic redshift,
    ``LFLXSCL`` / ``LFLXUNT`` the line flux scale, ``CNTSCL`` / ``CNTUNT`` the continuum scale,
    ``NRMFCTRS`` the spectra's normalisation factors),
    ``sample_stats`` (ArviZ's names: ``lp``, ``acceptance_rate``, ``step_size``,
    ``tree_depth``, ``n_steps``, ``diverging``, ``energy``), ``log_likelihood`` (``spectra``:
    one value per spectrum and draw) and ``observed_data`` (each spectrum's ``low_``,
    ``high_``, ``flux_`` and ``error_<name>``, with their units as attributes).

    Raises
    ------
    ValueError
        If ``args`` holds no draws (before ``ModelBuilder.fit``).
    """
    import xarray as xr

    from unite_stan.results import _scale_meta

    ds = args.dataset
    if ds is None:
        raise ValueError("no draws: to_arviz() needs a fitted model (ModelBuilder.fit)")
    attrs = {k: _netcdf_attr(v) for k, v in ds.attrs.items()}
    stats = [n for n in _SAMPLE_STATS if n in ds]
    sites = [
        n for n in ds.data_vars if n not in _SAMPLE_STATS and n not in ("lp__", "log_likelihood")
    ]
    posterior = ds[sites]
    posterior.attrs = {
        **attrs,
        "free_sites": json.dumps(list(args.free_sites)),
        # what make_parameter_table multiplies by (its meta, the FITS header's keys)
        **{k: _netcdf_attr(v) for k, v in _scale_meta(args).items()},
    }
    sample_stats = ds[stats].rename({n: _SAMPLE_STATS[n] for n in stats})
    sample_stats.attrs = {}
    log_likelihood = ds[["log_likelihood"]].rename({"log_likelihood": "spectra"})
    log_likelihood.attrs = {}
    return xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "sample_stats": sample_stats,
            "log_likelihood": log_likelihood,
            "observed_data": _observed(args.spectra, xr),
        }
    )


def netcdf_engine() -> str:
    """The xarray engine that writes the netCDF files: ``netcdf4`` (the netCDF-C library)
    where the ``netCDF4`` package is installed, else ``h5netcdf``. Both write netCDF-4 (HDF5)
    files that either reads; netCDF-C writes a fit's ~30 small variables in about a fifth of
    h5netcdf's time (17 ms against 87 ms here), which counts in a batch of thousands."""
    import importlib.util

    return "netcdf4" if importlib.util.find_spec("netCDF4") is not None else "h5netcdf"


def _netcdf_bytes(args) -> bytes:
    """:func:`inference_data` as netCDF-4 bytes (built in the system's temporary directory)."""
    fd, tmp = tempfile.mkstemp(suffix=".nc")
    os.close(fd)
    try:
        inference_data(args).to_netcdf(tmp, mode="w", engine=netcdf_engine())
        return Path(tmp).read_bytes()
    finally:
        _remove(Path(tmp))


def _observed(spectra, xr):
    variables = {}
    for spec in spectra:
        dim = f"pixel_{spec.name}"
        for what in ("low", "high", "flux", "error"):
            quantity = getattr(spec, what)
            values = np.asarray(getattr(quantity, "value", quantity), dtype=float)
            unit = spec.unit if what in ("low", "high") else spec.flux_unit
            variables[f"{what}_{spec.name}"] = (dim, values, {"unit": str(unit)})
    return xr.Dataset(variables)


def _netcdf_attr(value):
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    return json.dumps(value, default=str)


# sampler settings that do not change the draws (how the chains share the cores)
_NOT_INPUTS = ("parallel_chains", "threads_per_chain")


def inputs_digest(task: _Task, job: dict) -> str:
    """sha256 of what an object's outputs are made from: the configuration (its YAML), the
    batch's seed and settings (sampler, scales, convergence thresholds; not how the chains
    share the cores, which does not change the draws), the redshift and the spectra (a
    catalogue row's loader, file path, size and modification time; a ``Spectra``'s pixels).
    A resumed batch fits an object again when its record's digest differs. A configuration
    that has no YAML form and a source given as a callable are not part of it."""
    settings = {k: v for k, v in job["fit_kwargs"].items() if k not in _NOT_INPUTS}
    parts = {
        "config": job["config"] if isinstance(job["config"], str) else None,
        "seed": job["seed"],
        "fit": settings,
        "scales": job["scale_kwargs"],
        "rhat_max": job["rhat_max"],
        "min_ess_per_chain": job["min_ess_per_chain"],
        "redshift": task.redshift,
        "source": _source_fingerprint(task.source),
        "error": task.error,
    }
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _source_fingerprint(source) -> Any:
    from unite_stan.spectrum import Spectra, Spectrum

    if isinstance(source, CatalogueRow):
        try:
            stat = Path(source.path).stat()
            file = [stat.st_size, stat.st_mtime_ns]
        except OSError:
            file = None
        return [dataclasses.asdict(source), file]
    if isinstance(source, Spectrum):
        source = [source]
    if isinstance(source, (Spectra, list, tuple)) and all(isinstance(s, Spectrum) for s in source):
        digest = hashlib.sha256()
        for spec in source:
            digest.update(repr((spec.name, str(spec.unit), str(spec.flux_unit))).encode())
            for what in ("low", "high", "flux", "error"):
                values = getattr(spec, what)
                digest.update(np.ascontiguousarray(getattr(values, "value", values)).tobytes())
        redshift = float(source.redshift) if isinstance(source, Spectra) else None
        return [digest.hexdigest(), redshift]
    return None  # a callable: what it returns is not known before the worker calls it


def is_complete(
    output_dir, object_id: str, *, fits: bool = True, inputs: str | None = None
) -> bool:
    """Whether the object's status record exists, is finished (``ok``, ``poor_convergence`` or
    ``misfit``), and its netCDF file and (with ``fits``, the default) its FITS file have the size
    and sha256 it records. With ``fits=False`` a FITS file the record lists is checked too.
    With ``inputs`` (an :func:`inputs_digest`), the record must also have been made from those
    inputs."""
    out = Path(output_dir)
    try:
        record = json.loads((out / f"{object_id}.status.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("status") not in FINISHED:
        return False
    if inputs is not None and record.get("inputs") != inputs:
        return False
    files = record.get("files", {})
    for key in ("nc", "fits") if fits or "fits" in files else ("nc",):
        meta = files.get(key)
        if not meta:
            return False
        try:
            if _file_record(out / meta["name"]) != meta:
                return False
        except OSError:
            return False
    return True


def _clean_temporary(out: Path, ids: set[str], *, catalogue: bool) -> int:
    """Remove the temporary files a killed run left for these objects (and the catalogue's,
    when ``catalogue``); returns how many. Other objects' files are left alone: another job
    (shard) may be writing them."""
    pattern = re.compile(r"\.(.+)\.(nc|fits|status\.json|csv)\.[^.]+\.tmp")
    count = 0
    for path in out.glob(".*.tmp"):
        match = pattern.fullmatch(path.name)
        if match is None:
            continue
        stem, ext = match[1], match[2]
        if stem in ids and ext != "csv" or catalogue and stem == CATALOGUE:
            _remove(path)
            count += 1
    return count


# ---- cores and executors -------------------------------------------------------------------


def exit_with_parent(parent: int | None = None, interval: float = 2.0) -> None:
    """Make this (worker) process exit when its parent does: a ``ProcessPoolExecutor``'s
    ``initializer``. A parent killed with SIGKILL cannot stop its pool, whose workers would
    otherwise wait for work for ever. ``parent`` is the parent's pid (default this process's
    parent now); checked every ``interval`` seconds by a daemon thread."""
    import threading
    import time

    parent = os.getppid() if parent is None else parent

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _kind(executor) -> str:
    if executor is None:
        return "serial"
    from concurrent.futures import Executor

    if isinstance(executor, Executor):
        return "futures"
    if hasattr(executor, "scheduler_info") and hasattr(executor, "submit"):
        return "dask"
    raise TypeError(
        f"executor={executor!r}: use None (serial), a concurrent.futures executor or a "
        "dask.distributed Client"
    )


def _slots(executor, kind: str) -> tuple[int, int]:
    """(tasks that run at once on the busiest host, cores of that host)."""
    from unite_stan.stan.backends.base import available_cores

    if kind == "serial":
        return 1, available_cores()
    if kind == "futures":
        workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        return int(workers), available_cores()
    workers = executor.scheduler_info()["workers"]
    cores = executor.run(available_cores)
    per_host: dict[str, list[int]] = {}
    for address, info in workers.items():
        host = info.get("host", address)
        per_host.setdefault(host, [0, 1])
        per_host[host][0] += int(info.get("nthreads", 1))
        per_host[host][1] = max(per_host[host][1], int(cores.get(address, 1)))
    if not per_host:
        raise RuntimeError("the dask cluster has no workers")
    return min(((t, c) for t, c in per_host.values()), key=lambda tc: tc[1] / tc[0])


def _clamp(fit_kwargs: dict, slots: int, cores: int) -> dict:
    """``threads_per_chain × parallel_chains × slots <= cores``, clamped with a warning."""
    kw = dict(fit_kwargs)
    chains = int(kw["num_chains"])
    budget = max(1, cores // slots)
    threads = kw.get("threads_per_chain") or 1
    wanted = kw.get("parallel_chains")
    parallel = wanted or min(chains, max(1, budget // threads))
    if slots > cores:
        warnings.warn(
            f"{slots} tasks run at once on {cores} cores: the workers alone oversubscribe the "
            "cores; use fewer workers",
            UserWarning,
            stacklevel=3,
        )
    if threads * parallel * slots > cores:
        new_parallel = max(1, min(parallel, budget // threads))
        new_threads = threads if threads * new_parallel <= budget else max(1, budget)
        warnings.warn(
            f"threads_per_chain={threads} x parallel_chains={parallel} x workers={slots} = "
            f"{threads * parallel * slots} exceeds the {cores} cores: using threads_per_chain="
            f"{new_threads}, parallel_chains={new_parallel}",
            UserWarning,
            stacklevel=3,
        )
        threads, parallel = new_threads, new_parallel
    kw["threads_per_chain"] = int(threads)
    kw["parallel_chains"] = int(min(parallel, chains))
    return kw


class _Serial:
    """Runs each task at submission (in this process), future-like."""

    class _Done:
        def __init__(self, fn, args, kwargs):
            try:
                self._value, self._error = fn(*args, **kwargs), None
            except BaseException as err:  # noqa: BLE001 - re-raised by result()
                self._value, self._error = None, err

        def result(self):
            if self._error is not None:
                raise self._error
            return self._value

    def submit(self, fn, *args, **kwargs):
        return self._Done(fn, args, kwargs)


def _wait_first(futures: set, kind: str) -> tuple[set, set]:
    if kind == "serial":
        return set(futures), set()
    if kind == "dask":
        from distributed import wait
    else:
        from concurrent.futures import wait
    done, pending = wait(futures, return_when="FIRST_COMPLETED")
    return set(done), set(pending)


# ---- the batch -----------------------------------------------------------------------------


def fit_many(
    config,
    spectra_source,
    *,
    output_dir,
    executor=None,
    seed: int = 0,
    num_warmup: int = _FIT_DEFAULTS["num_warmup"],
    num_samples: int = _FIT_DEFAULTS["num_samples"],
    num_chains: int = _FIT_DEFAULTS["num_chains"],
    parallel_chains: int | None = None,
    threads_per_chain: int | None = None,
    backend: str = "auto",
    fit_kwargs: Mapping | None = None,
    scale_kwargs: Mapping | None = None,
    rhat_max: float = 1.01,
    min_ess_per_chain: float = 100,
    resume: bool = True,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    fits: bool = True,
) -> BatchResult:
    """Fit every object of ``spectra_source`` with ``config``; write per-object outputs and a
    merged catalogue to ``output_dir``.

    Parameters
    ----------
    config : Configuration or path
        The fit's configuration, or its YAML file.
    spectra_source : iterable or path
        Tuples ``(object_id, spectra, redshift)`` with ``spectra`` a ``Spectra``, a
        ``Spectrum``, a list of them, or a zero-argument callable returning one (called in the
        worker; it must pickle for a process pool); ``redshift`` may be None with a
        ``Spectra``. Or a catalogue CSV (:func:`read_catalogue`).
    output_dir : path
        Created if missing.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        None fits in this process, one object after another.
    seed : int
        The batch's seed; object ``i`` uses :func:`object_seed` ``(seed, id)``.
    num_warmup, num_samples, num_chains, parallel_chains, threads_per_chain, backend
        As in :meth:`~unite_stan.model.ModelBuilder.fit`. ``threads_per_chain x
        parallel_chains x`` (tasks at once per host) is clamped to the host's cores, with a
        warning naming the numbers; by default one thread per chain.
    fit_kwargs : mapping, optional
        Other keywords of ``ModelBuilder.fit`` (``adapt_delta``, ``pilot``…).
    scale_kwargs : mapping, optional
        Keywords of ``Spectra.compute_scales`` (``line_mask_width``, ``box_width``…).
    rhat_max, min_ess_per_chain : float
        Convergence thresholds (:func:`unite_stan.diagnostics.check_convergence`); an object
        that misses one is ``poor_convergence``, with the problems in its record. An object
        none of whose chains describes its data (chi^2 per pixel of the model at each chain's
        median above ``1 + MISFIT_SIGMAS sqrt(2 / N)`` for N fitted pixels: every chain in a
        wrong mode, lines missing from the configuration, or underestimated errors) is
        ``misfit``; its record's ``diagnostics`` hold ``chi2_per_pixel`` (the best chain's),
        ``chi2_per_pixel_chains``, ``chi2_limit`` and ``pixels``. (Chains in different modes
        that each fit are ``poor_convergence``: the median of all draws together may misfit.)
    resume : bool
        Skip objects whose outputs are complete and valid (:func:`is_complete`); failed objects
        are fitted again. False refits everything.
    progress : bool
        A progress bar over objects (tqdm: rate and ETA).
    shard : (k, n), optional
        Fit only the objects whose position in the source is ``k`` modulo ``n`` (``0 <= k <
        n``): ``n`` independent jobs (a job array) share one source and one output directory.
        Ids are checked for duplicates over the whole source.
    fits : bool
        Write each object's ``<id>.fits`` (``make_hdul``: the parameter table and the spectra
        tables with the model's percentiles at every pixel). False writes only the netCDF file
        and the status record, for surveys that need the catalogue: an eighth to a sixth less
        time per object for the tutorial's structure (docs/batch.md). The draws, and so the
        catalogue, are the same either way. With ``resume``, an object finished without its
        FITS file is fitted again (same seed, same draws) when ``fits`` is True, which is how
        to get the FITS files of chosen objects later; a refit with ``fits=False`` removes the
        object's FITS file of an earlier run, which the new status record cannot vouch for.

    Returns
    -------
    BatchResult
    """
    from unite_stan.config import Configuration
    from unite_stan.stan.backends import get_backend

    if isinstance(config, (str, os.PathLike)):
        config = Configuration.load(config)
    if not isinstance(config, Configuration):
        raise TypeError(
            f"config={config!r}: pass a unite_stan.config.Configuration or the path of its YAML"
        )
    try:
        payload: Any = config.to_yaml()
    except TypeError:  # e.g. a SimpleDisperser: ship the object itself
        payload = config
    for name, value, least in (
        ("num_warmup", num_warmup, 0),
        ("num_samples", num_samples, 1),
        ("num_chains", num_chains, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name}={value!r}: must be an integer >= {least}")
    kind = _kind(executor)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output_dir {out} exists and is not a directory")
    if isinstance(spectra_source, (str, os.PathLike)):
        source_file = Path(spectra_source).resolve()
        if source_file in {(out / f"{CATALOGUE}{ext}").resolve() for ext in (".csv", ".fits")}:
            raise ValueError(
                f"the catalogue {spectra_source} would be overwritten by the merged catalogue "
                f"{out / CATALOGUE}.csv: rename it or choose another output directory"
            )
    out.mkdir(parents=True, exist_ok=True)
    slots, cores = _slots(executor, kind)
    kw = {
        **dict(fit_kwargs or {}),
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "num_chains": num_chains,
        "parallel_chains": parallel_chains,
        "threads_per_chain": threads_per_chain,
        "backend": get_backend(backend).name,
    }
    kw = _clamp(kw, slots, cores)
    job = {
        "config": payload,
        "output_dir": str(out),
        "seed": int(seed),
        "fit_kwargs": kw,
        "scale_kwargs": dict(scale_kwargs or {}),
        "rhat_max": float(rhat_max),
        "min_ess_per_chain": float(min_ess_per_chain),
        "fits": bool(fits),
    }
    tasks = [_guard_inputs(task, out) for task in _tasks(spectra_source)]
    if shard is not None:
        k, n = _check_shard(shard)
        tasks = tasks[k::n]
    _clean_temporary(out, {t.id for t in tasks}, catalogue=shard is None)
    statuses: dict[str, dict] = {}
    skipped, todo, changed = [], [], []
    for task in tasks:
        if resume and is_complete(out, task.id, fits=fits):
            record = json.loads((out / f"{task.id}.status.json").read_text())
            if record.get("inputs") == inputs_digest(task, job):
                statuses[task.id] = record
                skipped.append(task.id)
                continue
            changed.append(task.id)
        todo.append(task)
    if changed:
        shown = ", ".join(changed[:10]) + (
            f" and {len(changed) - 10} more" if len(changed) > 10 else ""
        )
        warnings.warn(
            f"{len(changed)} finished object(s) in {out} were fitted from other inputs "
            "(configuration, settings, seed, redshift or spectra) and are fitted again: "
            f"{shown}",
            UserWarning,
            stacklevel=2,
        )
    compiled: list[str] = []
    built_codes: set[str] = set()

    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), initial=len(skipped), unit="spectrum", disable=not progress)
    try:
        # in-process, the first object's program compiles as it is fitted (its chains in
        # parallel as the host allows; the draws do not depend on it). With workers, every
        # object goes to them at once: a worker that finds its program not compiled hands it
        # back (needs_compile) and the parent compiles it, once, while the others wait
        while todo and kind == "serial":
            task = todo.pop(0)
            with _counting_builds() as counter:
                record = _run_task(task, job, forbid_builds=False)
            compiled.extend(counter)
            statuses[task.id] = record
            bar.update(1)
            if record["status"] != "failed":
                break
        runner = _Serial() if kind == "serial" else executor
        queue = list(todo)
        window = max(2, 4 * slots)
        pending: dict[Any, _Task] = {}
        while queue or pending:
            while queue and len(pending) < window:
                task = queue.pop(0)
                # dask: pure=False, or a task handed back (needs_compile) and submitted again
                # would get the first submission's cached result
                extra = {"pure": False} if kind == "dask" else {}
                pending[runner.submit(_run_task, task, job, **extra)] = task
            done, _ = _wait_first(set(pending), kind)
            for future in done:
                task = pending.pop(future)
                try:
                    record = future.result()
                except Exception as err:  # noqa: BLE001 - a lost worker fails its object only
                    record = {
                        "id": task.id,
                        "status": "failed",
                        "error": f"the worker running this object failed: {type(err).__name__}: "
                        f"{err}",
                    }
                    _write_atomic(
                        out / f"{task.id}.status.json", json.dumps(record, indent=1).encode()
                    )
                if record["status"] == "needs_compile":
                    compiled.extend(_compile_in_parent(record, built_codes))
                    queue.insert(0, task)
                    continue
                statuses[task.id] = record
                bar.update(1)
    finally:
        bar.close()
    catalogue = merge(out)
    return BatchResult(statuses, skipped, compiled, catalogue, kw)


def _guard_inputs(task: _Task, out: Path) -> _Task:
    """The task, failed if its outputs would overwrite its own spectrum file (a spectrum in
    the output directory whose name is ``<id>.fits``)."""
    if not isinstance(task.source, CatalogueRow) or task.error:
        return task
    source = Path(task.source.path).resolve()
    outputs = {(out / f"{task.id}{ext}").resolve() for ext in (".nc", ".fits", ".status.json")}
    if source not in outputs:
        return task
    return dataclasses.replace(
        task,
        error=f"the outputs of {task.id!r} would overwrite its spectrum file {task.source.path}: "
        "choose another output directory (or, with 'unite-stan fit', another --id)",
    )


def _check_shard(shard) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in shard)
        valid = 0 <= k < n and tuple(shard) == (k, n)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"shard={shard!r}: must be (k, n) with integers 0 <= k < n")
    return k, n


@contextlib.contextmanager
def _counting_builds():
    """Collect the keys of the programs built in this block (cache entries with a program)."""
    from unite_stan.stan import cache

    built: list[str] = []
    original = cache.build_entry

    def counting(backend, key, code, build, **kwargs):
        record, was_built = original(backend, key, code, build, **kwargs)
        if was_built and code is not None:
            built.append(key)
        return record, was_built

    cache.build_entry = counting
    try:
        yield built
    finally:
        cache.build_entry = original


def _compile_in_parent(record: dict, built_codes: set[str]) -> list[str]:
    from unite_stan.stan.backends import get_backend

    code = record.get("code")
    if code is None:
        raise RuntimeError(
            "a worker lacks the backend's own compiled parts (shim or header) in its cache: "
            "point every worker's UNITE_STAN_CACHE at the parent's cache"
        )
    if code in built_codes:
        return []
    built_codes.add(code)
    with _counting_builds() as counter:
        get_backend(record["backend"]).compile(code, progress=False)
    return list(counter)


# ---- merge ---------------------------------------------------------------------------------


def merge(output_dir) -> Path:
    """One catalogue of every status record in ``output_dir``: ``catalogue.fits`` and
    ``catalogue.csv``, one row per object (sorted by id).

    Columns: ``id``, ``status``, ``error``, ``redshift`` (the systemic redshift the object was
    fitted at: redshift parameters such as ``z_narrow`` are offsets from it), ``rhat_max``,
    ``ess_bulk_min``, ``chi2_per_pixel``, ``divergences``,
    then ``<parameter>_p16``, ``_p50``, ``_p84`` of every parameter in physical units (the FITS
    columns carry the units; NaN where an object lacks the parameter or failed).

    Returns
    -------
    Path
        The FITS catalogue.
    """
    from astropy.table import Table

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not an output directory")
    if not out.is_dir():
        raise FileNotFoundError(f"output directory {out} does not exist")
    records = []
    for path in sorted(out.glob("*.status.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError as err:
            raise ValueError(f"status record {path} is unreadable: {err}") from err
        if not isinstance(record, dict) or not {"id", "status"} <= set(record):
            raise ValueError(
                f"{path} is not a status record (it needs 'id' and 'status'): remove it or "
                "fit the object again"
            )
        records.append(record)
    records.sort(key=lambda r: r["id"])
    units: dict[str, str] = {}
    for record in records:
        for name, values in record.get("parameters", {}).items():
            units.setdefault(name, values.get("unit", ""))
    table = Table()
    table["id"] = [r["id"] for r in records] or np.array([], dtype=str)
    table["status"] = [r["status"] for r in records] or np.array([], dtype=str)
    table["error"] = [r.get("error", "") for r in records] or np.array([], dtype=str)
    table["redshift"] = np.array(
        [np.nan if r.get("redshift") is None else r["redshift"] for r in records], dtype=float
    )
    for key in ("rhat_max", "ess_bulk_min", "chi2_per_pixel"):
        table[key] = [r.get("diagnostics", {}).get(key, np.nan) for r in records]
    table["divergences"] = [r.get("diagnostics", {}).get("divergences", -1) for r in records]
    for name, unit in units.items():
        for p in PERCENTILES:
            column = [r.get("parameters", {}).get(name, {}).get(f"p{p}", np.nan) for r in records]
            table[f"{name}_p{p}"] = np.array(column, dtype=float)
            if unit:
                table[f"{name}_p{p}"].unit = unit
    fits_path = out / f"{CATALOGUE}.fits"
    buffer = io.BytesIO()
    table.write(buffer, format="fits")
    _write_atomic(fits_path, buffer.getvalue())
    text = io.StringIO()
    table.write(text, format="ascii.csv")
    _write_atomic(out / f"{CATALOGUE}.csv", text.getvalue().encode())
    return fits_path
