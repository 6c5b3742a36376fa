"""CmdStan backend: a thin adapter over a CmdStan installation, used where one exists.

* **Build**: CmdStan's own ``make`` builds the executable into the shared compile cache (the
  same layout as the embedded backend's libraries). The cache key covers everything that
  changes the executable: the program, CmdStan's version and (resolved) location, its
  ``make/local``, the make variables taken from the environment, and the stanc and C++ options.
* **Sampling**: :meth:`cmdstanpy.CmdStanModel.sample`, all chains in one process (CmdStan >=
  2.28 runs them as threads), draws written with 18 significant digits (full float64).
* **Log density**: the executable's ``log_prob`` method evaluates many points in one process,
  and ``optimize`` (L-BFGS with the Jacobian, i.e. on the same density) runs a whole
  optimisation in one, so the Laplace pilot costs a handful of processes, not one per
  evaluation.

Output is converted to :class:`~unite_stan.stan.backends.base.RawDraws` with httpstan's column
names (``'xi.1'`` where CmdStan writes ``'xi[1]'``), so everything downstream is
backend-agnostic.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from unite_stan.progress import report, show_bar
from unite_stan.stan import cache, soa
from unite_stan.stan.backends.base import (
    Backend,
    BuildRecord,
    CompiledModel,
    LogDensity,
    RawDraws,
    available_cores,
)
from unite_stan.stan.commands import run_command
from unite_stan.stan.pilot import LBFGS_HISTORY
from unite_stan.stan.settings import SamplerSettings

__all__ = [
    "CmdStanBackend",
    "CmdStanLogDensity",
    "cmdstan_home",
    "cmdstan_version",
    "flat_column_name",
    "unconstrained_parameters",
]

_INDEX = re.compile(r"\[([0-9,]+)\]$")
#: Environment variables CmdStan's makefiles read (``?=`` assignments and flags): a value set
#: in the environment changes the executable, so it is part of the cache key.
MAKE_ENVIRONMENT = (
    "CXX",
    "CC",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "LDLIBS",
    "STANCFLAGS",
    "STAN_THREADS",
    "STAN_OPENCL",
    "STAN_MPI",
    "STAN_NO_RANGE_CHECKS",
    "STAN_CPP_OPTIMS",
    "PRECOMPILED_HEADERS",
    "TBB_CXX_TYPE",
    "O",
)


def flat_column_name(name: str) -> str:
    """httpstan's spelling of a CmdStan column name (``'xi[1]'`` -> ``'xi.1'``).

    ``'m[1,2]'`` becomes ``'m.1.2'``; names without indices are returned unchanged.
    """
    return _INDEX.sub(lambda match: "." + match.group(1).replace(",", "."), name)


def cmdstan_home() -> Path:
    """The CmdStan installation cmdstanpy uses (``$CMDSTAN`` or ``~/.cmdstan``), resolved."""
    import cmdstanpy

    return Path(os.path.realpath(cmdstanpy.cmdstan_path()))


def cmdstan_version(home: Path) -> str:
    """CmdStan's version as its makefile states it (``'2.35.0'``)."""
    try:
        text = (home / "makefile").read_text()
    except OSError as err:
        raise RuntimeError(
            f"CmdStan at {home} has no readable makefile ({err}); point $CMDSTAN at a CmdStan "
            "installation"
        ) from None
    found = re.search(r"^CMDSTAN_VERSION\s*:?=\s*(\S+)", text, re.MULTILINE)
    if not found:
        raise RuntimeError(f"CmdStan's makefile at {home} states no CMDSTAN_VERSION")
    return found.group(1)


def unconstrained_parameters(code: str) -> list[str] | None:
    """Names of the parameters of ``code`` when every one is an unconstrained ``real`` or
    ``vector``, else ``None``.

    For such programs the constrained and unconstrained values coincide, so a point on the
    unconstrained scale can start CmdStan's ``optimize`` (whose inits are constrained values).
    Every program unite_stan renders declares one ``vector[N_free] xi``.
    """
    stripped = re.sub(r"//[^\n]*|/\*.*?\*/", "", code, flags=re.DOTALL)
    block = re.search(r"(?<![A-Za-z_ ])\s*parameters\s*\{([^}]*)\}", "\n" + stripped)
    if block is None:
        return None
    names = []
    for statement in block.group(1).split(";"):
        statement = statement.strip()
        if not statement:
            continue
        match = re.fullmatch(r"(?:real|vector\s*\[[^\]<>]*\])\s+([A-Za-z][A-Za-z0-9_]*)", statement)
        if match is None:
            return None
        names.append(match.group(1))
    return names or None


class CmdStanLogDensity(LogDensity):
    """The model's log density through its executable, for one data set.

    The data are written to JSON once. :meth:`gradients` and :meth:`log_probs` evaluate any
    number of points in one ``log_prob`` process; :meth:`maximize` runs CmdStan's L-BFGS
    (``optimize jacobian=1``: the density sampled, Jacobian included) from each start, one
    process per start, in parallel over the available cores.

    Parameters
    ----------
    exe_file : str
        The executable.
    data : dict
        Stan data.
    parameters : list of str, optional
        The program's parameter names when all are unconstrained (see
        :func:`unconstrained_parameters`); :meth:`maximize` needs them.
    installation : str, optional
        The CmdStan installation that built the executable (how it reads several points at
        once is settled once per installation).
    """

    def __init__(
        self,
        exe_file: str,
        data: dict,
        parameters: Sequence[str] | None = None,
        *,
        installation: str = "",
    ):
        self._exe = exe_file
        self._installation = installation or str(Path(exe_file).resolve().parent)
        self._parameters = list(parameters) if parameters else None
        self._dir = tempfile.mkdtemp(prefix="unite_stan_cmdstan_")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        self._data_file = os.path.join(self._dir, "data.json")
        _write_json(self._data_file, data)
        self._calls = 0
        self._dim: int | None = None

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Number of unconstrained parameters (asked of CmdStan once, then kept)."""
        if self._dim is None:
            self._dim = self._unconstrained_dim()
        return self._dim

    def close(self) -> None:
        """Remove the temporary files now (they are removed when the object is collected)."""
        self._cleanup()

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        values, gradients = self.gradients(self._check(x)[None, :])
        return float(values[0]), gradients[0]

    def log_prob(self, x: np.ndarray) -> float:
        return self(x)[0]

    def log_probs(self, points: np.ndarray) -> np.ndarray:
        return self.gradients(points)[0]

    def gradients(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log densities and gradients at the rows of ``points``, in one ``log_prob`` process.

        A point Stan rejects makes CmdStan stop the whole batch; the batch is then split until
        the rejected points are alone, and those get ``-inf`` and a NaN gradient.
        """
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if points.shape[0] == 0:
            return np.empty(0), np.empty((0, points.shape[1]))
        if self._dim is None:
            self._dim = points.shape[1]
        elif points.shape[1] != self._dim:
            raise ValueError(
                f"unconstrained parameter vectors have {points.shape[1]} entries; "
                f"this model needs {self._dim}"
            )
        result = self._log_prob_rows(points)
        if result is not None:
            return result
        if points.shape[0] == 1:
            return np.array([-np.inf]), np.full(points.shape, np.nan)
        half = points.shape[0] // 2
        first, second = self.gradients(points[:half]), self.gradients(points[half:])
        return np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]])

    def _log_prob_rows(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """One ``log_prob`` process over ``points``; ``None`` if CmdStan stopped on a rejection."""
        layout = _PARAMS_LAYOUT.get(self._installation, "C")
        output = self._log_prob_file(points, layout)
        if output is None:
            return None
        values = output
        misread_first_row = points.reshape(-1, order="F")[: points.shape[1]]
        if self._installation not in _PARAMS_LAYOUT and not np.array_equal(
            misread_first_row, points[0]
        ):
            # CmdStan up to 2.37 read several rows of params_r transposed (stan-dev/cmdstan
            # #1336, fixed in 2026): settle which layout this installation reads by comparing
            # the first row with a one-row call, once per executable's CmdStan.
            single = self._log_prob_file(points[:1], "C")
            if single is not None:
                same = np.array_equal(single[0][:1], values[0][:1]) and np.array_equal(
                    single[1][:1], values[1][:1]
                )
                _PARAMS_LAYOUT[self._installation] = "C" if same else "F"
                if not same:
                    values = self._log_prob_file(points, "F")
        return values

    def _log_prob_file(self, points: np.ndarray, layout: str):
        rows = points if layout == "C" else points.reshape(-1).reshape(points.shape, order="F")
        with self._scratch("params.json", "log_prob.csv") as (params, output):
            with open(params, "w") as handle:
                json.dump({"params_r": rows.tolist()}, handle)
            completed = _run(
                [
                    self._exe,
                    "log_prob",
                    f"unconstrained_params={params}",
                    "jacobian=1",
                    "data",
                    f"file={self._data_file}",
                    "output",
                    f"file={output}",
                    "sig_figs=18",
                ],
                cwd=self._dir,
            )
            if completed.returncode != 0:
                if "Error during log_prob calculation" in completed.stdout + completed.stderr:
                    return None
                raise RuntimeError(
                    f"CmdStan log_prob failed (exit code {completed.returncode}):\n"
                    f"{_tail(completed.stdout + completed.stderr)}"
                )
            _, table = _read_csv(output)
        return table[:, 0], table[:, 1:]

    @contextlib.contextmanager
    def _scratch(self, *names: str):
        """Paths for one call's files in this density's folder (unique per call, so the
        optimiser's parallel processes never share one), removed afterwards."""
        self._calls += 1
        paths = [os.path.join(self._dir, f"{self._calls}_{name}") for name in names]
        try:
            yield paths
        finally:
            for path in paths:
                with contextlib.suppress(OSError):
                    os.remove(path)

    def maximize(self, starts: Sequence[np.ndarray]) -> list[tuple[np.ndarray | None, str, int]]:
        """CmdStan's L-BFGS from each start: ``(end point or None, message, evaluations)``.

        Returns ``None`` (the caller then optimises through :meth:`gradients`) when the
        program's parameters are not all unconstrained.
        """
        if self._parameters is None or len(self._parameters) != 1:
            return None
        workers = max(1, min(len(starts), available_cores()))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._optimize, range(len(starts)), starts))

    def _optimize(self, index: int, start: np.ndarray) -> tuple[np.ndarray | None, str, int]:
        with self._scratch(f"init{index}.json", f"optimum{index}.csv") as (init, output):
            with open(init, "w") as handle:
                json.dump({self._parameters[0]: np.asarray(start, dtype=float).tolist()}, handle)
            completed = _run(
                [
                    self._exe,
                    "optimize",
                    "jacobian=1",
                    "algorithm=lbfgs",
                    f"history_size={LBFGS_HISTORY}",
                    "iter=5000",
                    "data",
                    f"file={self._data_file}",
                    f"init={init}",
                    "output",
                    f"file={output}",
                    "sig_figs=18",
                    "refresh=1",
                ],
                cwd=self._dir,
            )
            text = completed.stdout + completed.stderr
            evaluations = _optimize_evaluations(text)
            message = _optimize_message(text, completed.returncode)
            try:
                header, table = _read_csv(output)
            except (OSError, ValueError):
                return None, message, evaluations
        name = self._parameters[0]
        columns = [k for k, c in enumerate(header) if c == name or c.startswith(f"{name}.")]
        point = table[-1, columns]
        return (point if np.all(np.isfinite(point)) else None), message, evaluations

    def _unconstrained_dim(self) -> int:
        """CmdStan states the dimension nowhere directly: the diagnostic file of a one-draw
        run has one momentum column (``p_<name>``) per unconstrained parameter."""
        with self._scratch("dim_diagnostic.csv", "dim_output.csv") as (diagnostic, output):
            completed = _run(
                [
                    self._exe,
                    "sample",
                    "num_samples=1",
                    "num_warmup=0",
                    "adapt",
                    "engaged=0",
                    "data",
                    f"file={self._data_file}",
                    "output",
                    f"file={output}",
                    f"diagnostic_file={diagnostic}",
                    "refresh=0",
                ],
                cwd=self._dir,
            )
            if completed.returncode != 0:
                raise RuntimeError(
                    "CmdStan could not start the model to count its parameters (exit code "
                    f"{completed.returncode}):\n{_tail(completed.stdout + completed.stderr)}"
                )
            with open(diagnostic) as handle:
                header = next(line for line in handle if not line.startswith("#"))
        return sum(name.startswith("p_") for name in header.strip().split(","))


#: Which layout each CmdStan installation reads a several-row ``params_r`` in ('C' or 'F').
_PARAMS_LAYOUT: dict[str, str] = {}


def _write_json(path: str, values: Mapping[str, Any]) -> None:
    from cmdstanpy import write_stan_json

    write_stan_json(path, dict(values))


def _read_csv(path: str) -> tuple[list[str], np.ndarray]:
    """Header and numeric rows (float64) of a Stan CSV file, comments skipped."""
    with open(path) as handle:
        rows = [line for line in handle if line.strip() and not line.startswith("#")]
    if len(rows) < 2:
        raise ValueError(f"{path} holds no values")
    header = rows[0].strip().split(",")
    return header, np.array(
        [[float(v) for v in row.split(",")] for row in rows[1:]], dtype=np.float64
    )


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _optimize_evaluations(text: str) -> int:
    """The '# evals' column of the last iteration line CmdStan's L-BFGS printed."""
    count = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 7 and fields[0].isdigit():
            with contextlib.suppress(ValueError):
                count = int(fields[6])
    return count


def _optimize_message(text: str, returncode: int) -> str:
    lines = [line.strip() for line in text.splitlines()]
    for k, line in enumerate(lines):
        if line.startswith("Optimization terminated"):
            detail = lines[k + 1] if k + 1 < len(lines) else ""
            return f"{line} {detail}".strip()
    return f"CmdStan optimize ended with exit code {returncode}"


def _run(command: list[str], *, cwd: str) -> subprocess.CompletedProcess:
    """Run a CmdStan executable; it is killed if this process is interrupted."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


@contextlib.contextmanager
def _quiet_cmdstanpy():
    """cmdstanpy logs every chain's start and end at INFO; keep only its errors while it runs
    for us (its warnings about rejected proposals are read from the console files instead)."""
    from cmdstanpy.utils import get_logger

    logger = get_logger()  # installs cmdstanpy's handler (and its DEBUG level) on first use
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class _Program:
    """The handle of a built executable: its path, and a cmdstanpy model made on first use."""

    def __init__(self, exe_file: str):
        self.exe_file = exe_file

    @functools.cached_property
    def model(self):
        from cmdstanpy import CmdStanModel

        with _quiet_cmdstanpy():
            return CmdStanModel(exe_file=self.exe_file)


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


class CmdStanBackend(Backend):
    """Builds executables with CmdStan and samples with cmdstanpy.

    Parameters
    ----------
    stanc_options, cpp_options : dict, optional
        stanc flags and make variables (cmdstanpy's spelling); part of the cache key.
        ``stanc_options`` defaults to ``{'O1': True}``, matching the embedded backend's stanc
        optimisation, and ``cpp_options`` to ``{'STAN_THREADS': True}``: threaded builds run
        all chains in one process and let ``threads_per_chain`` split a likelihood.
    """

    name = "cmdstan"
    metrics = ("diag_e", "dense_e", "unit_e")

    def __init__(
        self,
        stanc_options: Mapping[str, Any] | None = None,
        cpp_options: Mapping[str, Any] | None = None,
    ):
        self.stanc_options = dict({"O1": True} if stanc_options is None else stanc_options)
        self.cpp_options = dict({"STAN_THREADS": True} if cpp_options is None else cpp_options)

    @functools.cached_property
    def home(self) -> Path:
        """The CmdStan installation (resolved, so a moved or re-linked folder is a new key)."""
        return cmdstan_home()

    def identity(self) -> str:
        home = self.home
        local = home / "make" / "local"
        local_text = local.read_text() if local.is_file() else ""
        environment = {k: os.environ[k] for k in MAKE_ENVIRONMENT if k in os.environ}
        digest = hashlib.sha256(
            json.dumps({"make/local": local_text, "environment": environment}).encode()
        ).hexdigest()[:16]
        return f"CmdStan {cmdstan_version(home)} at {home}; make settings {digest}"

    def options(self) -> dict:
        """stanc and C++ options; part of every cache key of this backend."""
        return {"stanc_options": self.stanc_options, "cpp_options": self.cpp_options}

    def compile(self, code: str, *, progress: bool = True) -> CompiledModel:
        options = {**self.options(), **soa.options(code)}
        identity = self.identity()
        key = cache.program_hash(code, identity, options)
        record, _ = cache.build_entry(
            self.name,
            key,
            code,
            functools.partial(self._build, key=key, options=options, identity=identity),
            progress=progress,
        )
        return CompiledModel(
            backend=self.name, record=record, handle=_Program(record.artifact), code=code
        )

    def make_arguments(self, options: dict | None = None) -> list[str]:
        """The make variables of a build (cmdstanpy's composition of the options)."""
        options = options or self.options()
        arguments = []
        for flag, value in options["stanc_options"].items():
            if value is True:
                arguments.append(f"STANCFLAGS+=--{flag}")
            elif value not in (False, None):
                arguments.append(f"STANCFLAGS+=--{flag}={value}")
        arguments += [f"{k}={_make_value(v)}" for k, v in options["cpp_options"].items()]
        return arguments

    def _build(
        self, workdir: Path, final: Path, *, key: str, options: dict, identity: str
    ) -> BuildRecord:
        start = time.perf_counter()
        target = workdir / "model"
        arguments = self.make_arguments(options)
        arguments += self._writable_home_arguments(options)
        header = ("PRECOMPILED_HEADERS" in options["cpp_options"]) or (
            "PRECOMPILED_HEADERS=false" in arguments
        )
        if "rewrite" in options and not header:
            # the rewritten threaded program configures Eigen itself (soa.py)
            arguments.append("PRECOMPILED_HEADERS=false")
        command = [os.environ.get("MAKE", "make"), *arguments, str(target)]
        if shutil.which(command[0]) is None:
            raise RuntimeError(
                f"CmdStan builds programs with make, and no {command[0]!r} was found on PATH: "
                "install make and a C++ compiler (g++), set $MAKE, or use backend='embedded'"
            )
        output = ""
        if "rewrite" in options:
            # stanc's C++ first (make's model.hpp target), rewritten; make then compiles it
            # as it is, being newer than the program
            source = target.with_suffix(".hpp")
            translate = [*command[:-1], str(source)]
            completed = run_command(translate, cwd=self.home, build_dir=workdir)
            output = completed.stdout + completed.stderr
            if completed.returncode != 0 or not source.is_file():
                raise _build_error(output, completed.returncode, translate, self.home)
            source.write_text(soa.struct_of_arrays(source.read_text()))
        completed = run_command(command, cwd=self.home, build_dir=workdir)
        output += completed.stdout + completed.stderr
        if completed.returncode != 0 or not target.is_file():
            raise _build_error(output, completed.returncode, command, self.home)
        warnings = "\n".join(
            line for line in output.splitlines() if line.lstrip().startswith("Warning")
        )
        return BuildRecord(
            program_hash=key,
            backend=self.name,
            backend_identity=identity,
            options=options,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            compile_seconds=round(time.perf_counter() - start, 2),
            artifact=str(final / target.name),
            command=f"cd {self.home} && " + " ".join(command[:-1] + ["model"]),
            warnings=warnings,
        )

    def _writable_home_arguments(self, options: dict, *, writable=_writable) -> list[str]:
        """CmdStan builds its main object and precompiled header into its own folder the
        first time a flavour (threaded or not) is used; without write access, build without
        the header (slower compiles) or explain what to do about the main object.

        ``writable(folder)`` says whether this process may write there.
        """
        threads = str(options["cpp_options"].get("STAN_THREADS", "")).lower() in ("true", "1")
        main = self.home / "src" / "cmdstan" / ("main_threads.o" if threads else "main.o")
        if not main.is_file() and not writable(main.parent):
            raise RuntimeError(
                f"CmdStan at {self.home} has not built {main.name} yet and its folder is not "
                "writable: CmdStan builds it there on the first "
                f"{'threaded ' if threads else ''}model. Run `make -C {self.home} "
                f"{'STAN_THREADS=true ' if threads else ''}src/cmdstan/{main.name}` once as "
                "the folder's owner, or point $CMDSTAN at a writable CmdStan, or use "
                "backend='embedded'"
            )
        header_dir = self.home / "stan" / "src" / "stan" / "model"
        if "PRECOMPILED_HEADERS" not in options["cpp_options"] and not writable(header_dir):
            return ["PRECOMPILED_HEADERS=false"]
        return []

    def log_density(self, model: CompiledModel, data: dict) -> CmdStanLogDensity:
        return CmdStanLogDensity(
            model.record.artifact,
            data,
            unconstrained_parameters(model.code),
            installation=str(self.home),
        )

    def _sample(
        self,
        model: CompiledModel,
        data: dict,
        settings: SamplerSettings,
        inits: list[dict[str, np.ndarray]] | None,
    ) -> RawDraws:
        with tempfile.TemporaryDirectory(prefix="unite_stan_sample_") as output_dir:
            data_file = os.path.join(output_dir, "data.json")
            _write_json(data_file, data)
            bar = show_bar(settings.progress)
            chains = f"{settings.num_chains} chain{'s' * (settings.num_chains > 1)}"
            start = time.perf_counter()
            if not bar:
                report(
                    "sample",
                    f"Sampling {chains} ({settings.num_warmup} warmup + "
                    f"{settings.num_samples} draws each)…",
                )
            with _quiet_cmdstanpy(), _keep_environment("STAN_NUM_THREADS"):
                try:
                    fit = model.handle.model.sample(
                        data=data_file,
                        chains=settings.num_chains,
                        parallel_chains=settings.parallel_chains,
                        threads_per_chain=settings.threads_per_chain,
                        seed=settings.seed,
                        inits=inits,
                        iter_warmup=settings.num_warmup,
                        iter_sampling=settings.num_samples,
                        adapt_delta=settings.adapt_delta,
                        max_treedepth=settings.max_treedepth,
                        metric=settings.metric,
                        sig_figs=18,
                        output_dir=output_dir,
                        show_progress=bar,
                    )
                except RuntimeError as err:
                    raise RuntimeError(f"Stan sampling failed:\n{err}") from None
            columns = [flat_column_name(name) for name in fit.column_names]
            values = np.transpose(fit.draws(concat_chains=False), (1, 0, 2))
            messages = [_console_messages(path) for path in fit.runset.stdout_files]
            step_size = np.atleast_1d(np.asarray(fit.step_size, dtype=np.float64))
            if settings.metric == "unit_e":  # cmdstanpy has none to read: the identity
                dim = sum(name.startswith("xi.") for name in columns)
                inv_metric = np.ones((settings.num_chains, dim))
            else:
                inv_metric = np.asarray(fit.inv_metric, dtype=np.float64)
            timing = fit.time
            if not bar:
                report("sample", f"Sampled {chains} in {time.perf_counter() - start:.1f} s")
        return RawDraws(
            columns=columns,
            # cmdstanpy orders (draw, chain, column); RawDraws is (chain, draw, column).
            values=np.ascontiguousarray(values, dtype=np.float64),
            step_size=step_size,
            inv_metric=inv_metric,
            warmup_seconds=np.array([chain["warmup"] for chain in timing]),
            sampling_seconds=np.array([chain["sampling"] for chain in timing]),
            seed=settings.seed,
            backend=self.name,
            messages=_per_chain(messages, settings.num_chains),
        )


def _make_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


@contextlib.contextmanager
def _keep_environment(name: str):
    """cmdstanpy sets ``STAN_NUM_THREADS`` in this process's environment; put it back."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _per_chain(messages: list[list[str]], num_chains: int) -> list[list[str]]:
    """Messages per chain: CmdStan running all chains in one process writes one console, whose
    lines name their chain (``Chain [2] ...``) where they concern one."""
    if len(messages) == num_chains:
        return messages
    lines = [line for chain in messages for line in chain]
    return [
        [line for line in lines if f"Chain [{c + 1}]" in line or "Chain [" not in line]
        for c in range(num_chains)
    ]


def _console_messages(path: str) -> list[str]:
    """Stan's informational messages from a chain's console output (rejections, adaptation)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    keep = ("Informational Message", "Exception", "If this warning", "but if this warning")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(keep)]


def _build_error(output: str, returncode: int, command: list[str], home: Path) -> Exception:
    """A readable error for a failed build: stanc's message for a rejected program, the
    compiler's last lines and the command otherwise."""
    lines = output.splitlines()
    for k, line in enumerate(lines):
        if re.match(r"\s*(Syntax|Semantic) error", line):
            message = "\n".join(
                text for text in lines[k:] if not text.startswith(("make:", "make["))
            ).strip()
            return ValueError(f"stanc rejected the Stan program:\n{message}")
    return RuntimeError(
        f"CmdStan failed to build the program (make exited with {returncode}).\n"
        f"Command (in {home}): {' '.join(command)}\n"
        f"Last lines of its output:\n{_tail(output)}\n"
        f"The C++ compiler is CmdStan's CXX (set it in {home}/make/local or the environment); "
        "install g++ or clang++, or use backend='embedded'"
    )
