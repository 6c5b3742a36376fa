"""Model assembly: :class:`ModelBuilder` turns configurations and spectra into a Stan fit.

``ModelBuilder(lines, continuum, spectra).build()`` returns ``(model, args)`` like unite: ``model``
is the rendered Stan program (:class:`~unite_stan.stan.render.RenderedProgram`) and ``args`` a
:class:`ModelArgs` holding every number the program and the result functions need.
``fit()`` renders, compiles (cached), runs NUTS and returns unite's ``(samples, args)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from unite_stan.continuum.config import ContinuumConfiguration
from unite_stan.draws import Draws, as_draws
from unite_stan.line.config import LineConfiguration
from unite_stan.prior import Parameter, Prior
from unite_stan.prior_graph import PriorGraph

__all__ = ["ModelArgs", "ModelBuilder"]

INTEGRATION_MODES = ("analytic", "convolution")


class _LazyDataset:
    """Descriptor of :attr:`ModelArgs.dataset`: builds the ``xarray.Dataset`` on first read.

    The value is kept in the instance's ``__dict__`` under the field's name, as a
    :class:`~unite_stan.draws.Draws` (as ``fit`` attaches it), an ``xarray.Dataset`` or None;
    reading it converts a ``Draws`` to a Dataset once and keeps the Dataset, so every later read
    returns the same object. A script that never reads ``args.dataset`` never imports xarray.
    """

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:  # class access: the dataclass field's default
            return None
        value = obj.__dict__.get(self.name)
        if isinstance(value, Draws):
            value = obj.__dict__[self.name] = value.to_dataset()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.name] = value


@dataclass
class ModelArgs:
    """Everything a built model needs: trimmed spectra, priors, scales and unit factors.

    Treat as opaque, as in unite; the result functions read it. After
    :meth:`ModelBuilder.fit`, ``dataset`` is the ``xarray.Dataset`` of the draws (dims chain,
    draw[, spectrum], with the run's attributes), built when first read; ``draws`` gives the same
    draws as numpy arrays without building it.
    """

    line_config: LineConfiguration
    spectra: list  # trimmed Spectrum objects
    redshift: float
    cont_config: ContinuumConfiguration | None
    cont_resolved_params: list[dict[str, Parameter]]
    all_priors: dict[str, Prior]
    dependency_order: list[str]
    name_to_token: dict[str, Parameter]
    canonical_unit: u.UnitBase
    spec_to_canonical: list[float]
    cont_low: np.ndarray  # rest frame, canonical unit
    cont_high: np.ndarray
    cont_center: np.ndarray
    cont_nw_conv: np.ndarray  # region unit -> canonical unit
    cont_forms: list
    norm_factors: list[float]
    line_flux_scales: list[float]
    continuum_scales: list[float]
    flux_units: list[u.UnitBase]
    line_scale_quantity: u.Quantity | None
    continuum_scale_quantity: u.Quantity | None
    line_labels: list[str]
    continuum_labels: list[str]
    spec_calibration: list[dict[str, str]]  # per spectrum: slot -> site name
    integration_mode: str = "analytic"
    n_super: int = 10
    conv_half_width: int | None = None
    init_values: dict[str, float] = field(default_factory=dict)
    # filled by fit()
    program: Any = None
    dataset: Any = _LazyDataset()  # default None; a Draws or an xarray.Dataset when set
    run_info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.spectra)

    @property
    def draws(self) -> Draws | None:
        """The draws of the fit as :class:`~unite_stan.draws.Draws` (None before a fit).

        Reads ``dataset`` without building it: the draws as attached by the fit, or those of
        the ``xarray.Dataset`` once it is built or assigned (so edits to it are seen).
        """
        value = self.__dict__.get("dataset")
        return None if value is None else as_draws(value)

    def to_arviz(self):
        """The fit's draws as an ``xarray.DataTree`` in ArviZ's groups (``posterior``,
        ``sample_stats``, ``log_likelihood``, ``observed_data``): ArviZ 1.x works on it
        directly; see :func:`unite_stan.batch.inference_data`."""
        from unite_stan.batch import inference_data

        return inference_data(self)

    @property
    def prior_graph(self) -> PriorGraph:
        """The sites' priors with the walk over them (from ``all_priors``, ``name_to_token``
        and ``dependency_order``; a cheap view, built when asked for)."""
        coordinates = {
            token.name: kind
            for form, slots in zip(self.cont_forms, self.cont_resolved_params, strict=True)
            for slot, token in slots.items()
            if (kind := form.slot_coordinates.get(slot))
        }
        return PriorGraph(
            self.all_priors, self.name_to_token, self.dependency_order, coordinates=coordinates
        )

    @property
    def free_sites(self) -> list[str]:
        """Sampled (non-Fixed) sites in dependency order."""
        return self.prior_graph.free_sites

    @property
    def fixed_sites(self) -> list[str]:
        """Fixed sites (literal values or expressions) in dependency order."""
        return self.prior_graph.fixed_sites

    @property
    def line_entries(self) -> list:
        """The lines of the model (``LineEntry`` objects), in configuration order."""
        return list(self.line_config)

    @property
    def cont_regions(self) -> list:
        """The continuum regions of the model (empty without a continuum)."""
        return list(self.cont_config) if self.cont_config is not None else []


class ModelBuilder:
    """Build and fit a model of lines and continuum for a set of spectra.

    Parameters
    ----------
    line_config : LineConfiguration or None
        Required unless ``spectra`` is already prepared (then None falls back to the prepared
        configuration).
    continuum_config : ContinuumConfiguration or None
        As for lines; None on unprepared spectra means no continuum.
    spectra : Spectra
        If not yet prepared, ``spectra.prepare(line_config, continuum_config)`` is called.
        If no scales were computed, ``compute_scales`` runs with defaults (with a warning).
    """

    def __init__(self, line_config, continuum_config, spectra):
        from unite_stan.spectrum.spectra import Spectra

        if not isinstance(spectra, Spectra):
            raise TypeError(f"spectra must be a Spectra object, not {type(spectra).__name__}")
        if spectra.is_prepared:
            lines = line_config if line_config is not None else spectra.prepared_line_config
            cont = (
                continuum_config if continuum_config is not None else spectra.prepared_cont_config
            )
        else:
            if line_config is None:
                raise ValueError(
                    "line_config is None and the spectra are not prepared: pass a "
                    "LineConfiguration (or call spectra.prepare(...) first)"
                )
            lines, cont = spectra.prepare(line_config, continuum_config)
        if not isinstance(lines, LineConfiguration):
            raise TypeError(f"line_config must be a LineConfiguration, not {type(lines).__name__}")
        if cont is not None and not isinstance(cont, ContinuumConfiguration):
            raise TypeError(
                f"continuum_config must be a ContinuumConfiguration or None, not "
                f"{type(cont).__name__}"
            )
        if len(lines) == 0:
            raise ValueError("the line configuration is empty: no line lies in any spectrum")
        if spectra.line_scale is None:
            warnings.warn(
                "Spectra has no line_scale/continuum_scale yet: calling "
                "spectra.compute_scales(lines, continuum) with default settings",
                UserWarning,
                stacklevel=2,
            )
            spectra.compute_scales(lines, cont)
        self.line_config = lines
        self.continuum_config = cont
        self.spectra = spectra
        tokens = self._collect_tokens()
        self._graph = PriorGraph({name: tok.prior for name, tok in tokens.items()}, tokens)

    # ---- parameters ---------------------------------------------------------------------

    def _collect_tokens(self) -> dict[str, Parameter]:
        tokens: dict[str, Parameter] = {}

        def add(name: str, token: Parameter, where: str) -> None:
            other = tokens.get(name)
            if other is not None and other is not token:
                raise ValueError(
                    f"site name {name!r} is used by two different parameters ({where}); "
                    "give one of them another label"
                )
            tokens[name] = token

        for name, token in self.line_config.tokens().items():
            add(name, token, "lines")
        for disperser in self.spectra.instrument:
            for token in disperser.calibration_tokens.values():
                add(token.name, token, f"disperser {disperser.name!r}")
        if self.continuum_config is not None:
            for name, token in self.continuum_config.tokens().items():
                add(name, token, "continuum")
        return tokens

    # ---- build --------------------------------------------------------------------------

    def build(
        self,
        *,
        integration_mode: str = "analytic",
        n_super: int = 10,
        conv_half_width: int | None = None,
    ):
        """Assemble the model: ``(program, ModelArgs)``.

        Parameters
        ----------
        integration_mode : {'analytic', 'convolution'}
            ``'analytic'``: each pixel's flux from the LSF-convolved profiles' cumulative
            differences (unite's default). ``'convolution'``: the model without the LSF on
            ``n_super`` cells per pixel, attenuated there by the absorbers' intrinsic
            profiles, convolved with the LSF over ``conv_half_width`` cells either side
            (default ``max(1, ceil(4 sigma_max n_super / dlam_min))``) and averaged per pixel
            (:mod:`unite_stan.convolution`); use it for saturated, unresolved absorbers.
        n_super : int
            Cells per pixel in convolution mode (default 10).
        conv_half_width : int, optional
            Half-width of the LSF kernel in cells (convolution mode).
        """
        from unite_stan.stan.render import render_program

        if integration_mode not in INTEGRATION_MODES:
            raise ValueError(
                f"integration_mode={integration_mode!r}; valid modes are {INTEGRATION_MODES}"
            )
        if integration_mode == "convolution":
            n_super, conv_half_width = _check_convolution(n_super, conv_half_width)
        args = self._make_args(integration_mode, n_super, conv_half_width)
        return render_program(args), args

    def _make_args(self, integration_mode, n_super, conv_half_width) -> ModelArgs:
        spectra = self.spectra
        z_sys = float(spectra.redshift)
        canonical = u.Unit(spectra.canonical_unit)
        cont = self.continuum_config
        regions = list(cont) if cont is not None else []

        trimmed = []
        for spec in spectra:
            if regions:
                keep = np.zeros(spec.npix, dtype=bool)
                for region in regions:
                    lo = (region.low * region.unit).to_value(spec.unit) * (1 + z_sys)
                    hi = (region.high * region.unit).to_value(spec.unit) * (1 + z_sys)
                    keep |= spec.pixel_mask(lo, hi)
                if not keep.any():
                    warnings.warn(
                        f"spectrum {spec.name!r} has no pixel inside any continuum region and "
                        "is dropped from the model",
                        UserWarning,
                        stacklevel=3,
                    )
                    continue
                spec = spec._select(keep) if not keep.all() else spec
            trimmed.append(spec)
        if not trimmed:
            raise ValueError("no spectrum has pixels inside the continuum regions: nothing to fit")

        line_scale = spectra.line_scale
        cont_scale = spectra.continuum_scale
        norm_factors, line_fs, cont_fs, to_canon = [], [], [], []
        for spec in trimmed:
            flux = np.asarray(spec.flux)
            nz = np.abs(flux[flux != 0])
            if nz.size:
                norm = float(np.median(nz))
            else:
                norm = float(np.max(spec.error)) if spec.npix else 1.0
            norm_factors.append(norm if norm > 0 else 1.0)
            to_canon.append(float((1 * spec.unit).to_value(canonical)))
            line_fs.append(float(line_scale.to_value(spec.flux_unit * canonical)))
            cont_fs.append(
                float(cont_scale.to_value(spec.flux_unit)) if cont_scale is not None else 1.0
            )

        cont_low = np.array([(r.low * r.unit).to_value(canonical) for r in regions])
        cont_high = np.array([(r.high * r.unit).to_value(canonical) for r in regions])
        calib = []
        for spec in trimmed:
            d = spec.disperser
            calib.append({slot: tok.name for slot, tok in d.calibration_tokens.items()})

        graph = self._graph
        init_values = {
            name: float(prior.init)
            for name, prior in graph.priors.items()
            if getattr(prior, "init", None) is not None
        }
        args = ModelArgs(
            line_config=self.line_config,
            spectra=trimmed,
            redshift=z_sys,
            cont_config=cont,
            cont_resolved_params=cont.resolved_params if cont is not None else [],
            all_priors=dict(graph.priors),
            dependency_order=list(graph.order),
            name_to_token=dict(graph.tokens),
            canonical_unit=canonical,
            spec_to_canonical=to_canon,
            cont_low=cont_low,
            cont_high=cont_high,
            cont_center=0.5 * (cont_low + cont_high),
            cont_nw_conv=np.array([(1 * r.unit).to_value(canonical) for r in regions]),
            cont_forms=[r.form for r in regions],
            norm_factors=norm_factors,
            line_flux_scales=line_fs,
            continuum_scales=cont_fs,
            flux_units=[s.flux_unit for s in trimmed],
            line_scale_quantity=line_scale,
            continuum_scale_quantity=cont_scale,
            line_labels=[e.name for e in self.line_config],
            continuum_labels=[
                f"{type(r.form).__name__.lower()}_{r.low:.4g}_{r.high:.4g}" for r in regions
            ],
            spec_calibration=calib,
            integration_mode=integration_mode,
            n_super=n_super,
            conv_half_width=conv_half_width,
            init_values=init_values,
        )
        if integration_mode == "convolution" and conv_half_width is None:
            args.conv_half_width = _default_half_width(trimmed, to_canon, n_super)
        args.prior_graph.check(init_values)
        return args

    # ---- fit ----------------------------------------------------------------------------

    def fit(
        self,
        num_warmup: int = 250,
        num_samples: int = 1000,
        num_chains: int = 1,
        seed: int = 0,
        progress_bar: bool = True,
        integration_mode: str = "analytic",
        n_super: int = 10,
        conv_half_width: int | None = None,
        init_strategy=None,
        chain_method: str = "parallel",
        *,
        backend: str = "auto",
        adapt_delta: float | None = None,
        max_treedepth: int = 10,
        parallel_chains: int | None = None,
        threads_per_chain: int | None = None,
        pilot: bool = True,
        metric: str = "diag_e",
    ):
        """Sample the posterior with NUTS; returns unite's ``(samples, args)``.

        Parameters
        ----------
        num_warmup, num_samples, num_chains, seed, progress_bar
            As in unite. ``samples`` maps each sampled site to a flat chain-major array of
            ``num_chains * num_samples`` draws, plus ``log_prob`` and ``log_likelihood``.
        init_strategy : dict, optional
            Site name → start value (constrained units) for every chain; overrides priors'
            ``init``. (NumPyro init strategies do not apply to Stan.)
        chain_method : {'parallel', 'sequential'}
            ``'sequential'`` runs one chain at a time.
        backend : {'auto', 'embedded', 'cmdstan'}
            Stan backend; 'auto' uses CmdStan when an installation is found, else the embedded
            (httpstan) backend.
        adapt_delta : float, optional
            NUTS target acceptance rate. By default Stan's 0.8, raised to 0.95 and then 0.99
            (rerunning warmup and sampling) while the run has divergent transitions; the value
            used is in ``args.dataset.attrs['adapt_delta']``. A given value is used as is.
        max_treedepth, parallel_chains
            Stan's sampler controls (defaults 10 and one chain per core).
        threads_per_chain : int, optional
            Threads each chain uses to evaluate the likelihood (Stan's ``reduce_sum`` over
            blocks of pixels). By default chosen from the problem: more than one only when the
            spectra have at least ``unite_stan.stan.run.THREAD_MIN_PIXELS`` pixels and the
            chains running at once leave at least ``THREAD_MIN_THREADS`` cores each (below
            that the threaded path is slower; see the README). Same seed and same
            ``threads_per_chain``, same draws. ``parallel_chains * threads_per_chain``
            may never exceed the available cores (an explicit excess is an error). Neither
            choice changes the program, so it never recompiles.
        metric : {'diag_e', 'dense_e', 'unit_e'}
            Stan's metric, on either backend. The default diagonal metric suffices once the
            pilot has whitened the posterior; ``'dense_e'`` adapts a dense one (useful with
            ``pilot=False``), ``'unit_e'`` adapts none.
        pilot : bool
            Find the posterior mode and sample in coordinates whitened by its Laplace
            approximation (default). ``False`` samples the unconstrained coordinates as they are
            (unite's, with Uniform(-pi/2, pi/2) angles as slopes; see
            :mod:`unite_stan.stan.coordinates`).
        """
        from collections.abc import Mapping

        from unite_stan.stan.settings import FitSettings, SamplerSettings
        from unite_stan.stan.stages import run_fit

        if chain_method not in ("parallel", "sequential", "vectorized"):
            raise ValueError(
                f"chain_method={chain_method!r}; valid values are 'parallel', 'sequential', "
                "'vectorized'"
            )
        if init_strategy is not None and not isinstance(init_strategy, Mapping):
            raise TypeError(
                f"init_strategy={init_strategy!r}: unite_stan takes a dict of start values "
                "{site name: value in the parameter's units}; NumPyro init strategies do not "
                "apply to Stan"
            )
        settings = FitSettings(
            sampler=SamplerSettings(
                num_warmup=num_warmup,
                num_samples=num_samples,
                num_chains=num_chains,
                seed=seed,
                max_treedepth=max_treedepth,
                metric=metric,
                parallel_chains=1 if chain_method == "sequential" else parallel_chains,
                progress=progress_bar,
            ),
            adapt_delta=adapt_delta,
            threads_per_chain=threads_per_chain,
            backend=backend,
            pilot=pilot,
            init_values=init_strategy or {},
        )
        program, args = self.build(
            integration_mode=integration_mode, n_super=n_super, conv_half_width=conv_half_width
        )
        result = run_fit(program, args, settings)
        # unite's contract: the fit's results live on args
        args.program = result.program
        args.dataset = result.draws  # the xarray.Dataset is built on first read
        args.run_info = result.run_info
        samples = result.samples
        return samples, args

    # ---- point estimate and Pathfinder --------------------------------------------------

    def _build_for_start_values(self, init_strategy, integration_mode, n_super, conv_half_width):
        """``build()``'s result for optimize and pathfinder, once ``init_strategy`` is checked
        to be None or a dict of start values."""
        from collections.abc import Mapping

        if init_strategy is not None and not isinstance(init_strategy, Mapping):
            raise TypeError(
                f"init_strategy={init_strategy!r}: give a dict of start values "
                "{site name: value in the parameter's units}"
            )
        return self.build(
            integration_mode=integration_mode, n_super=n_super, conv_half_width=conv_half_width
        )

    def optimize(
        self,
        *,
        jacobian: bool = False,
        backend: str = "auto",
        seed: int = 0,
        init_strategy=None,
        num_starts: int = 4,
        integration_mode: str = "analytic",
        n_super: int = 10,
        conv_half_width: int | None = None,
        progress_bar: bool = False,
    ):
        """The posterior mode (MAP): ``(values, args)``.

        Parameters
        ----------
        jacobian : bool
            ``False`` (default, as Stan's ``optimize``): the mode of the posterior density of
            the parameters themselves. ``True``: the mode on unite's unconstrained scale (the
            logistic scale of every bounded prior, the Jacobian included: the maximum of
            unite's ``log_prob``).
        backend : {'auto', 'embedded', 'cmdstan'}
            As in :meth:`fit`. Either way L-BFGS (scipy's) runs on the backend's log density
            and gradient with the Jacobian terms handled here; CmdStan's own L-BFGS first
            brings each start near the mode (see :mod:`unite_stan.stan.optimize`).
        seed : int
            Seeds the random starts (uniform in (-2, 2) on the unconstrained scale, line fluxes
            started small, as the fit's pilot does).
        init_strategy : dict, optional
            Site name -> start value (the parameter's units), as in :meth:`fit`; put into
            every start.
        num_starts : int
            L-BFGS runs; the best optimum wins (default 4).
        integration_mode, n_super, conv_half_width
            As in :meth:`build`.

        Returns
        -------
        values : dict
            Every site (free and fixed) -> its value at the mode in the units of :meth:`fit`'s
            samples, plus ``'log_prob'`` (unite's) and ``'log_likelihood'`` (summed over the
            spectra) there.
        args : ModelArgs
            ``args.program`` is the program optimised; ``args.run_info['optimize']`` holds the
            objective, the optimiser's message, the backend and the unconstrained mode.
        """
        from unite_stan.stan.optimize import map_estimate

        program, args = self._build_for_start_values(
            init_strategy, integration_mode, n_super, conv_half_width
        )
        from unite_stan._blas import one_blas_thread

        with one_blas_thread():  # scipy's L-BFGS-B makes many tiny BLAS calls (_blas.py)
            result = map_estimate(
                program,
                args,
                backend=backend,
                jacobian=jacobian,
                seed=seed,
                init_values=dict(init_strategy or {}),
                num_starts=num_starts,
                progress=progress_bar,
            )
        args.program = program
        args.run_info = {
            "optimize": {
                "jacobian": result.jacobian,
                "objective": result.objective,
                "unconstrained": result.unconstrained,
                "backend": result.backend,
                "message": result.message,
                "starts": result.starts,
                "converged": result.converged,
            }
        }
        return result.values, args

    def pathfinder(
        self,
        num_samples: int = 1000,
        *,
        num_paths: int = 4,
        seed: int = 0,
        backend: str = "auto",
        init_strategy=None,
        integration_mode: str = "analytic",
        n_super: int = 10,
        conv_half_width: int | None = None,
        progress_bar: bool = False,
    ):
        """Approximate posterior draws by Stan's Pathfinder: ``(samples, args)`` as :meth:`fit`
        returns them (one chain of ``num_samples`` draws; ``args.dataset`` holds them, with
        ``attrs['method'] == 'pathfinder'``).

        Only the CmdStan backend offers Pathfinder (cmdstanpy's ``pathfinder``, multi-path with
        PSIS resampling, every path started at one point drawn as the fit's pilot draws its
        starts, with ``init_strategy`` put in); the embedded backend raises
        ``NotImplementedError``. The draws are an approximation: no R-hat or ESS applies.
        """
        from unite_stan.stan.optimize import pathfinder_draws

        program, args = self._build_for_start_values(
            init_strategy, integration_mode, n_super, conv_half_width
        )
        draws, info = pathfinder_draws(
            program,
            args,
            backend=backend,
            num_samples=num_samples,
            num_paths=num_paths,
            seed=seed,
            init_values=dict(init_strategy or {}),
            progress=progress_bar,
        )
        args.program = program
        args.dataset = draws
        args.run_info = {"pathfinder": info}
        samples = {name: draws[name].reshape(-1) for name in program.free_sites}
        samples["log_prob"] = draws["log_prob"].reshape(-1)
        samples["log_likelihood"] = np.nansum(draws["log_likelihood"], axis=-1).reshape(-1)
        return samples, args


def _check_convolution(n_super, conv_half_width) -> tuple[int, int | None]:
    """Convolution mode's settings, checked: a positive int each (``conv_half_width`` may be
    None, unite's default)."""
    for name, value in (("n_super", n_super), ("conv_half_width", conv_half_width)):
        if value is None and name == "conv_half_width":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: must be a positive integer")
    return int(n_super), None if conv_half_width is None else int(conv_half_width)


def _default_half_width(spectra, to_canonical, n_super: int) -> int:
    """unite's kernel half-width: ``max(1, ceil(4 sigma_max n_super / dlam_min))``, sigma_max
    the widest LSF sigma at any pixel centre, dlam_min the narrowest pixel (all spectra,
    canonical unit, r_scale ignored)."""
    from unite_stan import convolution
    from unite_stan.constants import FWHM_TO_SIGMA

    sigma_max, width_min = 0.0, np.inf
    for spec, to_c in zip(spectra, to_canonical, strict=True):
        centres = np.asarray(spec.wavelength, dtype=float)
        resolution = np.asarray(spec.disperser.R(centres), dtype=float)
        sigma_max = max(sigma_max, float(np.max(centres / resolution)) * FWHM_TO_SIGMA * to_c)
        widths = np.abs(np.asarray(spec.high, dtype=float) - np.asarray(spec.low, dtype=float))
        width_min = min(width_min, float(np.min(widths)) * to_c)
    return convolution.default_half_width(sigma_max, width_min, n_super)
