"""JWST/NIRSpec dispersers: the prism and the six gratings.

Dispersion (µm per pixel) comes from the JDOX dispersion tables bundled in
``unite_stan/data/nirspec/`` (see the README there for their provenance). The resolving power
is either the point-source polynomial of de Graaff et al. (2025) (``r_source='point'``, the
default) or the tables' uniformly-illuminated-slit ``R`` column (``r_source='uniform'``).
"""

from __future__ import annotations

from functools import cache

import astropy.units as u
import numpy as np
from astropy.io import fits

from unite_stan._resources import data_dir
from unite_stan.instrument.base import Disperser
from unite_stan.prior import Parameter

__all__ = ["G140H", "G140M", "G235H", "G235M", "G395H", "G395M", "NIRSpec", "PRISM"]

GRATINGS = ("prism", "g140m", "g140h", "g235m", "g235h", "g395m", "g395h")

#: r_source spelling → canonical value
R_SOURCES = {
    "point": "point",
    "point-source": "point",
    "point_source": "point",
    "uniform": "uniform",
    "uniformly-illuminated": "uniform",
    "uniformly_illuminated": "uniform",
}

#: de Graaff et al. (2025) point-source R(λ), λ in µm, highest power first
POINT_SOURCE_POLYNOMIALS = {
    "prism": (
        0.6588751520824567,
        -13.160715906787065,
        105.20050050555237,
        -429.52868537465565,
        959.0507565400321,
        -1043.4918213547285,
        480.90575759267125,
    ),
    "g140m": (72.97401411114878, 1238.119318020148, 122.54619776393024),
    "g140h": (497.93050338537523, 2477.457080098987, 691.0215379986365),
    "g235m": (-103.96581777710607, 1216.7117974835414, -496.75905571502886),
    "g235h": (-290.05755034631613, 3480.1919687566588, -1422.7141098998798),
    "g395m": (-33.7506093199521, 571.9739062868341, -28.885468437995822),
    "g395h": (-113.72459145364421, 1717.7667125191442, -322.82363185174756),
}


@cache
def dispersion_table(grating: str) -> dict[str, np.ndarray]:
    """The bundled JDOX table of ``grating``: float arrays ``WAVELENGTH`` (µm), ``DLDS``
    (µm/pixel) and ``R`` (uniformly illuminated slit), read once per session."""
    path = data_dir() / "nirspec" / f"jwst_nirspec_{grating}_disp.fits"
    with fits.open(path) as hdul:
        table = hdul[1].data
        return {k: np.array(table[k], dtype=float) for k in ("WAVELENGTH", "DLDS", "R")}


def _grating(grating) -> str:
    if not isinstance(grating, str) or grating.lower() not in GRATINGS:
        raise ValueError(
            f"Unknown NIRSpec grating {grating!r}; valid gratings (case-insensitive) are "
            f"{list(GRATINGS)}"
        )
    return grating.lower()


def _r_source(r_source) -> str:
    key = r_source.lower() if isinstance(r_source, str) else r_source
    if key not in R_SOURCES:
        raise ValueError(
            f"Unknown r_source {r_source!r}; valid values are {list(R_SOURCES)} "
            "('point' for the point-source polynomials, 'uniform' for the uniformly illuminated "
            "slit table)"
        )
    return R_SOURCES[key]


class NIRSpec(Disperser):
    """A JWST/NIRSpec disperser (wavelengths in µm).

    Parameters
    ----------
    grating : str
        One of ``'prism'``, ``'g140m'``, ``'g140h'``, ``'g235m'``, ``'g235h'``, ``'g395m'``,
        ``'g395h'`` (case-insensitive).
    r_source : str, optional
        ``'point'`` (also ``'point-source'``, ``'point_source'``; the default): the
        point-source polynomial R(λ) of de Graaff et al. (2025), evaluated as is outside the
        grating's range. ``'uniform'`` (also ``'uniformly-illuminated'``,
        ``'uniformly_illuminated'``): the JDOX table's R for a uniformly illuminated slit,
        interpolated linearly and held constant beyond the table's ends.
    name : str, optional
        Disperser label; defaults to the upper-case grating (``'G395M'``).
    r_scale, flux_scale, pix_offset : RScale, FluxScale, PixOffset, optional
        Calibration tokens, as for :class:`~unite_stan.instrument.base.Disperser`.

    Notes
    -----
    The dispersion :meth:`dlam_dpix` always comes from the JDOX table (linear interpolation,
    held constant beyond the ends), whatever ``r_source``.

    Raises
    ------
    ValueError
        If ``grating`` or ``r_source`` is not one of the values above.

    Examples
    --------
    >>> d = NIRSpec('G395M')
    >>> d.grating, d.r_source, d.name
    ('g395m', 'point', 'G395M')
    >>> round(float(d.R(3.0)), 1)
    1383.3
    """

    def __init__(
        self,
        grating: str,
        r_source: str = "point",
        *,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        grating = _grating(grating)
        r_source = _r_source(r_source)
        super().__init__(
            u.um,
            name=name or grating.upper(),
            r_scale=r_scale,
            flux_scale=flux_scale,
            pix_offset=pix_offset,
        )
        self._grating = grating
        self._r_source = r_source
        self._table = dispersion_table(grating)

    @property
    def grating(self) -> str:
        """Lower-case grating name (``'prism'``, ``'g395m'``, …)."""
        return self._grating

    @property
    def r_source(self) -> str:
        """``'point'`` or ``'uniform'``: which resolving-power calibration :meth:`R` uses."""
        return self._r_source

    def R(self, wavelength):
        wavelength = np.asarray(wavelength, dtype=float)
        if self._r_source == "point":
            return np.polyval(POINT_SOURCE_POLYNOMIALS[self._grating], wavelength)
        return np.interp(wavelength, self._table["WAVELENGTH"], self._table["R"])

    def dlam_dpix(self, wavelength):
        wavelength = np.asarray(wavelength, dtype=float)
        return np.interp(wavelength, self._table["WAVELENGTH"], self._table["DLDS"])

    def _yaml_fields(self) -> dict:
        """The disperser's own fields in unite's YAML entry (besides type, name and tokens)."""
        return {"grating": self._grating, "r_source": self._r_source}

    @classmethod
    def _from_yaml_fields(cls, fields, **kwargs) -> NIRSpec:
        """Build from :meth:`_yaml_fields`' dictionary; ``kwargs`` are ``name`` and the tokens.

        On a grating class, ``grating`` may be omitted but must match the class if given.
        """
        unknown = sorted(set(fields) - {"grating", "r_source"})
        if unknown:
            raise ValueError(
                f"unknown {cls.__name__} field(s) {unknown}; valid fields are "
                "['grating', 'r_source']"
            )
        r_source = fields.get("r_source", "point")
        if cls is NIRSpec:
            if "grating" not in fields:
                raise ValueError("a NIRSpec entry needs a 'grating' field, e.g. grating: g395m")
            return cls(fields["grating"], r_source, **kwargs)
        if "grating" in fields and _grating(fields["grating"]) != cls._GRATING:
            raise ValueError(
                f"grating {fields['grating']!r} contradicts type {cls.__name__} (grating "
                f"{cls._GRATING!r})"
            )
        return cls(r_source, **kwargs)

    def __repr__(self) -> str:
        return f"NIRSpec(grating={self._grating!r}, r_source={self._r_source!r})"


class _Grating(NIRSpec):
    """A NIRSpec disperser with its grating fixed by the class."""

    _GRATING: str

    def __init__(
        self,
        r_source: str = "point",
        *,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        super().__init__(
            self._GRATING,
            r_source,
            name=name,
            r_scale=r_scale,
            flux_scale=flux_scale,
            pix_offset=pix_offset,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(r_source={self._r_source!r})"


def _grating_doc(grating: str) -> str:
    return (
        f"NIRSpec {grating.upper()}: ``NIRSpec('{grating}', ...)`` with the default name "
        f"``'{grating.upper()}'``.\n\n"
        "    Parameters\n    ----------\n"
        "    r_source : str, optional\n        ``'point'`` (default) or ``'uniform'``; see "
        ":class:`NIRSpec`.\n"
        "    name, r_scale, flux_scale, pix_offset\n        As for :class:`NIRSpec`.\n"
    )


class PRISM(_Grating):
    __doc__ = _grating_doc("prism")
    _GRATING = "prism"


class G140M(_Grating):
    __doc__ = _grating_doc("g140m")
    _GRATING = "g140m"


class G140H(_Grating):
    __doc__ = _grating_doc("g140h")
    _GRATING = "g140h"


class G235M(_Grating):
    __doc__ = _grating_doc("g235m")
    _GRATING = "g235m"


class G235H(_Grating):
    __doc__ = _grating_doc("g235h")
    _GRATING = "g235h"


class G395M(_Grating):
    __doc__ = _grating_doc("g395m")
    _GRATING = "g395m"


class G395H(_Grating):
    __doc__ = _grating_doc("g395h")
    _GRATING = "g395h"
