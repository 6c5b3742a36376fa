"""unite_stan.batch: a dask batch compiles once and recovers the truths; a killed batch resumes
to the same catalogue; bad catalogue rows are recorded as failed while the rest completes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import _simulate as sim
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table

pytestmark = pytest.mark.stan

N_OBJECTS = 12
DRAWS = {"num_warmup": 300, "num_samples": 300, "num_chains": 2}
PARAMETERS = ("z_narrow", "fwhm_gauss_narrow", "flux_Ha", "flux_NII_6549", "flux_SII_6717")


def _fresh_cache(tmp_path: Path, monkeypatch) -> Path:
    """A cache holding the backend's own parts (shim, precompiled header) of the user cache,
    linked, but no model: the tutorial's structure compiles anew in it."""
    from unite_stan.stan import cache
    from unite_stan.stan.backends import get_backend

    get_backend("embedded").prepare(progress=False)  # the backend's own parts, built if missing
    source = cache.cache_root() / "embedded"
    root = tmp_path / "cache"
    (root / "embedded").mkdir(parents=True)
    for entry in source.glob("*"):
        if entry.is_dir() and not (entry / cache.PROGRAM_FILE).exists():
            (root / "embedded" / entry.name).symlink_to(entry)
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def _models(root: Path) -> list[Path]:
    return sorted(p for p in (root / "embedded").glob("*") if (p / "model.stan").is_file())


def test_dask_batch_compiles_once_and_recovers_truths(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    import xarray as xr

    from unite_stan.batch import fit_many

    root = _fresh_cache(tmp_path, monkeypatch)
    source = [(f"sim{i:02d}", sim.spectrum(i), 0.0) for i in range(N_OBJECTS)]
    out = tmp_path / "out"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = fit_many(
            sim.configuration(), source, output_dir=out, executor=client, seed=11,
            scale_kwargs=sim.SCALES, progress=False, **DRAWS,
        )  # fmt: skip
    # one compile, in the parent; the workers only loaded it (they may not compile at all)
    assert len(result.compiled) == 1
    assert [p.name for p in _models(root)] == [result.compiled[0][:16]]
    assert result.settings["parallel_chains"] == 1  # 2 workers on 2 cores: one chain each
    assert sorted(result.statuses) == [f"sim{i:02d}" for i in range(N_OBJECTS)]
    assert all(s["status"] in ("ok", "poor_convergence") for s in result.statuses.values())

    inside = []
    for i in range(N_OBJECTS):
        # the FITS file's parameter table: percentiles 2.5 ... 97.5 in physical units
        table = QTable.read(out / f"sim{i:02d}.fits", hdu="PARAMETERS")
        assert list(table["percentile"]) == [0.025, 0.16, 0.5, 0.84, 0.975]
        t = sim.truth(i)
        truths = {"z_narrow": t["z"], "fwhm_gauss_narrow": t["fwhm_kms"], **sim.true_fluxes(i)}
        for name in PARAMETERS:
            column = table[name]
            low, high = np.asarray(getattr(column, "value", column))[[0, -1]]
            inside.append(low <= truths[name] <= high)
    assert np.mean(inside) >= 0.9, f"{np.mean(inside):.2f} of truths inside the 95% intervals"

    catalogue = Table.read(result.catalogue)
    assert len(catalogue) == N_OBJECTS
    assert list(catalogue["id"]) == [f"sim{i:02d}" for i in range(N_OBJECTS)]
    assert str(catalogue["flux_Ha_p50"].unit) == "erg / (s cm2)"
    flux = [sim.true_fluxes(i)["flux_Ha"] for i in range(N_OBJECTS)]
    np.testing.assert_allclose(catalogue["flux_Ha_p50"], flux, rtol=0.1)
    for group in ("sample_stats", "log_likelihood", "observed_data"):
        ds = xr.open_dataset(out / "sim00.nc", group=group, engine="h5netcdf")
        assert len(ds.data_vars) > 0, group
        ds.close()


def _status_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.status.json"))


def test_sigkill_then_resume_gives_the_uninterrupted_catalogue(tmp_path):
    from unite_stan.batch import fit_many, is_complete

    n = 8
    script = Path(sim.__file__)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(script.parents[2]), str(script.parent)]),
    }
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, str(script), str(killed), str(n)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while len(_status_files(killed)) < 3 and time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = _status_files(killed)
    assert 3 <= len(finished) < n
    # whatever the kill left, only complete objects look complete
    for name in finished:
        assert is_complete(killed, name.removesuffix(".status.json"))

    source = [(f"sim{i:02d}", sim.spectrum(i), 0.0) for i in range(n)]
    kwargs = dict(seed=7, scale_kwargs=sim.SCALES, progress=False, **DRAWS)
    resumed = fit_many(sim.configuration(), source, output_dir=killed, **kwargs)
    assert sorted(resumed.skipped) == [f.removesuffix(".status.json") for f in finished]
    whole = fit_many(sim.configuration(), source, output_dir=tmp_path / "whole", **kwargs)
    assert whole.skipped == []

    a, b = Table.read(resumed.catalogue), Table.read(whole.catalogue)
    assert a.colnames == b.colnames and len(a) == n
    for name in a.colnames:
        assert list(a[name]) == list(b[name]), name
    names = sorted(p.name for p in killed.iterdir())
    assert not [p for p in names if p.startswith(".")], names  # no temporary file left
    assert names == sorted(
        [f"sim{i:02d}.{ext}" for i in range(n) for ext in ("nc", "fits", "status.json")]
        + ["catalogue.fits", "catalogue.csv"]
    )


def test_bad_catalogue_rows_are_recorded_as_failed(tmp_path):
    from unite_stan.batch import fit_many, is_complete, merge

    data = tmp_path / "data"
    data.mkdir()
    sim.write_table(sim.spectrum(0), data / "good.fits")
    sim.write_table(sim.spectrum(1), data / "dup.fits")
    (data / "garbage.fits").write_bytes(b"this is not a FITS file\n" * 10)
    sim.write_table(sim.spectrum(2), data / "nan.fits", nan_flux=True)
    sim.write_table(sim.spectrum(3), data / "small_errors.fits", error_factor=1 / 3)
    (tmp_path / "cat.csv").write_text(
        "id,path,loader,redshift\n"
        "good,data/good.fits,table,0.0\n"
        "small_errors,data/small_errors.fits,table,0.0\n"
        "missing,data/missing.fits,table,0.0\n"
        "garbage,data/garbage.fits,table,0.0\n"
        "allnan,data/nan.fits,table,0.0\n"
        "twice,data/dup.fits,table,0.0\n"
        "twice,data/good.fits,table,0.0\n"
        "badz,data/good.fits,table,abc\n"
        "badloader,data/good.fits,hubble,0.0\n"
    )
    out = tmp_path / "out"
    result = fit_many(
        sim.configuration(), tmp_path / "cat.csv", output_dir=out, seed=1,
        scale_kwargs=sim.SCALES, progress=False, **DRAWS,
    )  # fmt: skip
    statuses = result.statuses
    assert statuses["good"]["status"] in ("ok", "poor_convergence")
    # the model at each chain's median describes the data (chi^2 per pixel 1 +- sqrt(2 / N));
    # with errors 3 times too small, chi^2 per pixel is about 9: a misfit, with its outputs
    good, small = statuses["good"]["diagnostics"], statuses["small_errors"]["diagnostics"]
    assert good["chi2_limit"] == pytest.approx(1 + 5 * np.sqrt(2 / good["pixels"]))
    assert len(good["chi2_per_pixel_chains"]) == 2
    assert good["chi2_per_pixel"] == min(good["chi2_per_pixel_chains"])
    for chi2 in good["chi2_per_pixel_chains"]:
        assert abs(chi2 - 1) < 3 * np.sqrt(2 / good["pixels"])
    assert statuses["small_errors"]["status"] == "misfit"
    assert 7 < small["chi2_per_pixel"] < 11
    assert is_complete(out, "small_errors")
    errors = {k: v.get("error", "") for k, v in statuses.items() if v["status"] == "failed"}
    assert sorted(errors) == ["allnan", "badloader", "badz", "garbage", "missing", "twice"]
    assert (
        errors["missing"]
        == f"FileNotFoundError: spectrum file {data / 'missing.fits'} does not exist"
    )
    assert errors["garbage"].startswith(
        f"ValueError: {data / 'garbage.fits'} is not a readable FITS spectrum table"
    )
    assert errors["allnan"] == (
        f"ValueError: {data / 'nan.fits'}: no pixel has a finite flux and a finite positive "
        "error (600 pixels): nothing to fit"
    )
    assert errors["twice"] == (
        "ValueError: object id 'twice' appears 2 times (items [5, 6]); ids must be unique, so "
        "none of these items was fitted"
    )
    assert (
        errors["badz"] == "ValueError: catalogue line 9: redshift 'abc' is not a finite number > -1"
    )
    assert errors["badloader"] == (
        "ValueError: catalogue line 10: loader 'hubble' is not one of ['sdss', 'desi', 'dja', 'table']"
    )
    catalogue = Table.read(merge(out))
    assert len(catalogue) == 8
    status = dict(zip(catalogue["id"], catalogue["status"], strict=True))
    assert status["twice"] == "failed" and status["small_errors"] == "misfit"
    chi2 = dict(zip(catalogue["id"], catalogue["chi2_per_pixel"], strict=True))
    assert chi2["small_errors"] == pytest.approx(small["chi2_per_pixel"], rel=1e-12)
    assert np.ma.is_masked(chi2["missing"]) or np.isnan(chi2["missing"])  # NaN, read as masked
    record = json.loads((out / "missing.status.json").read_text())
    assert record["status"] == "failed" and "traceback" in record


def test_a_worker_hands_an_uncompiled_program_back(tmp_path, monkeypatch):
    from unite_stan.batch import _run_task, _Task

    root = _fresh_cache(tmp_path, monkeypatch)
    job = {
        "config": sim.configuration().to_yaml(),
        "output_dir": str(tmp_path),
        "seed": 0,
        "fit_kwargs": {**DRAWS, "backend": "embedded", "parallel_chains": 1},
        "scale_kwargs": sim.SCALES,
        "rhat_max": 1.01,
        "min_ess_per_chain": 100.0,
        "fits": True,
    }
    record = _run_task(_Task("a", sim.spectrum(0), 0.0), job)
    assert record["status"] == "needs_compile" and record["backend"] == "embedded"
    assert record["code"].startswith("// Generated by unite_stan")
    assert _models(root) == []  # nothing compiled
    assert list(tmp_path.glob("a.*")) == []  # and nothing written for the object


def test_process_pool_batch(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from unite_stan.batch import fit_many

    source = [(f"p{i}", sim.spectrum(i), 0.0) for i in range(3)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        result = fit_many(
            sim.configuration(), source, output_dir=tmp_path, executor=pool, seed=5,
            scale_kwargs=sim.SCALES, progress=False, **DRAWS,
        )  # fmt: skip
    assert sorted(result.statuses) == ["p0", "p1", "p2"]
    assert {s["status"] for s in result.statuses.values()} <= {"ok", "poor_convergence"}
    serial = fit_many(
        sim.configuration(), source[1:2], output_dir=tmp_path / "serial", seed=5,
        scale_kwargs=sim.SCALES, progress=False, parallel_chains=1, **DRAWS,
    )  # fmt: skip
    # same seed, same chains at once: the same numbers in a pool worker and in this process
    assert serial.statuses["p1"]["parameters"] == result.statuses["p1"]["parameters"]


def _compile_tutorial(root: str) -> tuple[list[str], str]:
    """In a child process: build the tutorial's program in the cache at ``root``; returns the
    keys this process built and the build record's creation time."""
    os.environ["UNITE_STAN_CACHE"] = root
    from unite_stan.batch import _counting_builds
    from unite_stan.model import ModelBuilder
    from unite_stan.stan.backends import get_backend

    spectra = sim.spectrum(0)
    config = sim.configuration()
    from unite_stan.spectrum import Spectra

    spectra = Spectra([spectra], redshift=0.0)
    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont, **sim.SCALES)
    program, _ = ModelBuilder(lines, cont, spectra).build()
    with _counting_builds() as built:
        model = get_backend("embedded").compile(program.code, progress=False)
    return list(built), model.record.created


def test_four_processes_building_one_new_structure_compile_once(tmp_path, monkeypatch):
    import multiprocessing

    root = _fresh_cache(tmp_path, monkeypatch)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_compile_tutorial, [str(root)] * 4)
    built = [key for keys, _ in results for key in keys]
    assert len(built) == 1  # one process compiled
    assert len({created for _, created in results}) == 1  # all four hold the same build
    assert [p.name for p in _models(root)] == [built[0][:16]]


def test_without_fits_files_and_resuming_with_them(tmp_path):
    from unite_stan.batch import fit_many

    source = [(f"n{i}", sim.spectrum(i), 0.0) for i in (6, 7)]
    kwargs = {"seed": 3, "scale_kwargs": sim.SCALES, "progress": False, **DRAWS}
    bare = fit_many(sim.configuration(), source, output_dir=tmp_path, fits=False, **kwargs)
    assert sorted(p.name for p in tmp_path.glob("n*")) == [
        "n6.nc", "n6.status.json", "n7.nc", "n7.status.json",
    ]  # fmt: skip
    assert all("fits" not in r["files"] for r in bare.statuses.values())
    # without FITS, finished as they are
    again = fit_many(sim.configuration(), source, output_dir=tmp_path, fits=False, **kwargs)
    assert sorted(again.skipped) == ["n6", "n7"]
    # asking for the FITS files refits both: same seeds, same draws, same catalogue
    full = fit_many(sim.configuration(), source, output_dir=tmp_path, **kwargs)
    assert full.skipped == [] and sorted(p.name for p in tmp_path.glob("n*.fits")) == [
        "n6.fits", "n7.fits",
    ]  # fmt: skip
    for oid, record in full.statuses.items():
        assert record["parameters"] == bare.statuses[oid]["parameters"]
    with fits.open(tmp_path / "n6.fits") as hdul:  # the median row is the catalogue's p50
        table = hdul["PARAMETERS"].data
        median = table["flux_Ha"][list(table["percentile"]).index(0.5)]
    assert median == full.statuses["n6"]["parameters"]["flux_Ha"]["p50"]
    # a FITS file the record lists is checked even with fits=False: a damaged one is refitted
    (tmp_path / "n7.fits").write_bytes(b"damaged")
    last = fit_many(sim.configuration(), source, output_dir=tmp_path, fits=False, **kwargs)
    assert last.skipped == ["n6"]
    assert not (tmp_path / "n7.fits").exists()  # the refit without FITS removed the stale one
    assert last.statuses["n7"]["parameters"] == bare.statuses["n7"]["parameters"]


def test_resume_refits_objects_whose_inputs_changed(tmp_path):
    from unite_stan.batch import fit_many

    data = tmp_path / "data"
    data.mkdir()
    for i in (4, 5):
        sim.write_table(sim.spectrum(i), data / f"s{i}.fits")
    catalogue = tmp_path / "cat.csv"
    catalogue.write_text(
        "id,path,loader,redshift\nr4,data/s4.fits,table,0.0\nr5,data/s5.fits,table,0.0\n"
    )
    out = tmp_path / "out"
    kwargs = {"seed": 4, "scale_kwargs": sim.SCALES, "progress": False, "fits": False, **DRAWS}
    first = fit_many(sim.configuration(), catalogue, output_dir=out, **kwargs)
    assert first.skipped == [] and first.count("failed") == 0
    table = Table.read(out / "catalogue.fits")
    assert list(table["redshift"]) == [0.0, 0.0]
    # how the chains share the cores is not an input: the draws are the same
    same = fit_many(sim.configuration(), catalogue, output_dir=out, parallel_chains=1, **kwargs)
    assert sorted(same.skipped) == ["r4", "r5"]
    # a spectrum file replaced: that object is fitted again, with a warning naming it
    sim.write_table(sim.spectrum(5), data / "s5.fits", error_factor=2.0, overwrite=True)
    with pytest.warns(UserWarning, match=r"1 finished object\(s\) in .* are fitted again: r5$"):
        replaced = fit_many(sim.configuration(), catalogue, output_dir=out, **kwargs)
    assert replaced.skipped == ["r4"]
    assert replaced.statuses["r5"]["parameters"] != first.statuses["r5"]["parameters"]
    # more draws, another redshift or another configuration: fitted again
    with pytest.warns(UserWarning, match="fitted again"):
        more = fit_many(
            sim.configuration(), catalogue, output_dir=out, **{**kwargs, "num_samples": 310}
        )
    assert more.skipped == [] and more.statuses["r4"]["diagnostics"]["draws"] == 310
    catalogue.write_text(
        "id,path,loader,redshift\nr4,data/s4.fits,table,0.0001\nr5,data/s5.fits,table,0.0\n"
    )
    with pytest.warns(UserWarning, match="fitted again"):
        moved = fit_many(
            sim.configuration(), catalogue, output_dir=out, **{**kwargs, "num_samples": 310}
        )
    assert moved.skipped == ["r5"] and moved.statuses["r4"]["redshift"] == 0.0001
    from unite_stan.config import Configuration

    wider = sim.configuration().to_yaml().replace("high: 500.0", "high: 600.0")  # a FWHM prior
    with pytest.warns(UserWarning, match="fitted again"):
        other = fit_many(
            Configuration.from_yaml(wider),
            catalogue,
            output_dir=out,
            **{**kwargs, "num_samples": 310},
        )
    assert other.skipped == []


def test_outputs_read_back_with_arviz_and_to_arviz(tmp_path):
    import xarray as xr

    from unite_stan.batch import fit_many, netcdf_engine
    from unite_stan.diagnostics import rhat
    from unite_stan.model import ModelBuilder
    from unite_stan.spectrum import Spectra

    result = fit_many(
        sim.configuration(), [("x", sim.spectrum(3), 0.0)], output_dir=tmp_path, seed=2,
        scale_kwargs=sim.SCALES, progress=False, **DRAWS,
    )  # fmt: skip
    record = result.statuses["x"]
    tree = xr.open_datatree(tmp_path / "x.nc", engine="h5netcdf")
    assert sorted(tree.children) == ["log_likelihood", "observed_data", "posterior", "sample_stats"]
    free = json.loads(tree["posterior"].attrs["free_sites"])
    rhats = [rhat(tree["posterior"][name].values) for name in free]
    assert max(rhats) == record["diagnostics"]["rhat_max"]
    assert int(tree["sample_stats"]["diverging"].sum()) == record["diagnostics"]["divergences"]
    assert tree["sample_stats"]["diverging"].dtype == bool
    assert tree["log_likelihood"]["spectra"].dims == ("chain", "draw", "spectrum")
    assert tree["observed_data"]["flux_grism"].attrs["unit"] == "erg / (Angstrom s cm2)"
    # the scales to physical units, as the FITS file's header has them
    with fits.open(tmp_path / "x.fits") as hdul:
        header = hdul[0].header
        for key in ("LFLXUNT", "CNTUNT"):
            assert tree["posterior"].attrs[key] == header[key], key
        for key in ("ZSYS", "LFLXSCL", "CNTSCL"):  # the header's cards hold 16 digits
            assert tree["posterior"].attrs[key] == pytest.approx(header[key], rel=1e-15), key
    median = float(np.median(tree["posterior"]["flux_Ha"].values))
    physical = median * tree["posterior"].attrs["LFLXSCL"]
    assert physical == pytest.approx(record["parameters"]["flux_Ha"]["p50"], rel=1e-12)

    # the same groups in memory from an interactive fit
    config = sim.configuration()
    spectra = Spectra([sim.spectrum(3)], redshift=0.0)
    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont, **sim.SCALES)
    _, args = ModelBuilder(lines, cont, spectra).fit(
        seed=record["seed"], progress_bar=False, parallel_chains=2, **DRAWS
    )
    interactive = args.to_arviz()
    np.testing.assert_array_equal(
        interactive["posterior"]["flux_Ha"].values, tree["posterior"]["flux_Ha"].values
    )
    # the batch writes with netCDF-C (the test extra installs netCDF4); read back by h5netcdf,
    # every group holds what h5netcdf itself writes
    assert netcdf_engine() == "netcdf4"
    for engine in ("netcdf4", "h5netcdf"):
        interactive.to_netcdf(tmp_path / f"{engine}.nc", engine=engine)
    c_written, h5_written = (
        xr.open_datatree(tmp_path / f"{engine}.nc", engine="h5netcdf")
        for engine in ("netcdf4", "h5netcdf")
    )
    for group in tree.children:
        xr.testing.assert_identical(c_written[group].to_dataset(), h5_written[group].to_dataset())
    az = pytest.importorskip("arviz")
    idata = az.from_netcdf(tmp_path / "x.nc")
    assert set(idata.groups()) == {"posterior", "sample_stats", "log_likelihood", "observed_data"}
    summary = az.summary(idata, var_names=free, kind="diagnostics")
    np.testing.assert_allclose(summary["r_hat"].max(), max(rhats), atol=0.005)


def test_command_line_fit_and_batch(tmp_path, capsys):
    from unite_stan.cli import main

    sim.configuration().save(tmp_path / "fit.yaml")
    sim.write_table(sim.spectrum(4), tmp_path / "s4.fits", redshift=0.0)
    sim.write_table(sim.spectrum(5), tmp_path / "s5.fits", redshift=0.0)
    # s5 leaves its loader and redshift to the file
    (tmp_path / "cat.csv").write_text(
        "id,path,loader,redshift\ns4,s4.fits,table,0\ns5,s5.fits,,\nlost,none.fits,table,0\n"
    )
    draws = ["--num-warmup", "300", "--num-samples", "300", "-q"]
    out = tmp_path / "out"
    # as issue 15 writes it: loader and redshift read from the file, and said so
    argv = ["fit", str(tmp_path / "fit.yaml"), str(tmp_path / "s4.fits")]
    assert main([*argv, "-o", str(out), *draws]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("1 objects: ")
    assert captured.err.startswith(
        "unite-stan fit: loader table (recognised from the file)\n"
        "unite-stan fit: redshift 0 (from the file's header keyword REDSHIFT of HDU 1; "
    )
    assert sorted(p.name for p in out.glob("s4.*")) == ["s4.fits", "s4.nc", "s4.status.json"]
    # the same object again, from the catalogue: already done (its FITS file is checked, though
    # --no-fits writes none for s5); 'lost' fails, so exit status 1
    argv = ["batch", str(tmp_path / "fit.yaml"), str(tmp_path / "cat.csv"), "-o", str(out)]
    assert main([*argv, *draws, "--workers", "2", "--no-fits"]) == 1
    assert sorted(p.name for p in out.glob("s5.*")) == ["s5.nc", "s5.status.json"]
    record = json.loads((out / "s5.status.json").read_text())
    assert record["read_from_file"] == {
        "loader": "table",
        "redshift": "header keyword REDSHIFT of HDU 1",
    }
    assert record["redshift"] == 0.0
    assert (out / "s4.fits").is_file()
    summary = capsys.readouterr().out
    assert re.fullmatch(
        r"3 objects: \d ok, \d poor convergence, \d misfit, 1 failed \(1 already done\); "
        r"catalogue " + re.escape(str(out / "catalogue.fits") + "\n"),
        summary,
    ), summary
    assert sorted(Table.read(out / "catalogue.fits")["id"]) == ["lost", "s4", "s5"]
