"""The ``unite-stan`` command: fit, batch, merge, render, info and cache (see docs/batch.md)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

__all__ = ["main"]


def _sampler_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="batch seed (default 0)")
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--backend", default="auto", choices=("auto", "embedded", "cmdstan"))
    parser.add_argument("--no-resume", action="store_true", help="refit finished objects too")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar (for logs)")
    parser.add_argument(
        "--no-fits",
        action="store_true",
        help="write no <id>.fits (make_hdul's tables): the netCDF file, status and catalogue only",
    )


def _spectrum_options(parser: argparse.ArgumentParser, loaders, standin: bool = False) -> None:
    parser.add_argument(
        "--loader", choices=loaders, default=None, help="default: recognised from the file"
    )
    parser.add_argument(
        "--redshift",
        type=float,
        default=None,
        help="systemic redshift (default: the file's, where it carries one: SDSS SPECOBJ Z, "
        "DESI REDSHIFTS Z, a table's REDSHIFT keyword"
        + ("; 0 for the stand-in spectrum)" if standin else ")"),
    )
    parser.add_argument(
        "--index", type=int, default=0, help="which spectrum of a DESI file (default 0)"
    )


def _spectrum_row(args):
    """The command's spectrum as a catalogue row and its redshift; the loader and redshift
    are read from the file where the command line does not give them, and said so."""
    from unite_stan.batch import CatalogueRow, _read_from_file, _Task, detect_loader

    if args.index < 0:
        raise ValueError(f"--index {args.index}: must be >= 0")
    loader = args.loader
    if loader is None:  # said before the redshift is looked for, which can fail
        loader = detect_loader(args.spectrum)
        print(
            f"unite-stan {args.command}: loader {loader} (recognised from the file)",
            file=sys.stderr,
        )
    row = CatalogueRow(str(args.spectrum), loader, index=args.index)
    give = "--redshift Z (the systemic redshift the lines' redshift priors are relative to)"
    task, read = _read_from_file(_Task(args.command, row, args.redshift), give)
    if "redshift" in read:
        print(
            f"unite-stan {args.command}: redshift {task.redshift:.8g} (from the file's "
            f"{read['redshift']}; --redshift to choose another)",
            file=sys.stderr,
        )
    return task.source, task.redshift


def _parser() -> argparse.ArgumentParser:
    from unite_stan.batch import LOADERS

    parser = argparse.ArgumentParser(prog="unite-stan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="fit one spectrum file")
    fit.add_argument("config", type=Path, help="configuration YAML")
    fit.add_argument("spectrum", type=Path, help="spectrum file")
    _spectrum_options(fit, LOADERS)
    fit.add_argument("--id", default=None, help="object id (default: the file's stem)")
    _sampler_options(fit)

    batch = commands.add_parser("batch", help="fit every row of a catalogue CSV")
    batch.add_argument("config", type=Path, help="configuration YAML")
    batch.add_argument("catalogue", type=Path, help="CSV: id, path, loader, redshift[, name]")
    batch.add_argument("--workers", type=int, default=1, help="local worker processes")
    batch.add_argument("--scheduler", default=None, help="dask scheduler address")
    batch.add_argument(
        "--shard", default=None, help="K/N: fit objects K, K+N, K+2N… (one job of an array)"
    )
    _sampler_options(batch)

    merge = commands.add_parser("merge", help="merge status records into the catalogue")
    merge.add_argument("output", type=Path)

    render = commands.add_parser("render", help="print the Stan program and a data summary")
    render.add_argument("config", type=Path, help="configuration YAML")
    render.add_argument(
        "spectrum",
        type=Path,
        nargs="?",
        default=None,
        help="default: a stand-in spectrum covering every line and region",
    )
    _spectrum_options(render, LOADERS, standin=True)

    commands.add_parser("info", help="backends, compile cache and compiler")

    cache = commands.add_parser("cache", help="list or clear the compile cache")
    cache.add_argument("action", choices=("list", "clear"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error)."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `unite-stan cache list | head`: the reader has gone, say nothing
        _silence_stdout()
        return 1
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"unite-stan {args.command}: {err}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as err:  # no CmdStan, an unreachable scheduler, a full disk
        print(f"unite-stan {args.command}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"unite-stan {args.command}: interrupted; finished objects are kept: run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 130


def _silence_stdout() -> None:
    """Point stdout at the null device so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured)
        pass
    finally:
        os.close(devnull)


def _fit_kwargs(args) -> dict:
    return {
        "output_dir": args.output,
        "seed": args.seed,
        "num_warmup": args.num_warmup,
        "num_samples": args.num_samples,
        "num_chains": args.num_chains,
        "backend": args.backend,
        "resume": not args.no_resume,
        "progress": not args.quiet,
        "fits": not args.no_fits,
    }


def _summary(result) -> int:
    counts = {s: result.count(s) for s in ("ok", "poor_convergence", "misfit", "failed")}
    print(
        f"{len(result.statuses)} objects: {counts['ok']} ok, {counts['poor_convergence']} poor "
        f"convergence, {counts['misfit']} misfit, {counts['failed']} failed "
        f"({len(result.skipped)} already done); "
        f"catalogue {result.catalogue}"
    )
    failed = [
        (oid, r.get("error", "")) for oid, r in result.statuses.items() if r["status"] == "failed"
    ]
    for oid, error in failed[:_SHOWN_FAILURES]:
        print(f"  failed: {oid}: {error}", file=sys.stderr)
    if len(failed) > _SHOWN_FAILURES:
        print(
            f"  … and {len(failed) - _SHOWN_FAILURES} more failed (their errors are in the "
            "catalogue's error column and each <id>.status.json)",
            file=sys.stderr,
        )
    return 1 if counts["failed"] else 0


#: Failed objects whose error the summary prints.
_SHOWN_FAILURES = 10


def _cmd_fit(args) -> int:
    from unite_stan.batch import fit_many

    if not args.config.exists():  # said before anything about the spectrum
        raise FileNotFoundError(f"configuration file {args.config} does not exist")
    object_id = args.id or args.spectrum.name.split(".")[0]
    row, redshift = _spectrum_row(args)
    result = fit_many(args.config, [(object_id, row, redshift)], **_fit_kwargs(args))
    return _summary(result)


def _cmd_batch(args) -> int:
    from unite_stan.batch import exit_with_parent, fit_many

    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: must be >= 1")
    kwargs = _fit_kwargs(args)
    if args.shard is not None:
        match = re.fullmatch(r"(\d+)/(\d+)", args.shard)
        if not match:
            raise ValueError(f"--shard {args.shard}: must be K/N, e.g. 0/8")
        kwargs["shard"] = (int(match[1]), int(match[2]))
    if args.scheduler:
        from distributed import Client

        with Client(args.scheduler) as client:
            return _summary(fit_many(args.config, args.catalogue, executor=client, **kwargs))
    if args.workers == 1:
        return _summary(fit_many(args.config, args.catalogue, **kwargs))
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=args.workers, initializer=exit_with_parent) as pool:
        return _summary(fit_many(args.config, args.catalogue, executor=pool, **kwargs))


def _cmd_merge(args) -> int:
    from unite_stan.batch import merge

    path = merge(args.output)
    print(f"catalogue: {path} and {path.with_suffix('.csv')}")
    return 0


_STANDIN_R = 1000.0


def _standin_spectra(config, redshift: float):
    """Spectra that cover every line and continuum region of ``config`` at ``redshift``: one
    per disperser of the configuration (a ``SimpleDisperser`` 'stand_in' at R = 1000 if it
    names none), log-spaced pixels two per resolution element, a flat continuum of 1 with a
    peak of 5 at each line, errors 0.1 (1e-17 erg/s/cm2/A); for ``render`` without a file."""
    import astropy.units as u
    import numpy as np

    from unite_stan.instrument.generic import SimpleDisperser
    from unite_stan.spectrum import Spectra, from_edges

    centres = config.lines.centers.to_value(u.AA)
    low, high = list(centres * 0.97), list(centres * 1.03)
    for region in config.continuum or []:
        low.append((region.low * region.unit).to_value(u.AA))
        high.append((region.high * region.unit).to_value(u.AA))
    if not low:
        raise ValueError(
            "the configuration has no lines and no continuum regions: nothing to render"
        )
    start, stop = min(low) * (1 + redshift), max(high) * (1 + redshift)
    n_pix = int(np.ceil(np.log(stop / start) * 2 * _STANDIN_R))
    edges = np.geomspace(start, stop, n_pix + 1)
    middle = 0.5 * (edges[1:] + edges[:-1])
    flux = np.ones(n_pix)
    for centre in centres * (1 + redshift):
        flux += 5.0 * np.exp(-0.5 * ((middle - centre) / (centre / _STANDIN_R / 2.355)) ** 2)
    unit = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    dispersers = (
        config.dispersers.dispersers
        if config.dispersers is not None
        else [SimpleDisperser(middle * u.AA, R=_STANDIN_R, name="stand_in")]
    )
    spectra = [
        from_edges(
            edges[:-1] * u.AA, edges[1:] * u.AA, flux * unit, np.full(n_pix, 0.1) * unit, d,
            name=d.name,
        )
        for d in dispersers
    ]  # fmt: skip
    return Spectra(spectra, redshift=redshift)


def _cmd_render(args) -> int:
    from unite_stan.batch import _spectra_of, _Task
    from unite_stan.config import Configuration
    from unite_stan.model import ModelBuilder
    from unite_stan.spectrum.spectra import is_redshift

    config = Configuration.load(args.config)
    if args.spectrum is None:
        if args.loader is not None:
            raise ValueError(f"--loader {args.loader} needs a spectrum file to read")
        redshift = 0.0 if args.redshift is None else args.redshift
        if not is_redshift(redshift):
            raise ValueError(f"--redshift {redshift}: must be a finite number > -1")
        spectra = _standin_spectra(config, redshift)
        standin = (
            "one stand-in spectrum per disperser of the configuration "
            f"({', '.join(s.name for s in spectra)}), pixels log-spaced at R = {_STANDIN_R:g}"
            if config.dispersers is not None
            else f"one stand-in spectrum (SimpleDisperser 'stand_in', R = {_STANDIN_R:g})"
        ) + f" at z = {redshift:g} covering every line and continuum region"
        print(
            f"unite-stan render: no spectrum given: the program for {standin}. A real "
            "spectrum's coverage can drop lines and regions and sets the data's sizes: "
            "unite-stan render config.yaml spectrum.fits",
            file=sys.stderr,
        )
    else:
        standin = None
        spectra = _spectra_of(_Task("render", *_spectrum_row(args)), config)
    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont)
    program, _ = ModelBuilder(lines, cont, spectra).build()
    print(program.code)
    print("// data:" if standin is None else f"// data, for {standin}:")
    for name, value in program.data.items():
        shape = getattr(value, "shape", ())
        print(f"//   {name}: {'scalar' if not shape else 'x'.join(map(str, shape))}")
    return 0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _cmd_info(args) -> int:
    import os

    from unite_stan.stan.backends import cmdstan_available
    from unite_stan.stan.cache import ENV_VAR, cache_root

    root = cache_root()
    found, reason = cmdstan_available()
    print("backends: embedded (httpstan's toolchain)" + (", cmdstan" if found else ""))
    if not found:
        print(f"  cmdstan: not found ({reason})")
    compiler = os.environ.get("CXX", "g++")
    print(f"compiler: {compiler} ({shutil.which(compiler) or 'not on PATH'})")
    source = f"set by {ENV_VAR}" if os.environ.get(ENV_VAR) else f"default; {ENV_VAR} not set"
    size = _size(root) if root.is_dir() else 0
    print(f"cache: {root} ({source}); {size / 1e6:.1f} MB")
    return 0


def _cmd_cache(args) -> int:
    from unite_stan.stan.cache import PROGRAM_FILE, cache_root

    root = cache_root()
    # entries only: a build's working directory (.<key>.tmp-*) is not one
    entries = (
        sorted(p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith("."))
        if root.is_dir()
        else []
    )
    if args.action == "list":
        for entry in entries:
            kind = "model" if (entry / PROGRAM_FILE).exists() else "backend part"
            print(f"{entry.parent.name}/{entry.name}  {kind}  {_size(entry) / 1e6:.1f} MB")
        print(f"{len(entries)} entries in {root}")
        return 0
    return _clear_cache(root, entries)


def _clear_cache(root, entries) -> int:
    """Remove every entry not being built right now (its lock free; a build holds it), with
    its key's working directories left by crashed builds. Lock files stay: deleting one that
    another process has just opened would let two builds of one key run at once."""
    import filelock

    removed, busy = 0, []
    try:
        for entry in entries:
            lock = filelock.FileLock(str(entry.parent / f"{entry.name}.lock"))
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                busy.append(entry)
                continue
            try:
                shutil.rmtree(entry)
                for stale in entry.parent.glob(f".{entry.name}.tmp-*"):
                    shutil.rmtree(stale, ignore_errors=True)
            finally:
                lock.release()
            removed += 1
    except OSError as err:
        print(
            f"unite-stan cache: cannot clear {root}: {err.strerror or err} "
            f"({err.filename or root}); removed {removed} of {len(entries)} entries",
            file=sys.stderr,
        )
        return 1
    print(f"removed {removed} entries from {root}")
    for entry in busy:
        print(f"kept {entry.parent.name}/{entry.name}: another process is building it")
    return 0


_COMMANDS = {
    "fit": _cmd_fit,
    "batch": _cmd_batch,
    "merge": _cmd_merge,
    "render": _cmd_render,
    "info": _cmd_info,
    "cache": _cmd_cache,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
