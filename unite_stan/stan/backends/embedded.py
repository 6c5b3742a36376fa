"""Embedded Stan: build and run programs in this process with the toolchain httpstan ships.

Building runs httpstan's ``stanc`` and then ``g++`` directly, producing the same Python
extension module ``httpstan.models.build_services_extension_module`` builds (same macros, linked
with httpstan's prebuilt ``stan_services.o``), but into our cache entry with our own flags.

Each library also links unite_stan's own small object (``_SHIM_CPP``, compiled once per
toolchain and cached like a program), which adds a second module, ``unite_stan_shim``:

* ``Density``: a model object built once per data set, so evaluating the log density does not
  rebuild the model from the data dict (httpstan's ``log_prob_grad`` does, which costs more
  than the gradient itself on real spectra);
* ``init_thread()``: the library is compiled with ``STAN_THREADS``, where the autodiff tape is
  thread-local and only the thread that loaded the library gets one. Calling Stan from any
  other thread without first creating a tape crashes the process.

* ``Density.nuts``: one NUTS chain (Stan's own ``hmc_nuts_{diag,dense,unit}_e_adapt`` services)
  that keeps its draws in memory. httpstan's sampler instead streams every iteration's draw
  and diagnostics as JSON over a Unix socket that Python parses, which on small spectra cost
  more than the gradients.

Chains run in threads of this process (the sampler releases the GIL); a ``Monitor`` per chain
counts iterations for the progress bar and cancels the chain on an interrupt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np

from unite_stan.progress import report, show_bar
from unite_stan.stan import cache, soa
from unite_stan.stan.backends.base import (
    Backend,
    BuildRecord,
    CompiledModel,
    LogDensity,
    RawDraws,
)
from unite_stan.stan.commands import run_commands
from unite_stan.stan.settings import SamplerSettings

__all__ = [
    "DEFAULT_OPTIMIZATION",
    "DEFAULT_STANC_FLAGS",
    "TOOLCHAIN_FILE",
    "CompilerNotFoundError",
    "EmbeddedBackend",
    "EmbeddedLogDensity",
    "adaptation_windows",
]

# Measured on a 415-pixel line model (g++ 12, 2 cores): -O2 and -O3 give the same gradient
# speed, -O1 is 25-90 % slower for 1-2 s less compile time. stanc's --O1 makes the same
# gradient 1.5x faster at no compile-time cost.
#: C++ optimisation flags used unless the backend is given others.
DEFAULT_OPTIMIZATION = ("-O3",)
#: stanc options used unless the backend is given others.
DEFAULT_STANC_FLAGS = ("--O1",)
#: Seconds stanc may take. Its --O1 optimiser is superlinear in the program: one profile
#: kind and a Linear continuum take ~1 s, ten profiles 130 s, ten profiles and ten forms
#: over 300 s (this machine, 2026-12-03).
STANC_TIMEOUT = 300.0

# What httpstan compiles stan_services.o with: the model must match it (ABI, threading).
_MACROS = (
    "-DBOOST_DISABLE_ASSERTS",
    "-DBOOST_PHOENIX_NO_VARIADIC_EXPRESSION",
    "-DSTAN_THREADS",
    "-D_REENTRANT",
    "-D_GLIBCXX_USE_CXX11_ABI=0",
    "-DNDEBUG",
)
_LANGUAGE = ("-std=c++14", "-fPIC", "-pthread")
_QUIET = ("-Wno-sign-compare", "-Wno-ignored-attributes", "-Wno-deprecated-declarations")
_LIBRARIES = ("sundials_cvodes", "sundials_idas", "sundials_nvecserial", "tbb")
# stanc's output includes this header first, so a precompiled copy of it can be used.
_PCH_HEADER = "stan/model/model_header.hpp"
#: Set to 0 to build models without the precompiled header (saves 0.8 GB of cache).
PCH_ENV = "UNITE_STAN_PCH"


def _pch_enabled() -> bool:
    return os.environ.get(PCH_ENV, "1").strip() not in ("0", "false", "no", "off")


# The shim's C++ source ships beside this module; its text is part of the shim's cache key.
_SHIM_CPP = (Path(__file__).resolve().parent / "shim.cpp").read_text()

# Headers that take precedence over Stan's own (see include/stan/model/model_base_crtp.hpp):
# they cut the instantiations of a model's log density to one double and one var copy, and
# move the var copy into a second translation unit compiled in parallel. Their text is part of
# every cache key of this backend.
_INCLUDE = Path(__file__).resolve().parent / "include"
_OVERRIDES = ("stan/model/model_base_crtp.hpp",)
_OVERRIDES_HASH = hashlib.sha256(
    b"".join((_INCLUDE / name).read_bytes() for name in _OVERRIDES)
).hexdigest()[:16]
# Appended to a copy of the stanc output to make the gradient's translation unit. USING_R
# leaves out stanc's non-inline boilerplate (new_model), and the profile map gets another name,
# so the two objects define no symbol twice.
_GRADIENT_UNIT = """
// unite_stan: this translation unit holds only the reverse-mode log density.
template <typename M>
stan::math::var stan::model::unite_stan_gradient_lp(
    const M& model, Eigen::Matrix<stan::math::var, -1, 1>& theta, std::ostream* msgs) {
  return model.template log_prob<true, true>(theta, msgs);
}
template stan::math::var stan::model::unite_stan_gradient_lp<stan_model>(
    const stan_model&, Eigen::Matrix<stan::math::var, -1, 1>&, std::ostream*);
"""
_GRADIENT_MACROS = ("-DUSING_R", "-Dprofiles__=unite_stan_gradient_profiles__")


def _httpstan_dir() -> Path:
    return Path(str(importlib.resources.files("httpstan")))


@functools.cache
def _first_line(*command: str) -> str:
    """First line a tool prints (its ``--version``); OSError if it cannot be run."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as err:
        raise OSError(f"{command[0]} did not answer within 60 s") from err
    output = (completed.stdout or completed.stderr).strip()
    return output.splitlines()[0] if output else ""


#: Per cache, the version line of each C++ compiler (``CXX``) last seen, in
#: ``<cache>/embedded/toolchain.json``: it stands in for ``CXX --version`` where the compiler
#: cannot be run (a cluster's compute node, a slim container), so models built elsewhere with
#: the same cache are still found and loaded there.
TOOLCHAIN_FILE = "toolchain.json"


class CompilerNotFoundError(RuntimeError):
    """A build is needed and the C++ compiler cannot be run (the message says what to do)."""


def _no_compiler(cxx: str, reason: str, needed_for: str) -> CompilerNotFoundError:
    return CompilerNotFoundError(
        f"{needed_for} needs a C++ compiler, and {cxx!r} (the CXX setting; default g++) cannot "
        f"be run: {reason}. Install g++ (e.g. `apt install g++` or `conda install gxx`), set "
        "CXX to an installed compiler, point UNITE_STAN_CACHE at a cache where the program was "
        "built, or use the CmdStan backend (backend='cmdstan')"
    )


def _compile(
    commands: list[list[str]], workdir: Path, what: str, cancel: threading.Event | None = None
) -> None:
    """Run compiler commands at the same time in the build directory ``workdir``."""
    run_commands(
        commands,
        cwd=workdir,
        what=f"C++ compilation of {what}",
        build_dir=workdir,
        cancel=cancel,
        hint=(
            f"If the compiler is at fault, set CXX (now {commands[0][0]!r}) to another one or "
            "use the CmdStan backend (backend='cmdstan')"
        ),
    )


def adaptation_windows(num_warmup: int) -> tuple[int, int, int]:
    """Stan's adaptation windows ``(init_buffer, term_buffer, window)`` for ``num_warmup``.

    The defaults (75, 50, 25) when they fit; otherwise 15 % / 10 % / the remaining 75 % of the
    warmup, as CmdStan does. Passing the reduced sizes explicitly matters: when Stan reduces them
    itself it does not reset its window counters and never updates the metric.
    """
    if num_warmup < 0:
        raise ValueError(f"num_warmup={num_warmup}: must be >= 0")
    init_buffer, term_buffer, window = 75, 50, 25
    if num_warmup < 20 or init_buffer + term_buffer + window <= num_warmup:
        return init_buffer, term_buffer, window
    init_buffer = int(0.15 * num_warmup)
    term_buffer = int(0.10 * num_warmup)
    return init_buffer, term_buffer, num_warmup - init_buffer - term_buffer


_loaded: dict[str, tuple[ModuleType, ModuleType]] = {}
_loaded_lock = threading.Lock()


def _load(artifact: str) -> tuple[ModuleType, ModuleType]:
    """The httpstan services module and our shim module of one built library (loaded once)."""
    with _loaded_lock:
        if artifact not in _loaded:
            modules = []
            # stan_services.o fixes the first module's name, so every model library defines a
            # module called 'stan_services'; loading by path keeps several models apart.
            for name in ("stan_services", "unite_stan_shim"):
                spec = importlib.util.spec_from_file_location(name, artifact)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                modules.append(module)
            _loaded[artifact] = (modules[0], modules[1])
        return _loaded[artifact]


def _check_data(data: dict) -> None:
    for name, value in data.items():
        kind = np.asarray(value).dtype.kind
        if kind not in "iuf":
            raise ValueError(
                f"Stan data {name!r} has dtype {np.asarray(value).dtype}: only int and float "
                "numbers and arrays can be passed to Stan"
            )


def _split_data(data: dict) -> tuple:
    # The same conversion the sampler applies to its data (column-major flattening).
    from httpstan.utils import _split_data

    _check_data(data)
    return _split_data(data)


class EmbeddedLogDensity(LogDensity):
    """Log density of a model built by :class:`EmbeddedBackend`, for one data set.

    Calls are thread-safe and release the GIL.
    """

    #: the pilot may run one optimiser per start in threads of this process
    concurrent_calls = True

    def __init__(self, shim: ModuleType, data: dict):
        self._shim = shim
        self._density = shim.Density(*_split_data(data))
        self.dim = self._density.dim
        self.unconstrained_names = list(self._density.unconstrained_names())
        self._constrained_names = list(self._density.constrained_names())

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = self._density.value_and_gradient(self._check(x).tolist())
        return value, np.array(gradient)

    def log_prob(self, x: np.ndarray) -> float:
        return self._density.value(self._check(x).tolist())

    def run_threaded(self, threads: int, fn):
        """Call ``fn()`` in a new thread whose Stan ``reduce_sum`` may use ``threads`` threads.

        Returns what ``fn`` returns and re-raises what it raises. Evaluations of this density
        inside ``fn`` split a data set with several pixel blocks over those threads.
        """
        result: dict = {}

        def run():
            try:  # run_with_threads gives this thread its autodiff tape first
                self._shim.run_with_threads(int(threads), lambda: result.update(value=fn()))
            except BaseException as err:  # re-raised in the caller's thread
                result["error"] = err

        thread = threading.Thread(target=run, name="unite_stan_threaded")
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    def write_array(self, x: np.ndarray, seed: int = 0) -> dict[str, float]:
        """Constrained outputs at ``x``; generated quantities use an RNG seeded with ``seed``."""
        values = self._density.write_array(self._check(x).tolist(), seed)
        return dict(zip(self._constrained_names, values, strict=True))


class EmbeddedBackend(Backend):
    """Builds Stan programs into Python extension modules and samples with them in-process.

    Parameters
    ----------
    optimization : sequence of str, optional
        Compiler optimisation flags; default :data:`DEFAULT_OPTIMIZATION`. They are part of the
        cache key and of the build record.
    stanc_flags : sequence of str, optional
        stanc options; default :data:`DEFAULT_STANC_FLAGS`. Part of the cache key.
    """

    name = "embedded"
    metrics = ("diag_e", "dense_e", "unit_e")

    def __init__(
        self,
        optimization: Sequence[str] | None = None,
        stanc_flags: Sequence[str] | None = None,
    ):
        self.optimization = tuple(DEFAULT_OPTIMIZATION if optimization is None else optimization)
        self.stanc_flags = tuple(DEFAULT_STANC_FLAGS if stanc_flags is None else stanc_flags)
        self.cxx = os.environ.get("CXX", "g++")

    def identity(self) -> str:
        package = _httpstan_dir()
        return "; ".join(
            [
                f"httpstan {importlib.metadata.version('httpstan')} at {package}",
                _first_line(str(package / "stanc"), "--version"),
                self._compiler_version(),
                f"python {sysconfig.get_config_var('EXT_SUFFIX')}",
            ]
        )

    def _compiler_version(self) -> str:
        """``CXX --version``'s first line, remembered in the cache (:data:`TOOLCHAIN_FILE`) and
        read from there where the compiler cannot be run.

        Raises
        ------
        CompilerNotFoundError
            If the compiler cannot be run and the cache has never seen it: nothing built by it
            can be in the cache, and nothing can be built (the message says what to install).
        """
        path = cache.cache_root() / self.name / TOOLCHAIN_FILE
        try:
            seen = json.loads(path.read_text())
        except (OSError, ValueError):
            seen = {}
        if not isinstance(seen, dict):
            seen = {}
        try:
            version = _first_line(self.cxx, "--version")
        except OSError as err:
            if isinstance(seen.get(self.cxx), str):
                return seen[self.cxx]
            raise _no_compiler(self.cxx, str(err), "the embedded backend") from None
        if seen.get(self.cxx) != version:
            # A cache that cannot be written still works; only this shortcut is lost.
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(
                    "w", dir=path.parent, prefix=f".{TOOLCHAIN_FILE}.", delete=False
                ) as update:
                    json.dump({**seen, self.cxx: version}, update, indent=2, sort_keys=True)
                os.chmod(update.name, 0o644)  # as readable as the cache's other files
                os.replace(update.name, path)
        return version

    def _require_compiler(self, what: str) -> None:
        """Raise a clear error before a build if the compiler is not there."""
        if shutil.which(self.cxx) is None:
            raise _no_compiler(
                self.cxx,
                "not found on PATH",
                f"{what} is not in the compile cache ({cache.cache_root()}) and building it",
            )

    def options(self) -> dict:
        """Compiler and flags; part of every cache key of this backend."""
        return {
            "cxx": self.cxx,
            "cxxflags": [*self.optimization, *_LANGUAGE, *_MACROS],
            "stancflags": list(self.stanc_flags),
            "overrides": _OVERRIDES_HASH,
        }

    def compile(self, code: str, *, progress: bool = True) -> CompiledModel:
        shim = self._setup(progress)
        options = {**self.options(), "shim": shim.program_hash[:16], **soa.options(code)}
        key = cache.program_hash(code, self.identity(), options)
        record, _ = cache.build_entry(
            self.name,
            key,
            code,
            functools.partial(
                self._build, key=key, options=options, shim=shim.artifact, progress=progress
            ),
            progress=progress,
        )
        services, _ = _load(record.artifact)
        return CompiledModel(backend=self.name, record=record, handle=services, code=code)

    def prepare(self, *, progress: bool = True) -> None:
        """Build the one-off, per-machine parts: the C++ shim and the precompiled header.

        Every model build does this on first need; calling it first (in a benchmark, or a
        cluster job's setup step) keeps it out of the first model's compile time.
        """
        self._setup(progress, with_pch=_pch_enabled())

    def _setup(self, progress: bool, *, with_pch: bool | None = None) -> BuildRecord:
        """The shim's build record.

        By default the precompiled header is built beside the shim (two compiler processes at
        once) only when the shim is not cached yet, the first time on a machine; otherwise it
        is looked up only when a model is compiled, so loading a cached model never reads it.
        """
        if with_pch is None:
            with_pch = _pch_enabled() and cache.lookup(self._shim_key(), self.name) is None
        if not with_pch:
            return self._shim(progress)
        # both built in worker threads while this one waits: an interrupt (delivered here) or
        # a failed build sets ``cancel``, and both compilers are stopped at once, each within
        # a poll of its thread, rather than one after the other's grace time
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="unite_stan_setup") as pool:
            pch = pool.submit(self._pch, progress, cancel=cancel)
            shim = pool.submit(self._shim, progress, cancel=cancel)
            try:
                record = shim.result()
                pch.result()
            except BaseException:
                cancel.set()
                raise
        return record

    def _shim_options(self) -> dict:
        return {name: self.options()[name] for name in ("cxx", "cxxflags")}

    def _shim_key(self) -> str:
        return cache.program_hash(_SHIM_CPP, self.identity(), self._shim_options())

    def _shim(self, progress: bool, *, cancel: threading.Event | None = None) -> BuildRecord:
        """The compiled shim object, built on first use (once per toolchain and flags)."""
        key = self._shim_key()
        record, _ = cache.build_entry(
            self.name,
            key,
            None,
            functools.partial(
                self._build_shim, key=key, options=self._shim_options(), cancel=cancel
            ),
            progress=progress,
            description=f"unite_stan's C++ shim {key[:16]} (once per toolchain)",
        )
        return record

    def _pch(self, progress: bool, *, cancel: threading.Event | None = None) -> Path | None:
        """Include directory holding a precompiled ``stan/model/model_header.hpp`` (or None).

        Every model starts with that header; precompiling it once per toolchain and flags
        (about 30-60 s and 0.8 GB) cuts each model's build by about a third. A failed build is
        reported and the models compile without it.
        """
        options = {name: self.options()[name] for name in ("cxx", "cxxflags", "overrides")}
        key = cache.program_hash(_PCH_HEADER, self.identity(), options)
        try:
            record, _ = cache.build_entry(
                self.name,
                key,
                None,
                functools.partial(self._build_pch, key=key, options=options, cancel=cancel),
                progress=progress,
                description=f"the precompiled Stan header {key[:16]} (once per machine)",
            )
        except CompilerNotFoundError:
            raise
        except RuntimeError as err:
            warnings.warn(
                f"building the precompiled Stan header failed; models compile without it "
                f"(slower): {err}",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        # artifact = <entry>/include/stan/model/model_header.hpp.gch; return <entry>/include
        return Path(record.artifact).parents[len(Path(_PCH_HEADER).parts) - 1]

    def _build_pch(
        self,
        workdir: Path,
        final: Path,
        *,
        key: str,
        options: dict,
        cancel: threading.Event | None = None,
    ) -> BuildRecord:
        what = f"the precompiled Stan header {key[:16]}"
        self._require_compiler(what)
        start = time.perf_counter()
        target = workdir / "include" / f"{_PCH_HEADER}.gch"
        target.parent.mkdir(parents=True)
        command = [
            options["cxx"],
            *options["cxxflags"],
            *_QUIET,
            f"-I{_INCLUDE}",
            f"-I{_httpstan_dir() / 'include'}",
            "-x",
            "c++-header",
            str(_httpstan_dir() / "include" / _PCH_HEADER),
            "-o",
            str(target.relative_to(workdir)),
        ]
        _compile([command], workdir, what, cancel)
        artifact = final / target.relative_to(workdir)
        return self._record(key, options, start, artifact, shlex.join(command), "")

    def _build_shim(
        self,
        workdir: Path,
        final: Path,
        *,
        key: str,
        options: dict,
        cancel: threading.Event | None = None,
    ) -> BuildRecord:
        what = f"unite_stan's C++ shim {key[:16]}"
        self._require_compiler(what)
        start = time.perf_counter()
        python_include = Path(sysconfig.get_paths()["include"])
        if not (python_include / "Python.h").is_file():
            raise RuntimeError(
                f"the embedded backend needs Python's C headers and {python_include}/Python.h "
                "does not exist; install them (e.g. the python3-dev package) or use CmdStan"
            )
        (workdir / "unite_stan_shim.cpp").write_text(_SHIM_CPP)
        command = [
            options["cxx"],
            *options["cxxflags"],
            *_QUIET,
            f"-I{_httpstan_dir() / 'include'}",
            f"-I{python_include}",
            "-c",
            "unite_stan_shim.cpp",
            "-o",
            "unite_stan_shim.o",
        ]
        _compile([command], workdir, what, cancel)
        return self._record(
            key, options, start, final / "unite_stan_shim.o", shlex.join(command), ""
        )

    def _build(
        self,
        workdir: Path,
        final: Path,
        *,
        key: str,
        options: dict,
        shim: str,
        progress: bool,
    ) -> BuildRecord:
        self._require_compiler(f"Stan program {key[:16]}")
        start = time.perf_counter()
        package = _httpstan_dir()
        model_name = f"model_{key[:16]}"
        source = f"{model_name}.cpp"
        stanc_command = [
            str(package / "stanc"),
            *options["stancflags"],
            "--name",
            model_name,
            f"--o={source}",
            cache.PROGRAM_FILE,
        ]
        try:
            stanc = subprocess.run(
                stanc_command,
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=STANC_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"stanc ({' '.join(options['stancflags'])}) did not finish in {STANC_TIMEOUT:g} s "
                f"on the Stan program {key[:16]}: its optimiser's time grows faster than the "
                "program when many kinds of line profile and continuum form meet in one model "
                "(10 profiles and 10 forms: over 300 s). Fit fewer kinds of component at once; "
                "a known limit of this version"
            ) from None
        if stanc.returncode != 0:
            raise ValueError(f"stanc rejected the Stan program:\n{stanc.stderr.strip()}")
        if "rewrite" in options:
            (workdir / source).write_text(soa.struct_of_arrays((workdir / source).read_text()))
        # The precompiled header only speeds the build up, so it is not part of the key; it is
        # built (once per machine and flags) when a valid program first needs compiling.
        # the rewritten threaded program configures Eigen itself (soa.py): no precompiled header
        pch = self._pch(progress) if _pch_enabled() and "rewrite" not in options else None

        artifact = f"stan_services_{model_name}{sysconfig.get_config_var('EXT_SUFFIX')}"
        # Two objects compiled at once: the model, and the model's reverse-mode log density.
        gradient_source = f"{model_name}_gradient.cpp"
        (workdir / gradient_source).write_text(
            (workdir / source).read_text() + "\n" + _GRADIENT_UNIT
        )
        includes = [
            *([f"-I{pch}", "-Winvalid-pch"] if pch is not None else []),
            f"-I{_INCLUDE}",
            f"-I{package / 'include'}",
        ]
        compile_commands = [
            [
                options["cxx"],
                *options["cxxflags"],
                *_QUIET,
                *macros,
                *includes,
                "-c",
                unit,
                "-o",
                f"{Path(unit).stem}.o",
            ]
            for unit, macros in ((source, ()), (gradient_source, _GRADIENT_MACROS))
        ]
        _compile(compile_commands, workdir, f"Stan program {key[:16]}")
        command = [
            options["cxx"],
            *options["cxxflags"],
            "-shared",
            *(f"{Path(unit).stem}.o" for unit in (source, gradient_source)),
            str(package / "stan_services.o"),
            shim,
            f"-L{package / 'lib'}",
            *(f"-l{library}" for library in _LIBRARIES),
            f"-Wl,-rpath,{package / 'lib'}",
            "-o",
            artifact,
        ]
        _compile([command], workdir, f"Stan program {key[:16]}")
        for unit in (source, gradient_source):
            (workdir / f"{Path(unit).stem}.o").unlink()
        (workdir / gradient_source).unlink()
        commands = "\n".join(shlex.join(c) for c in (stanc_command, *compile_commands, command))
        return self._record(key, options, start, final / artifact, commands, stanc.stderr.strip())

    def _record(
        self,
        key: str,
        options: dict,
        start: float,
        artifact: Path,
        command: str,
        warnings: str,
    ) -> BuildRecord:
        return BuildRecord(
            program_hash=key,
            backend=self.name,
            backend_identity=self.identity(),
            options=options,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            compile_seconds=round(time.perf_counter() - start, 2),
            artifact=str(artifact),
            command=command,
            warnings=warnings,
        )

    def log_density(self, model: CompiledModel, data: dict) -> EmbeddedLogDensity:
        _, shim = _load(model.record.artifact)
        return EmbeddedLogDensity(shim, data)

    def _sample(
        self,
        model: CompiledModel,
        data: dict,
        settings: SamplerSettings,
        inits: list[dict[str, np.ndarray]] | None,
    ) -> RawDraws:
        _check_data(data)
        _, shim = _load(model.record.artifact)
        num_chains, num_warmup = settings.num_chains, settings.num_warmup
        init_buffer, term_buffer, window = adaptation_windows(num_warmup)
        iterations = num_warmup + settings.num_samples
        chain_inits = [
            {name: np.asarray(value, dtype=np.float64) for name, value in (init or {}).items()}
            for init in (inits or [{}] * num_chains)
        ]
        density = shim.Density(*_split_data(data))
        chain_settings = dict(
            metric=settings.metric,
            seed=settings.seed,
            num_warmup=int(num_warmup),
            num_samples=settings.num_samples,
            init_radius=2.0,
            stepsize=1.0,
            max_depth=settings.max_treedepth,
            delta=settings.adapt_delta,
            gamma=0.05,
            kappa=0.75,
            t0=10.0,
            init_buffer=init_buffer,
            term_buffer=term_buffer,
            window=window,
        )
        runs = [
            _Chain(
                chain=c,
                density=density,
                shim=shim,
                init=chain_inits[c],
                settings=chain_settings,
                threads=settings.threads_per_chain,
            )
            for c in range(num_chains)
        ]

        from tqdm.auto import tqdm

        # A live bar on a terminal; elsewhere (a log file, CI) one line when sampling starts
        # and one when it ends.
        live = show_bar(settings.progress)
        chains = f"{num_chains} chain{'s' * (num_chains > 1)}"
        if not live:
            report(
                "sample",
                f"Sampling {chains} ({num_warmup} warmup + {settings.num_samples} draws each)…",
            )
        start = time.perf_counter()
        with (
            tqdm(
                total=num_chains * iterations,
                disable=not live,
                desc=f"Sampling {chains}",
                unit="it",
            ) as bar,
            ThreadPoolExecutor(
                max_workers=settings.parallel_chains, thread_name_prefix="unite_stan_chain"
            ) as pool,
        ):
            futures = [pool.submit(run.run) for run in runs]
            try:
                shown = 0
                while not all(f.done() for f in futures):
                    done = sum(run.monitor.iterations for run in runs)
                    bar.update(done - shown)
                    shown = done
                    wait(futures, timeout=0.1 if live else 1.0, return_when=FIRST_EXCEPTION)
                bar.update(sum(run.monitor.iterations for run in runs) - shown)
                for future in futures:
                    future.result()
            except BaseException:
                # Running chains stop at their next iteration; queued ones never start.
                for run in runs:
                    run.monitor.request_stop()
                for future in futures:
                    future.cancel()
                raise

        failures = [reason for reason in (run.failure() for run in runs) if reason]
        if failures:
            raise RuntimeError("Stan sampling failed:\n" + "\n".join(failures))
        if not live:
            report("sample", f"Sampled {chains} in {time.perf_counter() - start:.1f} s")
        return RawDraws(
            columns=runs[0].columns,
            values=np.stack([run.draws for run in runs]),
            step_size=np.array([run.step_size for run in runs]),
            inv_metric=np.array([run.inv_metric for run in runs], dtype=np.float64),
            warmup_seconds=np.array([run.warmup_seconds for run in runs]),
            sampling_seconds=np.array([run.sampling_seconds for run in runs]),
            seed=settings.seed,
            backend=self.name,
            messages=[run.messages for run in runs],
        )


# Stan messages quoted when a chain fails.
_FAILURE_CONTEXT = 8
_ELAPSED = re.compile(r"([0-9.eE+-]+) seconds \((Warm-up|Sampling|Total)\)")


class _Chain:
    """One chain, run by the shim's in-memory NUTS (``Density.nuts``) in a worker thread."""

    def __init__(self, *, chain, density, shim, init, settings, threads):
        self.chain = chain
        self.density = density
        self.shim = shim
        self.init = init
        self.settings = settings
        self.threads = threads
        self.monitor = shim.Monitor()
        self.columns: list[str] = []
        self.draws = np.empty((0, 0))
        self.messages: list[str] = []
        self.step_size = np.nan
        self.inv_metric: list = []
        self.warmup_seconds = np.nan
        self.sampling_seconds = np.nan
        self.return_code: int | None = None
        self.interrupted = False
        self.exception: BaseException | None = None

    def run(self) -> None:
        names, values, dims, *_ = _split_data(self.init) if self.init else ([], [], [])
        output = {}

        def nuts():  # Density.nuts gives this thread its autodiff tape
            output["chain"] = self.density.nuts(
                init_names=names,
                init_values=values,
                init_dims=dims,
                chain=self.chain + 1,
                monitor=self.monitor,
                **self.settings,
            )

        try:
            if self.threads > 1:
                self.shim.run_with_threads(self.threads, nuts)
            else:
                nuts()
        except BaseException as err:  # reported by failure()
            self.exception = err
            return
        result = output["chain"]
        self.return_code = result.return_code
        self.interrupted = result.interrupted
        self.columns = list(result.names)
        width = max(1, len(self.columns))
        self.draws = np.asarray(result.draws, dtype=np.float64).reshape(-1, width)
        self._adaptation(list(result.adaptation))
        for text in result.log:
            self._log(text)

    def _adaptation(self, lines: list[str]) -> None:
        """Inverse metric from the messages Stan writes after adaptation (6 significant digits)
        and the step size at full precision from the draws (no draws: not known)."""
        for k, text in enumerate(lines):
            if text.startswith("Diagonal elements of inverse mass matrix"):
                self.inv_metric = [float(v) for v in lines[k + 1].split(",")]
            elif text.startswith("Elements of inverse mass matrix"):
                dim = len(lines[k + 1].split(","))
                self.inv_metric = [
                    [float(v) for v in row.split(",")] for row in lines[k + 1 : k + 1 + dim]
                ]
        if self.settings["metric"] == "unit_e":
            self.inv_metric = [1.0] * self.density.dim
        if self.columns and len(self.draws):
            self.step_size = float(self.draws[0, self.columns.index("stepsize__")])

    def _log(self, text: str) -> None:
        elapsed = _ELAPSED.search(text)
        if elapsed:
            seconds = float(elapsed.group(1))
            if elapsed.group(2) == "Warm-up":
                self.warmup_seconds = seconds
            elif elapsed.group(2) == "Sampling":
                self.sampling_seconds = seconds
            return
        if text.strip():
            self.messages.append(text.strip())

    def failure(self) -> str:
        """Why this chain failed, or ``''``."""
        if self.exception is None and self.return_code == 0 and len(self.draws):
            return ""
        if self.interrupted:
            return f"chain {self.chain + 1}: interrupted"
        # Stan logs the cause (an exception, a rejected initial value) just before giving up.
        reasons = self.messages[-_FAILURE_CONTEXT:]
        if self.exception is not None:
            reasons.append(f"{type(self.exception).__name__}: {self.exception}")
        elif self.return_code:
            reasons.append(f"return code {self.return_code}")
        return f"chain {self.chain + 1}: " + " | ".join(reasons or ["no draws were written"])
