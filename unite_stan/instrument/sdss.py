"""The SDSS/BOSS spectrographs: :class:`SDSSDisperser`, whose resolution and dispersion come
from the spectrum file (:func:`~unite_stan.spectrum.from_sdss_fits`)."""

from __future__ import annotations

from unite_stan.instrument._grid import GridDisperser
from unite_stan.prior import Parameter

__all__ = ["SDSSDisperser"]

#: placeholder until a file is loaded: constant R over the SDSS range, 1 Å per pixel
PLACEHOLDER_RANGE = (3800.0, 9200.0)
PLACEHOLDER_R = 2000.0
PLACEHOLDER_DLAM = 1.0


class SDSSDisperser(GridDisperser):
    """Disperser of an SDSS or BOSS spectrum (wavelengths in Å).

    Until :func:`~unite_stan.spectrum.from_sdss_fits` sets the grids from a file, R = 2000 and
    dλ/dpix = 1 Å on [3800, 9200] Å (held constant beyond).

    Parameters
    ----------
    name : str, optional
        Defaults to ``'SDSS'``.
    r_scale, flux_scale, pix_offset : RScale, FluxScale, PixOffset, optional
        Calibration tokens, as for :class:`~unite_stan.instrument.base.Disperser`.

    Examples
    --------
    >>> SDSSDisperser()
    SDSSDisperser(name='SDSS')
    >>> float(SDSSDisperser().R(6563.0))
    2000.0
    """

    def __init__(
        self,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        if not isinstance(name, str):
            raise TypeError(f"name={name!r} ({type(name).__name__}) must be a string")
        super().__init__(
            PLACEHOLDER_RANGE,
            PLACEHOLDER_R,
            PLACEHOLDER_DLAM,
            name=name or "SDSS",
            r_scale=r_scale,
            flux_scale=flux_scale,
            pix_offset=pix_offset,
        )

    def __repr__(self) -> str:
        return f"SDSSDisperser(name={self.name!r})"

    def _yaml_fields(self) -> dict:
        # The grids come from the spectrum file, which is read again on loading.
        return {}

    @classmethod
    def _from_yaml_fields(cls, fields: dict, **kwargs) -> SDSSDisperser:
        return cls(**kwargs)
