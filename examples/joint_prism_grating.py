"""One source seen by JWST/NIRSpec's PRISM and G395M at z ≈ 5, fitted jointly.

A simulated galaxy at z = 5.0012 with narrow Hβ, [OIII]4960,5008, Hα and [NII]6550,6585 (one
redshift and one narrow FWHM for all of them) and a broad Hα (same redshift, its own FWHM), on
a linear continuum, observed twice: with the low-resolution PRISM (R ≈ 180-310 here) and the
medium-resolution G395M grating (R ≈ 1350-1700). The doublets have their theoretical ratios
([OIII] 5008/4960 = 2.98, [NII] 6585/6550 = 2.94), so each has one flux: that of its weaker
line.

Calibration: the PRISM spectrum is 12 % too bright (``flux_scale``) and its wavelength grid is
off by 0.35 pixel (``pix_offset``); both are free parameters of the PRISM disperser. The G395M
disperser keeps its tokens Fixed (flux scale 1, offset 0): it is the reference. With both
free, ``InstrumentConfig.validate()`` warns, because the flux scales would then be degenerate
with every flux and the offsets with the redshift; the script prints those warnings for that
set-up, then checks that its own is silent.

The simulation is an independent forward model written here with numpy and scipy: each line a
Gaussian of FWHM sqrt(W² + L²) (W the intrinsic width, L = λ/R(λ) the disperser's resolution
FWHM at the line's observed centre), integrated over each pixel with differences of erf; the
continuum averaged over each pixel; the PRISM's pixels seeing the wavelengths e − p·dλ/dpix(e)
of their nominal edges e and the PRISM flux multiplied by its scale. Pixel grids follow each
disperser's dispersion dλ/dpix over the grating's range around the lines; Gaussian noise of one
σ per spectrum (PRISM continuum S/N 10 per pixel, G395M 1 per pixel).

The fit (4 chains × 1000 warmup + 1000 draws, embedded backend, seed 1) prints every truth
against its posterior median and 95 % interval, R-hat max and bulk ESS min, and saves a
two-panel plot (data, model and components over residuals) to
``examples/output/joint_prism_grating.png``.

Run:  python examples/joint_prism_grating.py
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from scipy.special import erf

from unite_stan import continuum, diagnostics, line, model, plot, prior, results, spectrum
from unite_stan.instrument import FluxScale, InstrumentConfig, PixOffset
from unite_stan.instrument.nirspec import G395M, PRISM

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "output"
C_KMS = 299_792.458
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
FLUX_DENSITY_UNIT = 1e-20 * u.erg / u.s / u.cm**2 / u.AA
LINE_FLUX_UNIT = 1e-18 * u.erg / u.s / u.cm**2

#: Systemic redshift given to ``Spectra`` (a catalogue guess); the fitted redshift is an offset.
Z_SYS = 5.0

#: Rest wavelengths in vacuum (Å; NIRSpec's wavelength scale is in vacuum).
REST = {
    "Hb": 4862.68,
    "OIII_4960": 4960.29,
    "OIII_5008": 5008.24,
    "NII_6550": 6549.86,
    "Ha": 6564.61,
    "NII_6585": 6585.27,
}
OIII_RATIO = 2.98
NII_RATIO = 2.94

TRUTH = {
    "z": 5.0012,
    "fwhm_narrow": 250.0,  # km/s, intrinsic
    "fwhm_broad": 2500.0,  # km/s
    # line fluxes in 1e-18 erg/s/cm²; the doublets' fluxes are those of their weaker lines
    "flux_Hb": 5.0,
    "flux_OIII": 5.0,
    "flux_Ha": 15.0,
    "flux_NII": 1.5,
    "flux_Ha_broad": 20.0,
    # continuum f_λ = level + slope·(λ − 3.5 µm), in 1e-20 erg/s/cm²/Å and that per µm
    "continuum_level": 1.0,
    "continuum_slope": -0.15,
    "flux_scale_PRISM": 1.12,
    "pix_offset_PRISM": 0.35,  # pixels
}
#: One noise σ per spectrum, in 1e-20 erg/s/cm²/Å.
NOISE = {"PRISM": 0.1, "G395M": 1.0}
#: Simulated wavelength ranges in µm: the grating ranges around the lines (G395M's from its
#: blue cut-off at 2.87 µm).
SIMULATED_RANGE = {"PRISM": (2.6, 4.4), "G395M": (2.87, 4.4)}


def pixel_edges(disperser, start: float, stop: float) -> np.ndarray:
    """Pixel edges (µm) from ``start`` to ``stop``, each pixel as wide as dλ/dpix at its centre."""
    edges = [start]
    while edges[-1] < stop:
        half = 0.5 * float(disperser.dlam_dpix(edges[-1]))
        edges.append(edges[-1] + float(disperser.dlam_dpix(edges[-1] + half)))
    return np.array(edges)


def true_components() -> list[tuple[str, float, float, float]]:
    """(name, rest wavelength Å, flux 1e-18 erg/s/cm², intrinsic FWHM km/s) of every line."""
    narrow, broad = TRUTH["fwhm_narrow"], TRUTH["fwhm_broad"]
    return [
        ("Hb", REST["Hb"], TRUTH["flux_Hb"], narrow),
        ("OIII_4960", REST["OIII_4960"], TRUTH["flux_OIII"], narrow),
        ("OIII_5008", REST["OIII_5008"], OIII_RATIO * TRUTH["flux_OIII"], narrow),
        ("NII_6550", REST["NII_6550"], TRUTH["flux_NII"], narrow),
        ("Ha", REST["Ha"], TRUTH["flux_Ha"], narrow),
        ("NII_6585", REST["NII_6585"], NII_RATIO * TRUTH["flux_NII"], narrow),
        ("Ha_broad", REST["Ha"], TRUTH["flux_Ha_broad"], broad),
    ]


def simulate(disperser, edges: np.ndarray, *, flux_scale: float, pix_offset: float) -> np.ndarray:
    """Observed f_λ per pixel (1e-20 erg/s/cm²/Å) of the true source, noiseless.

    The pixels between the nominal ``edges`` see the wavelengths ``edges − pix_offset ·
    dλ/dpix(edges)``; each line is a Gaussian of FWHM sqrt(W² + L²), with W its intrinsic
    FWHM and L = λ/R(λ) the resolution FWHM at its observed centre, averaged over the pixel.
    """
    true_edges = edges - pix_offset * np.array([float(disperser.dlam_dpix(e)) for e in edges])
    width_aa = np.diff(true_edges) * 1e4
    model_flux = np.zeros(edges.size - 1)
    for _, rest, flux, fwhm_kms in true_components():
        center = rest * 1e-4 * (1.0 + TRUTH["z"])  # µm
        lsf = center / float(disperser.R(center))
        sigma = np.hypot(center * fwhm_kms / C_KMS, lsf) * FWHM_TO_SIGMA
        cdf = 0.5 * erf((true_edges - center) / (np.sqrt(2.0) * sigma))
        # 1e-18 erg/s/cm² spread over the pixel's Å: 100 × 1e-20 erg/s/cm²/Å
        model_flux += 100.0 * flux * np.diff(cdf) / width_aa
    middle = 0.5 * (true_edges[1:] + true_edges[:-1])
    model_flux += TRUTH["continuum_level"] + TRUTH["continuum_slope"] * (middle - 3.5)
    return flux_scale * model_flux


def simulated_spectra(rng: np.random.Generator):
    """The PRISM spectrum (free flux scale and pixel offset) and the G395M one (reference)."""
    prism = PRISM(
        flux_scale=FluxScale(prior=prior.Uniform(0.5, 1.5)),
        pix_offset=PixOffset(prior=prior.Uniform(-1.5, 1.5)),
    )
    grating = G395M()
    out = []
    for disperser in (prism, grating):
        name = disperser.name
        edges = pixel_edges(disperser, *SIMULATED_RANGE[name])
        miscalibrated = name == "PRISM"
        mean = simulate(
            disperser,
            edges,
            flux_scale=TRUTH["flux_scale_PRISM"] if miscalibrated else 1.0,
            pix_offset=TRUTH["pix_offset_PRISM"] if miscalibrated else 0.0,
        )
        flux = mean + rng.normal(0.0, NOISE[name], mean.size)
        error = np.full(mean.size, NOISE[name])
        out.append(
            spectrum.from_edges(
                edges[:-1] * u.um,
                edges[1:] * u.um,
                flux * FLUX_DENSITY_UNIT,
                error * FLUX_DENSITY_UNIT,
                disperser,
            )
        )
    return out


def show_validate_warnings() -> None:
    """Print what ``validate()`` says when neither disperser is held Fixed as a reference."""
    both_free = InstrumentConfig(
        [
            disperser(
                flux_scale=FluxScale(prior=prior.Uniform(0.5, 1.5)),
                pix_offset=PixOffset(prior=prior.Uniform(-1.5, 1.5)),
            )
            for disperser in (PRISM, G395M)
        ]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        both_free.validate()
    print("validate() with every calibration token free:")
    for warning in caught:
        print(f"  {warning.message}")


def build_lines() -> line.LineConfiguration:
    """Six narrow lines and a broad Hα, one redshift; one FWHM for the narrow lines."""
    z = line.Redshift("source", prior=prior.Uniform(-0.01, 0.01))
    narrow = line.FWHM("narrow", prior=prior.Uniform(50.0, 800.0))
    broad = line.FWHM("broad", prior=prior.Uniform(1000.0, 6000.0))

    def flux(label=None):
        return line.Flux(label, prior=prior.Uniform(0.0, 5.0))

    lines = line.LineConfiguration()
    lines.add_line("Hb", REST["Hb"] * u.AA, redshift=z, fwhm_gauss=narrow, flux=flux())
    lines.add_lines(
        ["OIII_4960", "OIII_5008"],
        [REST["OIII_4960"], REST["OIII_5008"]] * u.AA,
        redshift=z,
        fwhm_gauss=narrow,
        flux=flux("OIII"),
        strength=[1.0, OIII_RATIO],
    )
    lines.add_lines(
        ["NII_6550", "NII_6585"],
        [REST["NII_6550"], REST["NII_6585"]] * u.AA,
        redshift=z,
        fwhm_gauss=narrow,
        flux=flux("NII"),
        strength=[1.0, NII_RATIO],
    )
    lines.add_line("Ha", REST["Ha"] * u.AA, redshift=z, fwhm_gauss=narrow, flux=flux())
    lines.add_line("Ha_broad", REST["Ha"] * u.AA, redshift=z, fwhm_gauss=broad, flux=flux())
    return lines


def truth_table(samples: dict, args, spectra) -> Table:
    """Every truth next to its posterior median and 95 % interval, in physical units."""
    table = results.make_parameter_table(samples, args)
    draws = {
        "z": Z_SYS + np.asarray(table["z_source"]),
        "fwhm_narrow": table["fwhm_gauss_narrow"].to_value(u.km / u.s),
        "fwhm_broad": table["fwhm_gauss_broad"].to_value(u.km / u.s),
        "flux_scale_PRISM": np.asarray(table["flux_scale_PRISM"]),
        "pix_offset_PRISM": np.asarray(table["pix_offset_PRISM"]),
    }
    for name in ("flux_Hb", "flux_OIII", "flux_Ha", "flux_NII", "flux_Ha_broad"):
        draws[name] = table[name].to_value(LINE_FLUX_UNIT)
    expected = {name: TRUTH[name] for name in draws}
    # continuum: level at each region's normalisation wavelength, and slope, observed frame
    cont_scale = spectra.continuum_scale.to_value(FLUX_DENSITY_UNIT)
    for letter, region in zip("ab", args.cont_config, strict=True):
        norm_wav = (region.center * region.unit).to_value(u.um) * (1.0 + Z_SYS)
        draws[f"scale_{letter}"] = table[f"scale_{letter}"].to_value(FLUX_DENSITY_UNIT)
        expected[f"scale_{letter}"] = TRUTH["continuum_level"] + TRUTH["continuum_slope"] * (
            norm_wav - 3.5
        )
        draws[f"slope_{letter}"] = np.tan(np.asarray(table[f"angle_{letter}"])) * cont_scale
        expected[f"slope_{letter}"] = TRUTH["continuum_slope"]
    rows = []
    for name, values in draws.items():
        low, median, high = np.percentile(values, [2.5, 50.0, 97.5])
        truth = expected[name]
        rows.append((name, truth, median, low, high, bool(low <= truth <= high)))
    out = Table(rows=rows, names=["parameter", "truth", "median", "q2.5", "q97.5", "inside"])
    for column in ("truth", "median", "q2.5", "q97.5"):
        out[column].info.format = ".6g"
    return out


def plot_joint(samples: dict, args, path: Path) -> None:
    """PRISM and G395M side by side: data, model and components above their residuals.

    Each spectrum's panel is cut at the gap between its two continuum regions (Hβ + [OIII],
    Hα + [NII]), so the lines fill the width.
    """
    tables = results.make_spectra_tables(
        plot.thin_draws(samples, plot.MAX_BAND_DRAWS),
        args,
        insert_nan=True,
        percentiles=[0.16, 0.5, 0.84],
    )
    figure = plt.figure(figsize=(15, 7), layout="constrained")
    for subfigure, name in zip(
        figure.subfigures(1, 2, wspace=0.04), ("PRISM", "G395M"), strict=True
    ):
        table = tables[name]
        axes = subfigure.subplots(2, 2, height_ratios=(3, 1), sharex="col", sharey="row")
        wave = u.Quantity(table["wavelength"]).to_value(u.um)
        for column, region in enumerate(args.cont_config):
            low, high = ((region.low, region.high) * region.unit).to_value(u.um) * (1.0 + Z_SYS)
            plot.plot_spectrum(table, ax=(axes[0, column], axes[1, column]), title="")
            inside = (wave >= low) & (wave <= high)
            axes[1, column].set_xlim(wave[inside].min(), wave[inside].max())
            if column == 0:
                axes[0, column].get_legend().remove()
            else:
                axes[0, column].set_ylabel("")
                axes[1, column].set_ylabel("")
        subfigure.suptitle(name)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(num_chains: int = 4, num_samples: int = 1000, num_warmup: int = 1000) -> Table:
    """Simulate, fit, print and return the truth table; save the plot."""
    show_validate_warnings()
    prism_spec, grating_spec = simulated_spectra(np.random.default_rng(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InstrumentConfig([prism_spec.disperser, grating_spec.disperser]).validate()
    print("validate() with the PRISM free and G395M as the reference: no warning")

    lines = build_lines()
    cont = continuum.ContinuumConfiguration.from_lines(
        lines.centers, width=15_000 * u.km / u.s, form=continuum.Linear()
    )
    spectra = spectrum.Spectra([prism_spec, grating_spec], redshift=Z_SYS)
    lines, cont = spectra.prepare(lines, cont)
    spectra.compute_scales(lines, cont)

    start = time.perf_counter()
    samples, args = model.ModelBuilder(lines, cont, spectra).fit(
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        seed=1,
        progress_bar=False,
        backend="embedded",
    )
    wall = time.perf_counter() - start

    summary = results.summary(args)
    summary.pprint_all()
    truths = truth_table(samples, args, spectra)
    print(
        "\nTruth against posterior (z; FWHM km/s; fluxes 1e-18 erg/s/cm²; continuum "
        "1e-20 erg/s/cm²/Å and per µm; flux scale; pixels):"
    )
    truths.pprint_all()
    print(f"\n{int(np.sum(truths['inside']))} of {len(truths)} truths inside their 95 % interval")
    print(
        f"R-hat max {np.nanmax(summary['r_hat']):.4f}, "
        f"bulk ESS min {np.nanmin(summary['ess_bulk']):.0f}, "
        f"tail ESS min {np.nanmin(summary['ess_tail']):.0f}, "
        f"fit wall time {wall:.1f} s (compile included unless cached)"
    )
    problems = diagnostics.check_convergence(args.dataset)
    if problems:
        print("convergence problems:", *problems, sep="\n  ")

    OUTPUT.mkdir(exist_ok=True)
    plot_joint(samples, args, OUTPUT / "joint_prism_grating.png")
    print(f"plot written to {OUTPUT / 'joint_prism_grating.png'}")
    return truths


if __name__ == "__main__":
    main()
