""":class:`Configuration`: the lines, continuum and dispersers of a fit, saved as one file."""

from __future__ import annotations

from unite_stan import _serialize as _ser
from unite_stan.continuum.config import ContinuumConfiguration
from unite_stan.instrument.config import InstrumentConfig
from unite_stan.line.config import LineConfiguration

__all__ = ["Configuration"]


class Configuration(_ser.YamlMixin):
    """The three configurations of a fit, bundled for saving and loading.

    Parameters
    ----------
    lines : LineConfiguration
    continuum : ContinuumConfiguration, optional
    dispersers : InstrumentConfig, optional
        Its :meth:`~unite_stan.instrument.InstrumentConfig.validate` runs here (not when a
        configuration is loaded from a file).

    Examples
    --------
    >>> import astropy.units as u
    >>> from unite_stan import line
    >>> lc = line.LineConfiguration()
    >>> lc.add_line('Ha', 6564.61 * u.AA)
    >>> text = Configuration(lc).to_yaml()
    >>> Configuration.from_yaml(text).lines.names
    ['Ha']
    """

    def __init__(
        self,
        lines: LineConfiguration,
        continuum: ContinuumConfiguration | None = None,
        dispersers: InstrumentConfig | None = None,
        *,
        _validate: bool = True,
    ):
        for value, cls, what in (
            (lines, LineConfiguration, "lines"),
            (continuum, ContinuumConfiguration, "continuum"),
            (dispersers, InstrumentConfig, "dispersers"),
        ):
            if (value is not None or what == "lines") and not isinstance(value, cls):
                raise TypeError(
                    f"Configuration {what}={value!r} must be a {cls.__name__}, not "
                    f"{type(value).__name__}"
                )
        self.lines = lines
        self.continuum = continuum
        self.dispersers = dispersers
        if dispersers is not None and _validate:
            dispersers.validate()

    def to_dict(self) -> dict:
        """``{lines: …, [continuum: …], [dispersers: …]}`` in unite's layout (spec §5)."""
        out = {"lines": self.lines.to_dict()}
        if self.continuum is not None:
            out["continuum"] = self.continuum.to_dict()
        if self.dispersers is not None:
            out["dispersers"] = self.dispersers.to_dict()
        return out

    @classmethod
    def from_dict(cls, d) -> Configuration:
        """The configuration :meth:`to_dict` (or unite) wrote. A continuum parameter with the
        name and prior of a line parameter is that token (e.g. a line ``Redshift`` used in a
        DLA region)."""
        _ser.check_keys(d, "the configuration", ("lines",), ("continuum", "dispersers"))
        lines = LineConfiguration.from_dict(d["lines"])
        continuum = None
        if d.get("continuum") is not None:
            continuum = ContinuumConfiguration.from_dict(d["continuum"], shared=lines.tokens())
        dispersers = None
        if d.get("dispersers") is not None:
            dispersers = InstrumentConfig.from_dict(d["dispersers"])
        return cls(lines, continuum, dispersers, _validate=False)

    def __add__(self, other: Configuration) -> Configuration:
        """Strict merges of each part (continuum zorders must match)."""
        if not isinstance(other, Configuration):
            return NotImplemented

        def combine(a, b):
            if a is None or b is None:
                return a if b is None else b
            return a + b

        return Configuration(
            self.lines + other.lines,
            combine(self.continuum, other.continuum),
            combine(self.dispersers, other.dispersers),
        )

    def __repr__(self) -> str:
        parts = [f"lines={len(self.lines)}"]
        if self.continuum is not None:
            parts.append(f"continuum regions={len(self.continuum)}")
        if self.dispersers is not None:
            parts.append(f"dispersers={self.dispersers.names}")
        return f"Configuration({', '.join(parts)})"
