"""One arm of the DESI spectrographs: :class:`DESIDisperser`, whose resolution and dispersion
come from the spectra file (:func:`~unite_stan.spectrum.from_desi_fits`)."""

from __future__ import annotations

from unite_stan.instrument._grid import GridDisperser
from unite_stan.prior import Parameter

__all__ = ["DESIDisperser"]

#: placeholder until a file is loaded: R rising linearly over each arm's range (Å)
PLACEHOLDER_R = {
    "B": ((3600.0, 5800.0), (2000.0, 4000.0)),
    "R": ((5760.0, 7620.0), (3000.0, 6000.0)),
    "Z": ((7520.0, 9824.0), (3000.0, 6500.0)),
}
PLACEHOLDER_DLAM = 0.8


def check_arm(arm) -> str:
    """``arm`` as an upper-case letter B, R or Z.

    Raises
    ------
    ValueError
        If it is not one of them (in either case).
    """
    if not isinstance(arm, str) or arm.upper() not in DESIDisperser.ARMS:
        raise ValueError(f"arm must be one of {DESIDisperser.ARMS}, got {arm!r}")
    return arm.upper()


class DESIDisperser(GridDisperser):
    """Disperser of one DESI arm (wavelengths in Å).

    Until :func:`~unite_stan.spectrum.from_desi_fits` sets the grids from a file, R rises
    linearly over the arm's range (B: 2000 to 4000 on 3600-5800 Å; R: 3000 to 6000 on
    5760-7620 Å; Z: 3000 to 6500 on 7520-9824 Å), held constant beyond, and dλ/dpix = 0.8 Å.

    Parameters
    ----------
    arm : {'B', 'R', 'Z'}
        Spectrograph arm (either case).
    name : str, optional
        Defaults to the lower-case arm letter.
    r_scale, flux_scale, pix_offset : RScale, FluxScale, PixOffset, optional
        Calibration tokens, as for :class:`~unite_stan.instrument.base.Disperser`.

    Raises
    ------
    ValueError
        If ``arm`` is not B, R or Z.

    Examples
    --------
    >>> DESIDisperser('b')
    DESIDisperser(arm='B', name='b')
    """

    ARMS = ("B", "R", "Z")

    def __init__(
        self,
        arm: str,
        name: str = "",
        r_scale: Parameter | None = None,
        flux_scale: Parameter | None = None,
        pix_offset: Parameter | None = None,
    ):
        arm = check_arm(arm)
        if not isinstance(name, str):
            raise TypeError(f"name={name!r} ({type(name).__name__}) must be a string")
        wavelength, resolution = PLACEHOLDER_R[arm]
        self._arm = arm
        super().__init__(
            wavelength,
            resolution,
            PLACEHOLDER_DLAM,
            name=name or arm.lower(),
            r_scale=r_scale,
            flux_scale=flux_scale,
            pix_offset=pix_offset,
        )

    @property
    def arm(self) -> str:
        """The arm letter, upper case."""
        return self._arm

    def __repr__(self) -> str:
        return f"DESIDisperser(arm={self._arm!r}, name={self.name!r})"
