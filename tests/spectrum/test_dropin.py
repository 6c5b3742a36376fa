"""Inputs and assignments that scripts written for unite use: astropy table columns with units
wherever unite takes Quantities, assignable ``Spectrum.name`` / ``Spectrum.disperser``, unite's
module path ``spectrum.collection``. Each case was checked to work in unite 3.5.2."""

import re

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Column, MaskedColumn, QTable, Table
from conftest import FLUX_UNIT

from unite_stan import continuum, line, spectrum
from unite_stan.instrument.generic import SimpleDisperser

WL = np.linspace(6200.0, 6800.0, 100)


def _table():
    t = Table({"wave": WL, "flux": 1e-17 * (1 + WL / 1e4), "err": np.full(WL.size, 1e-18)})
    t["wave"].unit = u.AA
    t["flux"].unit = FLUX_UNIT
    t["err"].unit = FLUX_UNIT
    return t


def _reference():
    disperser = SimpleDisperser(WL * u.AA, R=1000.0, name="g")
    return spectrum.from_arrays(
        center=WL * u.AA,
        flux=1e-17 * (1 + WL / 1e4) * FLUX_UNIT,
        error=np.full(WL.size, 1e-18) * FLUX_UNIT,
        disperser=disperser,
    )


def _same(a, b):
    assert a.unit == b.unit and a.flux_unit == b.flux_unit
    for what in ("low", "high", "flux", "error"):
        np.testing.assert_array_equal(getattr(a, what), getattr(b, what))


def test_table_columns_with_units_are_accepted_like_quantities():
    t = _table()
    assert type(t["wave"]) is Column
    disperser = SimpleDisperser(t["wave"], R=1000.0, name="g")
    assert disperser.unit == u.AA
    np.testing.assert_array_equal(disperser.wavelength, WL)
    ref = _reference()
    _same(
        spectrum.from_arrays(center=t["wave"], flux=t["flux"], error=t["err"], disperser=disperser),
        ref,
    )
    _same(spectrum.from_centers(t["wave"], t["flux"], t["err"], disperser), ref)
    low, high = Column(ref.low, unit=u.AA), Column(ref.high, unit=u.AA)
    _same(spectrum.from_edges(low, high, t["flux"], t["err"], disperser), ref)
    _same(spectrum.Spectrum(low, high, t["flux"], t["err"], disperser), ref)
    # a QTable's columns are Quantities already
    q = QTable(t)
    _same(
        spectrum.from_arrays(center=q["wave"], flux=q["flux"], error=q["err"], disperser=disperser),
        ref,
    )


def test_disperser_resolution_from_columns():
    dvel = SimpleDisperser(
        WL * u.AA, dvel=Column(np.full(WL.size, 100.0), unit=u.km / u.s), name="v"
    )
    assert float(dvel.R(6500.0)) == pytest.approx(299792.458 / 100.0)
    dlam = SimpleDisperser(WL * u.AA, dlam=Column(np.full(WL.size, 6.5), unit=u.AA), name="l")
    assert float(dlam.R(6500.0)) == pytest.approx(1000.0)
    per_pixel = SimpleDisperser(WL * u.AA, R=Column(np.linspace(900.0, 1100.0, WL.size)), name="r")
    assert float(per_pixel.R(WL[-1])) == pytest.approx(1100.0)


def test_line_and_region_centres_from_columns():
    centres = Column([6549.86, 6585.27], unit=u.AA)
    lc = line.LineConfiguration()
    lc.add_lines("NII", centres)
    assert lc.names == ["NII_6549.86", "NII_6585.27"]
    assert lc.centers.unit == u.AA
    cc = continuum.ContinuumConfiguration.from_lines(centres)
    assert len(cc) == 1 and cc[0].unit == u.AA


def test_columns_without_unit_or_with_masked_values_are_refused():
    t = _table()
    disperser = SimpleDisperser(WL * u.AA, R=1000.0, name="g")
    with pytest.raises(
        TypeError,
        match=re.escape(
            "center has no unit; set one (e.g. column.unit = 'Angstrom') or pass a Quantity"
        ),
    ):
        spectrum.from_arrays(center=Column(WL), flux=t["flux"], error=t["err"], disperser=disperser)
    with pytest.raises(TypeError, match=re.escape("wavelength (column 'w') has no unit")):
        SimpleDisperser(Column(WL, name="w"), R=1000.0, name="g")
    masked = MaskedColumn(t["flux"], name="flux", mask=WL > 6790.0)
    with pytest.raises(ValueError, match=re.escape("flux (column 'flux') has 2 masked entries")):
        spectrum.from_arrays(center=t["wave"], flux=masked, error=t["err"], disperser=disperser)


def test_spectrum_name_and_disperser_are_assignable():
    spec = _reference()
    assert spec.name == "g"
    spec.name = "renamed"
    assert (spec.name, spec.disperser.name) == ("renamed", "g")
    with pytest.raises(TypeError, match=re.escape("name=3 (int) must be a string")):
        spec.name = 3
    other = SimpleDisperser(WL * u.AA, R=2000.0, name="h")
    spec.disperser = other
    assert spec.disperser is other
    assert spec.name == "renamed"  # as in unite: the name is kept
    with pytest.raises(TypeError, match=re.escape("disperser=3 (int) is not a Disperser")):
        spec.disperser = 3


def test_assigning_a_disperser_in_another_unit_converts_the_edges():
    spec = _reference()
    edges = spec.edges.copy()
    spec.disperser = SimpleDisperser(WL / 1e4 * u.micron, R=1000.0, name="um")
    assert spec.unit == u.micron
    np.testing.assert_allclose(spec.edges, edges / 1e4, rtol=1e-15)
    np.testing.assert_allclose(spec.wavelength, WL / 1e4, rtol=1e-15)
    assert spec.covers(0.65, 0.66) and not spec.covers(6500.0, 6600.0)


def test_unite_module_path_for_spectra():
    from unite_stan.spectrum.collection import (
        RegionDiagnostic,
        ScaleDiagnosticList,
        Spectra,
        SpectrumScaleDiagnostic,
    )

    assert Spectra is spectrum.Spectra
    assert RegionDiagnostic is spectrum.RegionDiagnostic
    assert ScaleDiagnosticList is spectrum.ScaleDiagnosticList
    assert SpectrumScaleDiagnostic is spectrum.SpectrumScaleDiagnostic
