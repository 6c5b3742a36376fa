"""Content-hashed cache of compiled Stan programs, shared by all backends and processes.

Layout: ``<root>/<backend>/<hash[:16]>/`` holds the program (``model.stan``), the artifact and
``build.json`` (a :class:`~unite_stan.stan.backends.base.BuildRecord`). The key hashes the
program text, the backend identity and the build options; data never enter it, so new data
never recompile.

A per-entry file lock makes concurrent processes build a program once. Builds happen in a
temporary directory beside the entry, renamed into place only when complete, so no process
ever sees a half-written artifact and a crashed build leaves nothing that looks valid. Records
hold absolute paths, but a moved cache (copied, mounted elsewhere) still serves its entries.

Damaged entries heal. The record holds the artifact's size and sha256, filled in here after
the build. Before an entry is handed out, its artifact's size is compared with the record on
every call (one ``stat``: catches a truncated, emptied or missing artifact), and its content
hash is compared once per process and file version (size, modification time, inode), before
anything loads it: a truncated shared library would crash the process that loads it. An entry
whose record is unreadable, lacks the hash (written by an older unite_stan) or does not match
its artifact is rebuilt, with a one-line warning.

Cost of the check (measured, 2 cores, warm page cache): the content hash reads about 1 GB/s,
so the first check in a process takes ~40 ms for a model library (~30 MB, embedded backend),
~2 ms for the embedded shim, and 0.8 s (1.7 s from disk) for the embedded backend's 0.8 GB
precompiled header, which is therefore looked up only when a model is compiled (20-60 s); later
checks of an unchanged file cost a ``stat`` (~50 us). Loading a cached model takes ~90 ms in a
new process, ~30 ms of it hashing. (A file rewritten in place at the same size within the file
system's timestamp resolution of a check is noticed only by the next process.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import filelock
import platformdirs

from unite_stan.progress import report, show_bar
from unite_stan.stan.backends.base import BuildRecord

__all__ = [
    "ENV_VAR",
    "PROGRAM_FILE",
    "RECORD_FILE",
    "CacheError",
    "NotCompiledError",
    "build_entry",
    "builds_forbidden",
    "cache_root",
    "canonical_program",
    "entry_dir",
    "file_sha256",
    "lookup",
    "program_hash",
]

ENV_VAR = "UNITE_STAN_CACHE"
PROGRAM_FILE = "model.stan"
RECORD_FILE = "build.json"


class CacheError(OSError):
    """The compile cache cannot be written where it is; the message names ``UNITE_STAN_CACHE``."""


class NotCompiledError(RuntimeError):
    """A build was needed where builds are forbidden (:func:`builds_forbidden`, e.g. in a batch
    worker). ``backend`` and ``code`` (the program, or None for the backend's own parts) say what
    the process that may compile has to build."""

    def __init__(self, message: str, backend: str = "", code: str | None = None):
        super().__init__(message, backend, code)
        self.backend = backend
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


_forbidden = threading.local()


@contextlib.contextmanager
def builds_forbidden() -> Iterator[None]:
    """Within this block (in this thread), :func:`build_entry` raises :class:`NotCompiledError`
    instead of building a missing entry: a batch worker loads cached builds and never compiles."""
    previous = getattr(_forbidden, "on", False)
    _forbidden.on = True
    try:
        yield
    finally:
        _forbidden.on = previous


def cache_root() -> Path:
    """Root of the cache: ``$UNITE_STAN_CACHE`` if set, else the user cache directory."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("unite_stan"))


def canonical_program(code: str) -> str:
    """Program text with line endings and trailing blanks normalised.

    Edits that cannot change the program's meaning (CRLF, trailing spaces, final newlines)
    then map to the same cache entry.
    """
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"


def program_hash(code: str, identity: str, options: Mapping) -> str:
    """sha256 (hex) of the canonical program, the backend identity and the build options."""
    payload = json.dumps(
        {"program": canonical_program(code), "identity": identity, "options": dict(options)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def entry_dir(backend: str, key: str) -> Path:
    """Directory of the cache entry for ``key`` built by ``backend``."""
    return cache_root() / backend / key[:16]


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's content."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# Artifacts whose content hash matched their record in this process, with the (size, mtime,
# inode) they had then: an unchanged file is not hashed again.
_verified: dict[str, tuple[int, int, int]] = {}
_verified_lock = threading.Lock()


def _check_entry(directory: Path, key: str) -> tuple[BuildRecord | None, str]:
    """The entry's record if the entry is complete and intact; else ``None`` and what is wrong
    (``''`` when there is no entry at all)."""
    if not directory.is_dir():
        if directory.exists() or directory.is_symlink():
            return None, "the entry is a file, not a directory"
        return None, ""
    try:
        record = BuildRecord.from_json((directory / RECORD_FILE).read_text())
    except FileNotFoundError:
        return None, f"{RECORD_FILE} is missing"
    except (OSError, ValueError, UnicodeDecodeError) as err:
        return None, f"{RECORD_FILE} is unreadable ({err})"
    if record.program_hash != key:
        return None, f"{RECORD_FILE} is for another program ({record.program_hash[:16]})"
    if not record.artifact_sha256:
        return None, "its build record has no artifact hash (written by an older unite_stan)"
    artifact = _in_entry(record.artifact, directory)
    if str(artifact) != record.artifact:
        record = dataclasses.replace(record, artifact=str(artifact))
    try:
        stat = artifact.stat()
    except OSError:
        return None, f"{artifact.name} is missing"
    if stat.st_size != record.artifact_size:
        return None, (
            f"{artifact.name} has {stat.st_size} bytes where the build record says "
            f"{record.artifact_size}"
        )
    version = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    with _verified_lock:
        known = _verified.get(str(artifact)) == version
    if not known:
        try:
            digest = file_sha256(artifact)
        except OSError as err:
            return None, f"{artifact.name} is unreadable ({err})"
        if digest != record.artifact_sha256:
            return None, f"{artifact.name}'s content hash differs from its build record"
        with _verified_lock:
            _verified[str(artifact)] = version
    return record, ""


def _in_entry(artifact: str, directory: Path) -> Path:
    """Where the recorded artifact is now: records hold absolute paths, and the entry may have
    been moved since (a cache copied elsewhere, mounted at another path, or linked)."""
    parts = Path(artifact).parts
    if directory.name not in parts:
        return Path(artifact)
    last = len(parts) - 1 - parts[::-1].index(directory.name)
    return directory.joinpath(*parts[last + 1 :])


def lookup(key: str, backend: str | None = None) -> BuildRecord | None:
    """The build record of a complete, intact cache entry for ``key``, or ``None``.

    Parameters
    ----------
    key : str
        A :func:`program_hash`.
    backend : str, optional
        Look only among this backend's entries; by default every backend's.
    """
    root = cache_root()
    backends = [backend] if backend else sorted(p.name for p in root.glob("*") if p.is_dir())
    for name in backends:
        record, _ = _check_entry(root / name / key[:16], key)
        if record is not None:
            return record
    return None


def build_entry(
    backend: str,
    key: str,
    code: str | None,
    build: Callable[[Path, Path], BuildRecord],
    *,
    progress: bool = True,
    description: str | None = None,
) -> tuple[BuildRecord, bool]:
    """Return the cache entry for ``key``, building it first if it is missing or damaged.

    Every build is announced (:func:`unite_stan.progress.report`, stage ``'compile'``) when it
    starts and when it ends, whatever ``progress`` says.

    Parameters
    ----------
    backend : str
        Backend name (first level of the cache layout).
    key : str
        :func:`program_hash` of the program, identity and options.
    code : str or None
        The program, written to ``model.stan`` in the entry before ``build`` runs (``None``
        for entries that are not Stan programs).
    build : callable
        ``build(workdir, final_dir) -> BuildRecord``: builds into ``workdir`` and returns the
        record, whose ``artifact`` must already point into ``final_dir`` (where ``workdir`` is
        renamed when the build succeeds). The artifact's size and hash are filled in here.
    progress : bool
        Show the build's elapsed time live while it runs (only on a terminal; see
        :func:`unite_stan.progress.show_bar`).
    description : str, optional
        What is built, for messages; default ``'Stan program <hash[:16]>'``.

    Returns
    -------
    record : BuildRecord
    built : bool
        Whether this call built the entry (``False`` when it was already cached).

    Raises
    ------
    CacheError
        If the entry cannot be written (the message names ``UNITE_STAN_CACHE``).
    NotCompiledError
        If the entry is missing or damaged within :func:`builds_forbidden`.
    """
    final = entry_dir(backend, key)
    what = description or f"Stan program {key[:16]}"
    record, damage = _check_entry(final, key)
    if record is not None:
        return record, False
    if getattr(_forbidden, "on", False):
        state = f"is damaged ({damage})" if damage else "is not in the cache"
        raise NotCompiledError(
            f"the build of {what} ({backend} backend) {state} at {final}, and this process may "
            "not compile (a batch worker): the parent process compiles each structure before "
            "fanning out; check that every worker sees the same UNITE_STAN_CACHE "
            f"(here {cache_root()})",
            backend,
            code,
        )

    with _cache_writes(final.parent):
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(final.parent / f"{final.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            report("compile", f"Waiting for another process compiling {what}…")
            lock.acquire()
    try:
        record, damage = _check_entry(final, key)
        if record is not None:
            return record, False
        if damage:
            warnings.warn(
                f"unite_stan: the cached build of {what} in {final} is damaged ({damage}); "
                "rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
        with _cache_writes(final.parent):
            # Holding the lock, nobody else builds this key: leftovers are from crashed builds.
            for stale in final.parent.glob(f".{final.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()  # a file (or link) where the entry belongs
            workdir = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))

        report("compile", f"Compiling {what} ({backend} backend; this takes 20-60 s, once)…")
        start = time.perf_counter()
        try:
            if code is not None:
                with _cache_writes(final.parent):
                    (workdir / PROGRAM_FILE).write_text(code)
            with _elapsed_time(f"Compiling {what}", progress):
                record = build(workdir, final)
            record = _with_artifact_hash(record, workdir, final)
            with _cache_writes(final.parent):
                (workdir / RECORD_FILE).write_text(record.to_json())
                # mkdtemp makes the directory private; entries are as readable as any cache file.
                workdir.chmod(0o755)
                os.rename(workdir, final)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        report(
            "compile",
            f"Compiled {what} in {time.perf_counter() - start:.0f} s (cached in {final})",
        )
        return record, True
    finally:
        lock.release()


def _with_artifact_hash(record: BuildRecord, workdir: Path, final: Path) -> BuildRecord:
    """``record`` with the size and sha256 of its artifact (still in ``workdir``)."""
    built = workdir / Path(record.artifact).relative_to(final)
    if not built.is_file():
        raise RuntimeError(f"the build of {final.name} did not produce {built.name}")
    record = dataclasses.replace(
        record, artifact_size=built.stat().st_size, artifact_sha256=file_sha256(built)
    )
    stat = built.stat()  # renaming the directory keeps the file's size, mtime and inode
    with _verified_lock:
        _verified[record.artifact] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return record


@contextlib.contextmanager
def _cache_writes(directory: Path) -> Iterator[None]:
    """Turn an OSError of the cache's own file operations into a :class:`CacheError` that says
    which setting chose the cache and how to move it."""
    try:
        yield
    except OSError as err:
        raise _cache_error(err, directory) from err


def _cache_error(err: OSError, directory: Path) -> CacheError:
    root = cache_root()
    source = (
        f"set by {ENV_VAR}" if os.environ.get(ENV_VAR) else f"the default; {ENV_VAR} is not set"
    )
    not_directory = next(
        (p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None
    )
    blocked = Path(err.filename) if isinstance(err, IsADirectoryError) and err.filename else None
    if not_directory is not None:
        reason = f"{not_directory} is a file, not a directory"
    elif blocked is not None and blocked.suffix == ".lock":
        return CacheError(
            f"the Stan compile cache {root} ({source}) has a directory where its lock file "
            f"belongs: {blocked}; remove that directory (nothing in it is the cache's)"
        )
    elif isinstance(err, PermissionError):
        reason = f"no permission to write {err.filename or directory}"
    else:
        reason = f"{err.strerror or err} ({err.filename or directory})"
    return CacheError(
        f"cannot write the Stan compile cache {root} ({source}): {reason}. "
        f"Set {ENV_VAR} to a directory you can write, e.g. export {ENV_VAR}=$HOME/unite_stan_cache"
    )


@contextlib.contextmanager
def _elapsed_time(description: str, progress: bool) -> Iterator[None]:
    """On a terminal, a line showing how long the block has run, refreshed every second."""
    if not show_bar(progress):
        yield
        return
    from tqdm.auto import tqdm

    stop = threading.Event()
    with tqdm(desc=description, bar_format="{desc}: {elapsed}", leave=False) as bar:

        def tick():
            while not stop.wait(1.0):
                bar.refresh()

        ticker = threading.Thread(target=tick, name="unite_stan_compile_timer", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
