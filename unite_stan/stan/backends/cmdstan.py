"""CmdStan backend: a thin adapter over cmdstanpy, used when a CmdStan installation exists.

Executables live in the same cache layout as the embedded backend's libraries. Output is
converted to :class:`~unite_stan.stan.backends.base.RawDraws` with httpstan's column names
(``'xi.1'`` where CmdStan writes ``'xi[1]'``), so everything downstream is backend-agnostic.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from unite_stan.stan import cache
from unite_stan.stan.backends.base import (
    Backend,
    BuildRecord,
    CompiledModel,
    LogDensity,
    RawDraws,
)

__all__ = ["CmdStanBackend", "CmdStanLogDensity", "flat_column_name"]

_INDEX = re.compile(r"\[([0-9,]+)\]$")


def flat_column_name(name: str) -> str:
    """httpstan's spelling of a CmdStan column name (``'xi[1]'`` -> ``'xi.1'``).

    ``'m[1,2]'`` becomes ``'m.1.2'``; names without indices are returned unchanged.
    """
    return _INDEX.sub(lambda match: "." + match.group(1).replace(",", "."), name)


class CmdStanLogDensity(LogDensity):
    """Log density through the executable's ``log_prob`` method (one process per call: slow).

    Meant for checks and the pilot of small models, not for heavy use.
    """

    def __init__(self, exe_file: str, data: dict, dim: int):
        self._exe = exe_file
        self._data = data
        self.dim = dim

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        x = self._check(x)
        with tempfile.TemporaryDirectory(prefix="unite_stan_logprob_") as tmp:
            data_file = os.path.join(tmp, "data.json")
            params_file = os.path.join(tmp, "upars.json")
            output = os.path.join(tmp, "output.csv")
            _write_json(data_file, self._data)
            _write_json(params_file, {"params_r": [x.tolist()]})
            command = [
                self._exe,
                "log_prob",
                f"unconstrained_params={params_file}",
                "jacobian=1",
                "data",
                f"file={data_file}",
                "output",
                f"file={output}",
                "sig_figs=18",
            ]
            completed = subprocess.run(command, capture_output=True, text=True)
            if completed.returncode != 0:
                raise RuntimeError(
                    f"CmdStan log_prob failed (exit code {completed.returncode}):\n"
                    f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
                )
            rows = [line for line in Path(output).read_text().splitlines() if line[:1] != "#"]
        values = np.array([float(v) for v in rows[1].split(",")])
        return float(values[0]), values[1:]

    def log_prob(self, x: np.ndarray) -> float:
        return self(x)[0]


def _write_json(path: str, values: Mapping[str, Any]) -> None:
    from cmdstanpy import write_stan_json

    write_stan_json(path, dict(values))


class CmdStanBackend(Backend):
    """Builds executables with CmdStan and samples with cmdstanpy.

    Parameters
    ----------
    stanc_options, cpp_options : dict, optional
        Passed to ``cmdstanpy.CmdStanModel``; part of the cache key. ``stanc_options`` defaults
        to ``{'O1': True}``, matching the embedded backend's stanc optimisation, and
        ``cpp_options`` to ``{'STAN_THREADS': True}`` (the embedded backend is threaded too).
    """

    name = "cmdstan"
    metrics = ("diag_e", "dense_e", "unit_e")

    def __init__(
        self,
        stanc_options: Mapping[str, Any] | None = None,
        cpp_options: Mapping[str, Any] | None = None,
    ):
        self.stanc_options = dict({"O1": True} if stanc_options is None else stanc_options)
        # Threaded builds, so threads_per_chain can split a likelihood with reduce_sum.
        self.cpp_options = dict({"STAN_THREADS": True} if cpp_options is None else cpp_options)

    def identity(self) -> str:
        import cmdstanpy
        from cmdstanpy.utils import cmdstan_version

        return (
            f"CmdStan {cmdstan_version()} at {cmdstanpy.cmdstan_path()}; "
            f"cmdstanpy {cmdstanpy.__version__}"
        )

    def options(self) -> dict:
        """stanc and C++ options; part of every cache key of this backend."""
        return {"stanc_options": self.stanc_options, "cpp_options": self.cpp_options}

    def compile(self, code: str, *, progress: bool = True) -> CompiledModel:
        from cmdstanpy import CmdStanModel

        options = self.options()
        key = cache.program_hash(code, self.identity(), options)
        record, _ = cache.build_entry(
            self.name,
            key,
            code,
            functools.partial(self._build, key=key, options=options),
            progress=progress,
        )
        handle = CmdStanModel(
            stan_file=str(record.directory / cache.PROGRAM_FILE), exe_file=record.artifact
        )
        return CompiledModel(backend=self.name, record=record, handle=handle, code=code)

    def _build(self, workdir: Path, final: Path, *, key: str, options: dict) -> BuildRecord:
        from cmdstanpy import CmdStanModel

        start = time.perf_counter()
        model = CmdStanModel(
            stan_file=str(workdir / cache.PROGRAM_FILE),
            stanc_options=options["stanc_options"],
            cpp_options=options["cpp_options"],
        )
        exe = Path(model.exe_file)
        return BuildRecord(
            program_hash=key,
            backend=self.name,
            backend_identity=self.identity(),
            options=options,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            compile_seconds=round(time.perf_counter() - start, 2),
            artifact=str(final / exe.name),
            command=f"cmdstanpy.CmdStanModel(stan_file='model.stan', **{options!r})",
        )

    def log_density(self, model: CompiledModel, data: dict) -> CmdStanLogDensity:
        dim = _unconstrained_dim(model.handle, data)
        return CmdStanLogDensity(model.record.artifact, data, dim)

    def _sample(
        self,
        model: CompiledModel,
        data: dict,
        *,
        num_warmup: int,
        num_samples: int,
        num_chains: int,
        seed: int,
        inits: list[dict[str, np.ndarray]] | None,
        adapt_delta: float,
        max_treedepth: int,
        parallel_chains: int,
        threads_per_chain: int,
        progress: bool,
        metric: str,
    ) -> RawDraws:
        threads = {"threads_per_chain": threads_per_chain} if threads_per_chain > 1 else {}
        fit = model.handle.sample(
            data=data,
            chains=num_chains,
            parallel_chains=parallel_chains,
            **threads,
            seed=seed,
            inits=inits,
            iter_warmup=num_warmup,
            iter_sampling=num_samples,
            adapt_delta=adapt_delta,
            max_treedepth=max_treedepth,
            metric=metric,
            show_progress=progress,
        )
        return RawDraws(
            columns=[flat_column_name(name) for name in fit.column_names],
            # cmdstanpy orders (draw, chain, column); RawDraws is (chain, draw, column).
            values=np.ascontiguousarray(
                np.transpose(fit.draws(concat_chains=False), (1, 0, 2)), dtype=np.float64
            ),
            step_size=np.asarray(fit.step_size, dtype=np.float64),
            inv_metric=np.asarray(fit.metric, dtype=np.float64),
            warmup_seconds=np.array([chain["warmup"] for chain in fit.time]),
            sampling_seconds=np.array([chain["sampling"] for chain in fit.time]),
            seed=seed,
            backend=self.name,
        )


def _unconstrained_dim(model: Any, data: dict) -> int:
    """Number of unconstrained parameters of ``model`` (a CmdStanModel) given ``data``.

    CmdStan states it nowhere directly; the diagnostic file of a one-draw run has one momentum
    column (``p_<name>``) per unconstrained parameter.
    """
    fit = model.sample(
        data=data,
        chains=1,
        iter_warmup=0,
        iter_sampling=1,
        seed=1,
        save_diagnostics=True,
        show_progress=False,
    )
    with open(fit.runset.diagnostic_files[0]) as diagnostics:
        header = next(line for line in diagnostics if not line.startswith("#"))
    return sum(name.startswith("p_") for name in header.strip().split(","))
