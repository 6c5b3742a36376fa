"""Content-hashed cache of compiled Stan programs, shared by all backends and processes.

Layout: ``<root>/<backend>/<hash[:16]>/`` holds the program (``model.stan``), the artifact and
``build.json`` (a :class:`~unite_stan.stan.backends.base.BuildRecord`). The key hashes the
program text, the backend identity and the build options; data never enter it, so new data
never recompile.

A per-entry file lock makes concurrent processes build a program once. Builds happen in a
temporary directory beside the entry, renamed into place only when complete, so no process
ever sees a half-written artifact and a crashed build leaves nothing that looks valid.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import filelock
import platformdirs

from unite_stan.stan.backends.base import BuildRecord

__all__ = [
    "ENV_VAR",
    "PROGRAM_FILE",
    "RECORD_FILE",
    "build_entry",
    "cache_root",
    "canonical_program",
    "entry_dir",
    "lookup",
    "program_hash",
]

ENV_VAR = "UNITE_STAN_CACHE"
PROGRAM_FILE = "model.stan"
RECORD_FILE = "build.json"

_logger = logging.getLogger(__name__)


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


def _read_valid_record(directory: Path, key: str) -> BuildRecord | None:
    try:
        record = BuildRecord.from_json((directory / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    if record.program_hash != key or not Path(record.artifact).is_file():
        return None
    return record


def lookup(key: str, backend: str | None = None) -> BuildRecord | None:
    """The build record of a complete cache entry for ``key``, or ``None``.

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
        record = _read_valid_record(root / name / key[:16], key)
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
    """Return the cache entry for ``key``, building it first if it is missing.

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
        renamed when the build succeeds).
    progress : bool
        Print what is happening to stderr (it is logged either way).
    description : str, optional
        What is built, for messages; default ``'Stan program <hash[:16]>'``.

    Returns
    -------
    record : BuildRecord
    built : bool
        Whether this call built the entry (``False`` when it was already cached).
    """
    final = entry_dir(backend, key)
    what = description or f"Stan program {key[:16]}"
    record = _read_valid_record(final, key)
    if record is not None:
        return record, False

    final.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(final.parent / f"{final.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        _say(f"Waiting for another process compiling {what}…", progress)
        lock.acquire()
    try:
        record = _read_valid_record(final, key)
        if record is not None:
            return record, False
        # Holding the lock, nobody else is building this key: leftovers are from crashed builds.
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():
            shutil.rmtree(final)

        _say(f"Compiling {what} ({backend} backend; this takes 20-60 s, once)…", progress)
        start = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            if code is not None:
                (workdir / PROGRAM_FILE).write_text(code)
            record = build(workdir, final)
            (workdir / RECORD_FILE).write_text(record.to_json())
            # mkdtemp makes the directory private; entries are as readable as any cache file.
            workdir.chmod(0o755)
            os.rename(workdir, final)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        _say(
            f"Compiled {what} in {time.perf_counter() - start:.0f} s (cached in {final})", progress
        )
        return record, True
    finally:
        lock.release()


def _say(message: str, progress: bool) -> None:
    _logger.info(message)
    if progress:
        print(message, file=sys.stderr, flush=True)
