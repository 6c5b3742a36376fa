""":class:`Spectra`: the spectra of one fit, their systemic redshift and the data-driven scales
(``line_scale``, ``continuum_scale``) in which line fluxes and continuum amplitudes are sampled.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import astropy.units as u
import numpy as np

from unite_stan.constants import C_KMS
from unite_stan.continuum.config import ContinuumConfiguration, ContinuumRegion
from unite_stan.continuum.fit import ContinuumFitResult, fit_continuum_form
from unite_stan.instrument.base import Disperser, as_length_unit
from unite_stan.instrument.config import InstrumentConfig
from unite_stan.line.config import LineConfiguration
from unite_stan.spectrum.spectrum import F_LAMBDA, Spectrum

__all__ = ["RegionDiagnostic", "ScaleDiagnosticList", "Spectra", "SpectrumScaleDiagnostic"]

_KMS = u.km / u.s


# --------------------------------------------------------------------------------------------
# Diagnostics of compute_scales
# --------------------------------------------------------------------------------------------


def is_redshift(value: float) -> bool:
    """Whether ``value`` can be a redshift: a finite number > -1."""
    return math.isfinite(value) and value > -1


@dataclass
class RegionDiagnostic:
    """How one continuum region was fitted in one spectrum by ``compute_scales``.

    Attributes
    ----------
    obs_low, obs_high : float
        Observed-frame region bounds in the spectrum's unit.
    in_region : numpy.ndarray
        Pixels whose centre lies in ``[obs_low, obs_high]``.
    good_mask : numpy.ndarray
        In-region pixels outside the line mask (the ones fitted and used for the median).
    model_on_region : numpy.ndarray or None
        Fitted continuum at the in-region pixels (raw flux units); None if no fit was made.
    chi2_red : float or None
        Reduced χ² of the fit.
    fit_params : dict or None
        Fitted slot values (raw flux units; ``norm_wav`` = observed region centre).
    """

    obs_low: float
    obs_high: float
    in_region: np.ndarray
    good_mask: np.ndarray
    model_on_region: np.ndarray | None
    chi2_red: float | None
    fit_params: dict[str, float] | None


@dataclass
class SpectrumScaleDiagnostic:
    """Per-spectrum record of ``compute_scales``.

    Attributes
    ----------
    name : str
        Spectrum name.
    line_mask : numpy.ndarray
        Pixels excluded from the continuum estimate because they are near a line.
    continuum_model : numpy.ndarray
        Fitted continuum per pixel (raw flux units), NaN outside fitted regions.
    regions : list of RegionDiagnostic
        One per region overlapping the spectrum.
    """

    name: str
    line_mask: np.ndarray
    continuum_model: np.ndarray
    regions: list[RegionDiagnostic]


class ScaleDiagnosticList(list):
    """A list of :class:`SpectrumScaleDiagnostic` that can also be indexed by spectrum name."""

    def __getitem__(self, key):
        if isinstance(key, str):
            for diagnostic in self:
                if diagnostic.name == key:
                    return diagnostic
            raise KeyError(
                f"no scale diagnostic for spectrum {key!r}; names are {[d.name for d in self]}"
            )
        return super().__getitem__(key)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _velocity(value, what: str) -> float:
    if not isinstance(value, u.Quantity):
        raise TypeError(f"{what}={value!r} must be a velocity Quantity (e.g. 1000 * u.km / u.s)")
    if not value.unit.is_equivalent(_KMS):
        raise u.UnitConversionError(
            f"{what}={value!s} is not a velocity; give e.g. 1000 * u.km / u.s"
        )
    v = value.to_value(_KMS)
    if not (np.ndim(v) == 0 and math.isfinite(v) and v > 0):
        raise ValueError(f"{what}={value!s} must be a finite scalar velocity > 0")
    return float(v)


def _check_configs(line_config, continuum_config) -> None:
    if not isinstance(line_config, LineConfiguration):
        raise TypeError(
            f"line_config must be a LineConfiguration, not {type(line_config).__name__}"
        )
    if continuum_config is not None and not isinstance(continuum_config, ContinuumConfiguration):
        raise TypeError(
            "continuum_config must be a ContinuumConfiguration or None, not "
            f"{type(continuum_config).__name__}"
        )


def _positive_scale(value, unit: u.UnitBase, what: str) -> u.Quantity:
    if not isinstance(value, u.Quantity):
        raise TypeError(f"{what}={value!r} must be a Quantity in units convertible to {unit!s}")
    if not value.unit.is_equivalent(unit):
        raise u.UnitConversionError(
            f"{what}={value!s} has unit {value.unit!s}; it must be convertible to {unit!s}"
        )
    if not (value.isscalar and math.isfinite(value.value) and value.value > 0):
        raise ValueError(f"{what}={value!s} must be a finite scalar > 0")
    return value


def _region_bounds(region: ContinuumRegion, unit: u.UnitBase, opz: float) -> tuple[float, float]:
    """Observed-frame bounds of a region in ``unit``."""
    low = u.Quantity(region.low, region.unit).to_value(unit) * opz
    high = u.Quantity(region.high, region.unit).to_value(unit) * opz
    return low, high


# --------------------------------------------------------------------------------------------
# Spectra
# --------------------------------------------------------------------------------------------


class Spectra:
    """The spectra of one fit, with the systemic redshift and the model's scales.

    Parameters
    ----------
    spectra : list of Spectrum
        At least one. Every disperser needs a non-empty name, distinct dispersers need
        distinct names, and spectrum names must be unique.
    redshift : float, optional
        Systemic redshift ``z_sys`` (lines and regions are given in the rest frame).
    canonical_unit : astropy unit, optional
        Wavelength unit of the model; defaults to the first spectrum's unit.

    Raises
    ------
    ValueError
        Empty list, empty or duplicate disperser names, duplicate spectrum names, or a
        redshift that is not finite and > −1.
    TypeError
        An element is not a :class:`Spectrum`.

    Examples
    --------
    >>> spectra = Spectra([spec], redshift=0.0)  # doctest: +SKIP
    >>> lines, cont = spectra.prepare(line_config, cont_config)  # doctest: +SKIP
    >>> spectra.compute_scales(lines, cont)  # doctest: +SKIP
    """

    def __init__(self, spectra: Iterable[Spectrum], redshift: float = 0.0, canonical_unit=None):
        if isinstance(spectra, Spectrum):
            raise TypeError("spectra must be a list of Spectrum objects; wrap it: Spectra([spec])")
        spectra = list(spectra)
        if not spectra:
            raise ValueError("Spectra needs at least one Spectrum; got an empty list")
        for i, s in enumerate(spectra):
            if not isinstance(s, Spectrum):
                raise TypeError(
                    f"spectra[{i}]={s!r} ({type(s).__name__}) is not a Spectrum; build one with "
                    "unite_stan.spectrum.from_edges/from_centers/from_arrays"
                )
        # InstrumentConfig keeps each disperser instance once, in order of first use.
        self._instrument = InstrumentConfig([s.disperser for s in spectra])
        names = [s.name for s in spectra]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            where = {n: [i for i, m in enumerate(names) if m == n] for n in repeated}
            raise ValueError(
                f"spectrum names must be unique; repeated: {where}. Pass name=... to the loader "
                "(spectra sharing a disperser otherwise all take the disperser's name)"
            )
        if isinstance(redshift, bool) or not isinstance(redshift, numbers.Real):
            raise TypeError(f"redshift={redshift!r} must be a number")
        if not is_redshift(redshift):
            raise ValueError(f"redshift={redshift!r} must be finite and > -1")
        self._spectra = spectra
        self._redshift = float(redshift)
        self._canonical_unit = (
            spectra[0].unit
            if canonical_unit is None
            else as_length_unit(canonical_unit, "canonical_unit")
        )
        self._line_scale: u.Quantity | None = None
        self._continuum_scale: u.Quantity | None = None
        self._prepared_lines: LineConfiguration | None = None
        self._prepared_cont: ContinuumConfiguration | None = None
        self._is_prepared = False

    # ---- basic properties ---------------------------------------------------------------

    @property
    def redshift(self) -> float:
        """Systemic redshift ``z_sys``."""
        return self._redshift

    @property
    def canonical_unit(self) -> u.UnitBase:
        """Wavelength unit of the model."""
        return self._canonical_unit

    @property
    def instrument(self) -> InstrumentConfig:
        """The :class:`~unite_stan.instrument.InstrumentConfig` of the distinct dispersers."""
        return self._instrument

    @property
    def dispersers(self) -> list[Disperser]:
        """The distinct dispersers, in order of first use."""
        return self._instrument.dispersers

    @property
    def line_scale(self) -> u.Quantity | None:
        """Integrated-flux unit of the ``Flux`` parameters (None until computed or set)."""
        return self._line_scale

    @line_scale.setter
    def line_scale(self, value: u.Quantity) -> None:
        unit = self._spectra[0].flux_unit * self._canonical_unit
        self._line_scale = _positive_scale(value, unit, "line_scale")

    @property
    def continuum_scale(self) -> u.Quantity | None:
        """f_λ unit of the continuum ``Scale`` parameters (None until computed or set)."""
        return self._continuum_scale

    @continuum_scale.setter
    def continuum_scale(self, value: u.Quantity) -> None:
        self._continuum_scale = _positive_scale(value, F_LAMBDA, "continuum_scale")

    @property
    def scale_diagnostics(self) -> ScaleDiagnosticList | None:
        """Per-spectrum diagnostics of the last :meth:`compute_scales` (None before)."""
        diagnostics = [s.scale_diagnostic for s in self._spectra]
        if any(d is None for d in diagnostics):
            return None
        return ScaleDiagnosticList(diagnostics)

    @property
    def is_prepared(self) -> bool:
        """Whether :meth:`prepare` has been called."""
        return self._is_prepared

    @property
    def prepared_line_config(self) -> LineConfiguration | None:
        return self._prepared_lines

    @property
    def prepared_cont_config(self) -> ContinuumConfiguration | None:
        return self._prepared_cont

    # ---- filtering ----------------------------------------------------------------------

    def _covered_line_names(self, line_config: LineConfiguration, half_width: float) -> list[str]:
        opz = 1.0 + self._redshift
        kept = []
        for entry in line_config:
            for spec in self._spectra:
                center = entry.wavelength.to_value(spec.unit) * opz
                if spec.covers(center * (1 - half_width), center * (1 + half_width)):
                    kept.append(entry.name)
                    break
        return kept

    def _covered_regions(self, continuum_config: ContinuumConfiguration) -> list[ContinuumRegion]:
        opz = 1.0 + self._redshift
        return [
            region
            for region in continuum_config
            if any(spec.covers(*_region_bounds(region, spec.unit, opz)) for spec in self._spectra)
        ]

    @staticmethod
    def _rebuild(
        continuum_config: ContinuumConfiguration, regions: list[ContinuumRegion]
    ) -> ContinuumConfiguration:
        # A new configuration re-creates and re-letters the auto tokens of the kept regions.
        return ContinuumConfiguration(
            regions, zorder=continuum_config.zorder, allow_overlap=continuum_config.allow_overlap
        )

    def _uncovered(self, entries, half_width: float) -> str:
        """Where the lines ``entries`` would need a pixel and where the spectra have them."""
        unit = self._canonical_unit
        opz = 1.0 + self._redshift
        windows = []
        for entry in entries:
            centre = entry.wavelength.to_value(unit) * opz
            lo, hi = centre * (1 - half_width), centre * (1 + half_width)
            windows.append(f"{entry.name!r} (needs a pixel within {lo:.6g}-{hi:.6g} {unit})")
        spans = []
        for spec in self._spectra:
            lo, hi = u.Quantity(spec.wavelength_range, spec.unit).to_value(unit)
            spans.append(f"{spec.name!r} {lo:.6g}-{hi:.6g} {unit}")
        return (
            f"{', '.join(windows)}; the spectra cover {', '.join(spans)} (observed frame, "
            f"z_sys={self._redshift:g}; a line's window is its centre ± linedet_width/2)"
        )

    def _filter(self, line_config, continuum_config, linedet_width):
        _check_configs(line_config, continuum_config)
        half_width = _velocity(linedet_width, "linedet_width") / (2.0 * C_KMS)
        names = self._covered_line_names(line_config, half_width)
        dropped = [e for e in line_config if e.name not in names]
        if dropped:
            where = self._uncovered(dropped, half_width)
            warnings.warn(
                f"dropped the lines outside every spectrum's coverage: {where}"
                if names
                else f"none of the lines {[e.name for e in line_config]} is covered by the "
                f"spectra; the filtered line configuration is empty: {where}",
                UserWarning,
                stacklevel=3,
            )
        regions = [] if continuum_config is None else self._covered_regions(continuum_config)
        return line_config._subset(names), regions

    def filter_config(
        self,
        line_config: LineConfiguration,
        continuum_config: ContinuumConfiguration | None = None,
        *,
        linedet_width: u.Quantity = 1000 * _KMS,
    ) -> tuple[LineConfiguration, ContinuumConfiguration | None]:
        """Keep the lines and continuum regions covered by at least one spectrum.

        A line at rest wavelength λ is covered when some pixel overlaps
        ``λ(1 + z_sys)(1 ± linedet_width / 2c)``; a region when some pixel overlaps its
        observed bounds. Nothing is stored on the object (see :meth:`prepare`).

        Returns
        -------
        (LineConfiguration, ContinuumConfiguration or None)
            Lines keep their tokens and site names; the kept regions are wrapped in a new
            configuration with the same ``zorder`` and ``allow_overlap``, empty when no region
            is covered (as unite's); None only when no continuum configuration was given.
            :meth:`prepare` instead gives None when no region is left.
        """
        lines, regions = self._filter(line_config, continuum_config, linedet_width)
        return lines, None if continuum_config is None else self._rebuild(continuum_config, regions)

    def prepare(
        self,
        line_config: LineConfiguration,
        continuum_config: ContinuumConfiguration | None = None,
        *,
        linedet_width: u.Quantity = 1000 * _KMS,
        drop_empty_regions: bool = True,
    ) -> tuple[LineConfiguration, ContinuumConfiguration | None]:
        """Filter the configurations to what the spectra cover and remember the result.

        As :meth:`filter_config`; then, if ``drop_empty_regions`` and at least one line is
        left, regions whose rest interval contains (inclusively) no remaining line are dropped
        too. The kept regions are wrapped in a new ``ContinuumConfiguration`` (same ``zorder``
        and ``allow_overlap``), so auto-created continuum tokens are re-lettered (``scale_a``
        is the first kept region).

        Returns
        -------
        (LineConfiguration, ContinuumConfiguration or None)
            Also available afterwards as :attr:`prepared_line_config` and
            :attr:`prepared_cont_config`.
        """
        lines, regions = self._filter(line_config, continuum_config, linedet_width)
        covered = list(regions)
        if drop_empty_regions and len(lines):
            regions = [
                region
                for region in regions
                if any(
                    region.low <= entry.wavelength.to_value(region.unit) <= region.high
                    for entry in lines
                )
            ]
        cont = None
        if continuum_config is not None and regions:
            cont = self._rebuild(continuum_config, regions)
        if continuum_config is not None and len(regions) < len(covered):
            self._warn_dropped_regions(covered, regions, lines)
        self._prepared_lines, self._prepared_cont = lines, cont
        self._is_prepared = True
        return lines, cont

    def _warn_dropped_regions(self, covered, kept, lines) -> None:
        """One warning naming the covered continuum regions :meth:`prepare` dropped because no
        line lies in them (an uncovered region goes with its lines, which are warned of)."""
        spans = [f"{r.low:g}-{r.high:g} {r.unit}" for r in covered if not any(r is k for k in kept)]
        tail = (
            "; no region is left: the model has no continuum, and every pixel of the spectra "
            "is fitted by the lines alone"
            if not kept
            else ""
        )
        warnings.warn(
            f"dropped {len(spans)} continuum region(s) in which no line lies (rest frame; "
            f"lines: {[e.name for e in lines]}): {', '.join(spans)}{tail}",
            UserWarning,
            stacklevel=3,
        )

    # ---- scales -------------------------------------------------------------------------

    def compute_scales(
        self,
        line_config: LineConfiguration,
        continuum_config: ContinuumConfiguration | None = None,
        *,
        line_mask_width: u.Quantity = 1000 * _KMS,
        box_width: u.Quantity = 1000 * _KMS,
        error_scale: bool = False,
    ) -> None:
        """Estimate :attr:`line_scale` and :attr:`continuum_scale` from the data.

        Per spectrum: pixels within ``(λ_o·line_mask_width/c + LSF FWHM)/2`` of a line centre
        are masked; each region is fitted (its own form, raw flux units, ``norm_wav`` = observed
        region centre) on the unmasked in-region pixels, and the median ``|flux|`` of those
        pixels is a continuum-scale candidate. Each line's estimate is the highest flux above the
        fitted continuum within ``±sqrt((λ_o·line_mask_width/c)² + FWHM²)/2`` times
        ``λ_o·box_width/c``. ``line_scale`` is the largest estimate (flux unit of the first
        spectrum × canonical unit) and ``continuum_scale`` the largest median (flux unit of the
        first spectrum; None without a continuum configuration).

        Parameters
        ----------
        line_config : LineConfiguration
            Usually the prepared one.
        continuum_config : ContinuumConfiguration, optional
            Without it the continuum is taken as zero and no continuum scale is set.
        line_mask_width, box_width : Quantity
            Velocity widths (default 1000 km/s each).
        error_scale : bool, optional
            If True (and a continuum configuration is given), set each spectrum's per-pixel
            ``error_scale`` to ``sqrt(chi2_red)`` of the region fit covering the pixel (1
            elsewhere).

        Raises
        ------
        ValueError
            No positive line estimate; or, with a continuum configuration, no unmasked pixel in
            any region, no successful region fit, or all medians zero.
        """
        _check_configs(line_config, continuum_config)
        v_mask = _velocity(line_mask_width, "line_mask_width")
        v_box = _velocity(box_width, "box_width")
        flux_unit = self._spectra[0].flux_unit
        line_unit = flux_unit * self._canonical_unit

        results = [
            _spectrum_scales(
                spec, line_config, continuum_config, self._redshift, v_mask, v_box, error_scale
            )
            for spec in self._spectra
        ]
        estimates = [
            (e * spec.flux_unit * spec.unit).to_value(line_unit)
            for spec, r in zip(self._spectra, results, strict=True)
            for e in r.line_estimates
        ]
        if not any(e > 0 for e in estimates):
            raise ValueError(
                f"compute_scales found no positive line peak above the continuum for the lines "
                f"{[e.name for e in line_config]} in any spectrum (z_sys={self._redshift:g}); "
                "check the line list and redshift, or set spectra.line_scale by hand"
            )
        continuum_scale = None
        if continuum_config is not None:
            medians = [
                (m * spec.flux_unit).to_value(flux_unit)
                for spec, r in zip(self._spectra, results, strict=True)
                for m in r.medians
            ]
            if not medians:
                raise ValueError(
                    "compute_scales: no continuum region has an unmasked pixel in any spectrum; "
                    "widen the regions or narrow line_mask_width"
                )
            if not any(r.n_fitted for r in results):
                raise ValueError(
                    "compute_scales: every continuum region fit failed (or had too few unmasked "
                    "pixels: a region needs at least max(n_params + 1, 3)); widen the regions or "
                    "narrow line_mask_width"
                )
            if not max(medians) > 0:
                raise ValueError(
                    "compute_scales: the median |flux| is zero in every continuum region; set "
                    "spectra.continuum_scale by hand"
                )
            continuum_scale = max(medians) * flux_unit

        for spec, r in zip(self._spectra, results, strict=True):
            if r.error_scale is not None:
                spec.error_scale = r.error_scale
            spec.scale_diagnostic = r.diagnostic
        self._line_scale = max(estimates) * line_unit
        self._continuum_scale = continuum_scale

    # ---- container API ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._spectra)

    def __iter__(self) -> Iterator[Spectrum]:
        return iter(self._spectra)

    def __getitem__(self, key: int | str) -> Spectrum:
        if isinstance(key, str):
            for spec in self._spectra:
                if spec.name == key:
                    return spec
            raise KeyError(
                f"no spectrum named {key!r}; names are {[s.name for s in self._spectra]}"
            )
        return self._spectra[key]

    def __repr__(self) -> str:
        # unite's text, word for word (scripts parse or print it)
        return f"Spectra: {len(self._spectra)} spectrum/a, z={self._redshift:.4f}"

    def __str__(self) -> str:
        rows = [("Name", "Disperser", "Pixels", "Range", "Calibration")]
        for s in self._spectra:
            lo, hi = s.wavelength_range
            calibration = ", ".join(
                f"{t.name}={t.prior!r}" for t in s.disperser.calibration_tokens.values()
            )
            rows.append(
                (s.name, s.disperser.name, str(s.npix), f"{lo:g}-{hi:g} {s.unit}", calibration)
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        table = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        table.insert(1, "  ".join("-" * w for w in widths))
        header = [repr(self), f"canonical unit: {self._canonical_unit!s}"]
        for what, value in (
            ("line_scale", self._line_scale),
            ("continuum_scale", self._continuum_scale),
        ):
            header.append(f"{what}: {'not set' if value is None else f'{value:.4g}'}")
        return "\n".join(header + table)


# --------------------------------------------------------------------------------------------
# compute_scales, one spectrum at a time
# --------------------------------------------------------------------------------------------


@dataclass
class _SpectrumScales:
    line_estimates: list[float]  # spectrum flux unit × spectrum unit
    medians: list[float]  # spectrum flux unit
    n_fitted: int
    error_scale: np.ndarray | None
    diagnostic: SpectrumScaleDiagnostic


def _fit_region(region: ContinuumRegion, spec: Spectrum, good, lo: float, hi: float, z_sys: float):
    """Fit a region's form to the good pixels (wavelengths in the spectrum's unit); None when
    the fit fails."""
    wl = spec.wavelength
    center = 0.5 * (lo + hi)
    try:
        return fit_continuum_form(
            region.form,
            wl[good],
            spec.flux[good],
            spec.error[good],
            center,
            lo,
            hi,
            center,
            wl_unit=spec.unit,
            z_sys=z_sys,
        )
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None


def _spectrum_scales(
    spec: Spectrum,
    line_config: LineConfiguration,
    continuum_config: ContinuumConfiguration | None,
    redshift: float,
    v_mask: float,
    v_box: float,
    error_scale: bool,
) -> _SpectrumScales:
    opz = 1.0 + redshift
    wl = spec.wavelength
    centers = np.array([e.wavelength.to_value(spec.unit) * opz for e in line_config])
    lsf = centers / spec.disperser.R(centers) if centers.size else centers
    line_mask = np.zeros(spec.npix, dtype=bool)
    for center, fwhm in zip(centers, lsf, strict=True):
        # the mask adds the intrinsic and LSF widths linearly (generous on purpose)
        half = 0.5 * (center * v_mask / C_KMS + fwhm)
        line_mask |= np.abs(wl - center) < half

    continuum = np.full(spec.npix, np.nan)
    scales = np.ones(spec.npix) if (error_scale and continuum_config is not None) else None
    medians: list[float] = []
    regions: list[RegionDiagnostic] = []
    n_fitted = 0
    for region in continuum_config or []:
        lo, hi = _region_bounds(region, spec.unit, opz)
        in_region = (wl >= lo) & (wl <= hi)
        if not in_region.any():
            continue
        good = in_region & ~line_mask
        fit: ContinuumFitResult | None = None
        model = None
        if good.sum() >= max(region.form.n_params + 1, 3):
            fit = _fit_region(region, spec, good, lo, hi, redshift)
        if fit is not None:
            n_fitted += 1
            model = np.asarray(
                region.form.evaluate(
                    wl[in_region], fit.params, obs_low=lo, obs_high=hi, norm_wav=0.5 * (lo + hi)
                ),
                dtype=np.float64,
            )
            continuum[in_region] = model
            if scales is not None and fit.chi2_red is not None:
                scales[in_region] = math.sqrt(fit.chi2_red)
        if good.any():
            medians.append(float(np.median(np.abs(spec.flux[good]))))
        regions.append(
            RegionDiagnostic(
                lo,
                hi,
                in_region,
                good,
                model,
                None if fit is None else fit.chi2_red,
                None if fit is None else fit.params,
            )
        )

    baseline = np.nan_to_num(continuum, nan=0.0)
    estimates: list[float] = []
    for entry, center, fwhm in zip(line_config, centers, lsf, strict=True):
        # the search window adds the widths in quadrature (narrower than the mask)
        half = 0.5 * math.hypot(center * v_mask / C_KMS, fwhm)
        window = (wl >= center - half) & (wl <= center + half)
        if not window.any():
            continue
        estimate = float(np.max(spec.flux[window] - baseline[window])) * v_box * center / C_KMS
        if not math.isfinite(estimate):
            warnings.warn(
                f"compute_scales: the line-scale estimate of line {entry.name!r} in spectrum "
                f"{spec.name!r} is not finite ({estimate}); it is skipped",
                UserWarning,
                stacklevel=3,
            )
            continue
        estimates.append(estimate)

    diagnostic = SpectrumScaleDiagnostic(spec.name, line_mask, continuum, regions)
    return _SpectrumScales(estimates, medians, n_fitted, scales, diagnostic)
