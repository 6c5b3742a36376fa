""":class:`InstrumentConfig`: the dispersers of a fit and the site names of their calibration
tokens."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Iterator

from unite_stan import _serialize as _ser
from unite_stan._naming import letter_suffix
from unite_stan.instrument.base import Disperser
from unite_stan.instrument.tokens import CALIBRATION_SLOTS, FluxScale, PixOffset, RScale
from unite_stan.prior import Fixed, Parameter

__all__ = ["FluxScale", "InstrumentConfig", "PixOffset", "RScale"]


def _distinct(dispersers: Iterable[Disperser]) -> list[Disperser]:
    out: list[Disperser] = []
    for i, d in enumerate(dispersers):
        if not isinstance(d, Disperser):
            raise TypeError(
                f"dispersers[{i}]={d!r} ({type(d).__name__}) is not a Disperser; use e.g. "
                "SimpleDisperser or GenericDisperser from unite_stan.instrument.generic"
            )
        if not any(d is seen for seen in out):
            out.append(d)
    return out


def _check_names(dispersers: list[Disperser]) -> None:
    empty = [i for i, d in enumerate(dispersers) if not d.name]
    if empty:
        raise ValueError(
            f"Dispersers at indices {empty} have empty names; every disperser needs a unique, "
            "non-empty name (it names the calibration parameters, e.g. r_scale_<name>). Pass "
            "name=... when creating it, e.g. SimpleDisperser(wavelength, R=1200.0, name='grism')"
        )
    by_name: dict[str, list[int]] = {}
    for i, d in enumerate(dispersers):
        by_name.setdefault(d.name, []).append(i)
    duplicated = {name: idx for name, idx in by_name.items() if len(idx) > 1}
    if duplicated:
        details = "; ".join(f"{name!r} at indices {idx}" for name, idx in duplicated.items())
        raise ValueError(
            f"Disperser names must be unique, but different dispersers share a name: {details}. "
            "Give each disperser its own name=... (spectra taken with the same disperser should "
            "share one disperser instance)"
        )


def _assign_site_names(dispersers: list[Disperser]) -> dict[str, Parameter]:
    """Name every calibration token (§2.2) and return site name → token.

    Labelled tokens keep ``{slot}_{label}``. Anonymous tokens are named from the current set
    of dispersers each time, so the names always describe this configuration: a token used by
    a single disperser gets ``{slot}_{disperser name}``, a shared one ``{slot}_{a|b|…}``.
    """
    users: dict[str, dict[Parameter, list[Disperser]]] = {s: {} for s in CALIBRATION_SLOTS}
    for d in dispersers:
        for slot, token in d.calibration_tokens.items():
            users[slot].setdefault(token, []).append(d)

    taken: dict[str, Parameter] = {}

    def claim(name: str, token: Parameter) -> None:
        other = taken.get(name)
        if other is not None and other is not token:
            raise ValueError(
                f"duplicate calibration site name {name!r}: two different "
                f"{type(token).__name__} tokens are labelled {token.label!r}; use distinct "
                "labels, or share one token instance to share the parameter"
            )
        taken[name] = token

    for slot, tokens in users.items():
        for token in tokens:
            if token.label is not None:
                token.name = f"{slot}_{token.label}"
                claim(token.name, token)
    shared: list[tuple[str, Parameter]] = []
    for slot, tokens in users.items():
        for token, owners in tokens.items():
            if token.label is not None:
                continue
            name = f"{slot}_{owners[0].name}"
            if len(owners) == 1 and name not in taken:
                token.name = name
                claim(name, token)
            else:
                shared.append((slot, token))
    counters = dict.fromkeys(CALIBRATION_SLOTS, 0)
    for slot, token in shared:
        while (name := f"{slot}_{letter_suffix(counters[slot])}") in taken:
            counters[slot] += 1
        counters[slot] += 1
        token.name = name
        claim(name, token)

    return {token.name: token for d in dispersers for token in d.calibration_tokens.values()}


def _reject_unknown(fields, accepted, where: str) -> None:
    """An entry's field that the disperser does not write back would be dropped: refuse it."""
    stray = [k for k in fields if k not in accepted]
    if not stray:
        return
    raise ValueError(
        f"unknown key {stray[0]!r} in {where}; valid keys are "
        f"{['type', 'name', *accepted, *CALIBRATION_SLOTS]}"
    )


class InstrumentConfig(_ser.YamlMixin):
    """The distinct dispersers of a fit, with site names for their calibration tokens.

    ``Spectra`` builds one internally; build one directly to inspect names or run
    :meth:`validate`.

    Parameters
    ----------
    dispersers : iterable of Disperser
        Each distinct instance once (repeating an instance is harmless). Names must be
        non-empty and unique.

    Raises
    ------
    ValueError
        If there is no disperser, a name is empty or repeated, or two distinct tokens carry
        the same label in one slot.
    TypeError
        If an element is not a :class:`~unite_stan.instrument.base.Disperser`.

    Examples
    --------
    >>> import astropy.units as u, numpy as np
    >>> from unite_stan.instrument.generic import SimpleDisperser
    >>> grism = SimpleDisperser(np.linspace(6200, 6800, 600) * u.AA, R=1200.0, name='grism')
    >>> InstrumentConfig([grism]).names
    ['grism']
    >>> grism.r_scale.name
    'r_scale_grism'
    """

    def __init__(self, dispersers: Iterable[Disperser]):
        if isinstance(dispersers, Disperser):
            dispersers = [dispersers]
        distinct = _distinct(dispersers)
        if not distinct:
            raise ValueError("InstrumentConfig needs at least one disperser; got none")
        _check_names(distinct)
        self._dispersers = distinct
        self._params = _assign_site_names(distinct)

    @property
    def names(self) -> list[str]:
        """Disperser names, in order."""
        return [d.name for d in self._dispersers]

    @property
    def dispersers(self) -> list[Disperser]:
        """The distinct dispersers, in order (a copy of the list)."""
        return list(self._dispersers)

    @property
    def calibration_params(self) -> dict[str, Parameter]:
        """Site name → calibration token, by disperser order then slot order."""
        return dict(self._params)

    def validate(self) -> None:
        """Warn about calibration set-ups that leave parameters unidentifiable.

        With several dispersers, at least one must hold its ``flux_scale`` fixed (otherwise the
        flux scales are degenerate with every line flux and continuum scale) and at least one
        its ``pix_offset`` (otherwise the offsets are degenerate with the redshifts). A
        :class:`UserWarning` is issued for each violated condition.
        """
        if len(self._dispersers) < 2:
            return
        for slot, what in (
            ("flux_scale", "line fluxes and continuum scales"),
            ("pix_offset", "redshifts"),
        ):
            if not any(isinstance(getattr(d, slot).prior, Fixed) for d in self._dispersers):
                warnings.warn(
                    f"No disperser among {self.names} has a Fixed {slot}: the {slot} "
                    f"parameters are then degenerate with the {what}. Fix one of them, e.g. "
                    f"leave {slot}=None on a reference disperser.",
                    UserWarning,
                    stacklevel=2,
                )

    # ---- files ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """unite's layout (spec §5): ``calib_params`` (site → ``{type, prior}``) and
        ``entries`` (``{type, name, [fields], r_scale, flux_scale, pix_offset}``).

        Raises
        ------
        TypeError
            For a disperser that is not serialisable (only NIRSpec gratings and
            ``SDSSDisperser`` are).
        """
        entries = []
        for d in self._dispersers:
            fields = {k: _ser.plain(v) for k, v in d._yaml_fields().items()}
            entry = {"type": type(d).__name__, "name": d.name, **fields}
            entry.update({slot: token.name for slot, token in d.calibration_tokens.items()})
            entries.append(entry)
        calib = {
            name: {"type": type(token).__name__, "prior": _ser.prior_to_yaml(token.prior)}
            for name, token in self._params.items()
        }
        return {"calib_params": calib, "entries": entries}

    @classmethod
    def from_dict(cls, d) -> InstrumentConfig:
        """The configuration :meth:`to_dict` (or unite) wrote; unknown keys or types raise
        ValueError. ``validate()`` is not run (as in unite)."""
        from unite_stan.instrument.base import DISPERSERS

        _ser.check_keys(d, "the instrument configuration", ("calib_params", "entries"))
        token_types = {c.__name__: c for c in CALIBRATION_SLOTS.values()}
        declared = {}
        for site, entry in _ser.check_mapping(d["calib_params"], "calib_params").items():
            where = f"calib_params.{site}"
            _ser.check_keys(entry, where, ("type", "prior"))
            if entry["type"] not in token_types:
                raise ValueError(
                    f"unknown calibration token type {entry['type']!r} in {where}; valid types "
                    f"are {list(token_types)}"
                )
            token_cls = token_types[entry["type"]]
            prefix = f"{token_cls._site_prefix}_"
            if not site.startswith(prefix) or site == prefix:
                raise ValueError(
                    f"calibration parameter {site!r} ({token_cls.__name__}) must be named "
                    f"{prefix}<label>"
                )
            declared[site] = (token_cls, entry["prior"], f"{where}.prior")
        registry = _ser.read_tokens(
            declared, label=lambda site, token_cls: site[len(token_cls._site_prefix) + 1 :]
        )
        if not isinstance(d["entries"], list):
            raise ValueError(f"'entries' must be a list of dispersers, got {d['entries']!r}")
        used: set[str] = set()
        dispersers = []
        for i, entry in enumerate(d["entries"]):
            where = f"entries[{i}]"
            _ser.check_mapping(entry, where)
            for key in ("type", "name", *CALIBRATION_SLOTS):
                if key not in entry:
                    raise ValueError(f"missing key {key!r} in {where}")
            kind = entry["type"]
            serialisable = [
                c.__name__
                for c in DISPERSERS
                if c._yaml_fields is not Disperser._yaml_fields and not c.__name__.startswith("_")
            ]
            if kind not in serialisable:
                raise ValueError(
                    f"unknown disperser type {kind!r} in {where}; valid types are "
                    f"{sorted(serialisable)} (only NIRSpec gratings and SDSSDisperser are "
                    "serialisable)"
                )
            disperser_cls = DISPERSERS[kind]
            name = _ser.check_string(entry["name"], f"{where}.name")
            where = f"{where} ({kind} {name!r})"
            tokens = {}
            for slot in CALIBRATION_SLOTS:
                tokens[slot] = _ser.lookup(registry, entry[slot], f"{where}.{slot}")
                used.add(entry[slot])
            fields = {k: v for k, v in entry.items() if k not in ("type", "name", *tokens)}
            if disperser_cls._from_yaml_fields.__func__ is Disperser._from_yaml_fields.__func__:
                # the default hook passes the fields to the constructor: check them against it
                accepted = [
                    p
                    for p in inspect.signature(disperser_cls.__init__).parameters
                    if p not in ("self", "name", *CALIBRATION_SLOTS)
                ]
                _reject_unknown(fields, accepted, where)
            try:
                disperser = disperser_cls._from_yaml_fields(fields, name=name, **tokens)
            except TypeError as err:
                raise TypeError(f"{where}: {err}") from None
            _reject_unknown(fields, list(disperser._yaml_fields()), where)
            dispersers.append(disperser)
        _ser.check_all_used(registry, used, "disperser")
        return cls(dispersers)

    def __len__(self) -> int:
        return len(self._dispersers)

    def __iter__(self) -> Iterator[Disperser]:
        return iter(self._dispersers)

    def __getitem__(self, key: int | str) -> Disperser:
        if isinstance(key, str):
            for d in self._dispersers:
                if d.name == key:
                    return d
            raise KeyError(f"no disperser named {key!r}; valid names are {self.names}")
        return self._dispersers[key]

    def __add__(self, other: InstrumentConfig) -> InstrumentConfig:
        if not isinstance(other, InstrumentConfig):
            return NotImplemented
        return InstrumentConfig(self._dispersers + other._dispersers)

    def __repr__(self) -> str:
        return f"InstrumentConfig({self.names})"

    def __str__(self) -> str:
        lines = [f"InstrumentConfig: {len(self)} disperser(s)"]
        for d in self._dispersers:
            tokens = ", ".join(t.name for t in d.calibration_tokens.values())
            lines.append(f"  {d.name} ({type(d).__name__}, {d.unit!s}): {tokens}")
        lines.append("Calibration priors:")
        lines.extend(f"  {name}: {token.prior!r}" for name, token in self._params.items())
        return "\n".join(lines)
