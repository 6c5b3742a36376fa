"""Spectra: construction checks, container API, scale setters, prepare/filter_config."""

import astropy.units as u
import numpy as np
import pytest

from unite_stan import continuum, line
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.spectrum import Spectra, from_centers

FLAM = u.erg / u.s / u.cm**2 / u.AA
KMS = u.km / u.s


def spectrum_on(lo, hi, name="grism", disperser_name=None, n=200):
    wl = np.linspace(lo, hi, n)
    disperser = SimpleDisperser(
        wl * u.AA, R=1000.0, name=name if disperser_name is None else disperser_name
    )
    return from_centers(wl * u.AA, np.ones(n) * FLAM, np.ones(n) * 0.1 * FLAM, disperser, name=name)


def lines(*names_centres):
    lc = line.LineConfiguration()
    for name, centre in names_centres:
        lc.add_line(name, centre * u.AA)
    return lc


def test_construction_and_container_api():
    a, b = spectrum_on(4000, 5000, "blue"), spectrum_on(6000, 7000, "red")
    spectra = Spectra([a, b], redshift=0.1)
    assert len(spectra) == 2
    assert list(spectra) == [a, b]
    assert spectra[1] is b and spectra["blue"] is a
    assert spectra.redshift == 0.1
    assert spectra.canonical_unit == u.AA
    assert spectra.instrument.names == ["blue", "red"]
    assert spectra.dispersers == [a.disperser, b.disperser]
    assert repr(spectra) == "Spectra: 2 spectrum/a, z=0.1000"
    assert repr(Spectra([a])) == "Spectra: 1 spectrum/a, z=0.0000"
    assert "r_scale_blue" in str(spectra)
    with pytest.raises(KeyError, match=r"names are \['blue', 'red'\]"):
        spectra["green"]
    assert not spectra.is_prepared
    assert spectra.line_scale is None and spectra.continuum_scale is None
    assert spectra.scale_diagnostics is None
    assert Spectra([a], canonical_unit="micron").canonical_unit == u.micron


def test_unnamed_disperser_is_rejected_with_a_fix():
    spec = spectrum_on(4000, 5000, name="", disperser_name="")
    with pytest.raises(ValueError, match=r"Dispersers at indices \[0\] have empty names.*name="):
        Spectra([spec])


def test_spectra_sharing_a_disperser():
    a = spectrum_on(4000, 5000, "grism")
    wl = np.linspace(5000, 6000, 50) * u.AA
    b = from_centers(wl, np.ones(50) * FLAM, np.ones(50) * FLAM, a.disperser, name="second")
    spectra = Spectra([a, b])
    assert spectra.dispersers == [a.disperser]
    clash = from_centers(wl, np.ones(50) * FLAM, np.ones(50) * FLAM, a.disperser)
    with pytest.raises(ValueError, match="spectrum names must be unique"):
        Spectra([a, clash])


def test_construction_errors():
    spec = spectrum_on(4000, 5000)
    with pytest.raises(ValueError, match="at least one"):
        Spectra([])
    with pytest.raises(TypeError, match=r"spectra\[0\]"):
        Spectra(["x"])
    with pytest.raises(TypeError, match="wrap it"):
        Spectra(spec)
    with pytest.raises(ValueError, match="> -1"):
        Spectra([spec], redshift=-1.0)
    with pytest.raises(u.UnitConversionError):
        Spectra([spec], canonical_unit=u.s)


def test_scale_setters_validate():
    spectra = Spectra([spectrum_on(4000, 5000)])
    spectra.line_scale = 2e-15 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * u.W / u.m**2 / u.nm
    assert spectra.line_scale.unit == u.erg / u.s / u.cm**2
    with pytest.raises(ValueError, match="> 0"):
        spectra.line_scale = -1 * u.erg / u.s / u.cm**2
    with pytest.raises(u.UnitConversionError, match="convertible"):
        spectra.continuum_scale = 1 * u.Jy
    with pytest.raises(TypeError, match="Quantity"):
        spectra.continuum_scale = 1e-17


def test_prepare_drops_uncovered_line_and_reletters_regions():
    spectra = Spectra([spectrum_on(6000, 7000)], redshift=0.01)
    lc = lines(("Hb", 4862.7), ("Ha", 6564.6), ("SII", 6718.3))
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers, width=3000 * KMS)
    assert [r.low < 5000 for r in cc] == [True, False, False]
    with pytest.warns(UserWarning) as caught:
        flc, fcc = spectra.prepare(lc, cc)
    assert [str(w.message) for w in caught] == [
        "dropped the lines outside every spectrum's coverage: 'Hb' (needs a pixel within "
        "4903.14-4919.52 Angstrom); the spectra cover 'grism' 5997.49-7002.51 Angstrom "
        "(observed frame, z_sys=0.01; a line's window is its centre ± linedet_width/2)"
    ]
    assert [e.name for e in flc] == ["Ha", "SII"]
    assert flc["Ha"].flux is lc["Ha"].flux and flc["Ha"].flux.name == "flux_Ha"
    assert len(fcc) == 2 and fcc is not cc
    assert [r for r in fcc] == [cc[1], cc[2]]
    assert list(fcc.tokens())[:3] == ["scale_a", "angle_a", "norm_wav_a"]
    assert fcc.resolved_params[0]["scale"] is not cc.resolved_params[1]["scale"]
    assert spectra.is_prepared
    assert spectra.prepared_line_config is flc and spectra.prepared_cont_config is fcc


def test_prepare_warns_of_covered_regions_without_lines():
    spectra = Spectra([spectrum_on(6000, 7000)])
    lc = lines(("Ha", 6564.6))
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(6400 * u.AA, 6700 * u.AA),
            continuum.ContinuumRegion(6100 * u.AA, 6200 * u.AA),
        ]
    )
    with pytest.warns(UserWarning) as caught:
        _, fcc = spectra.prepare(lc, cc)
    assert [str(w.message) for w in caught] == [
        "dropped 1 continuum region(s) in which no line lies (rest frame; lines: ['Ha']): "
        "6100-6200 Angstrom"
    ]
    assert [(r.low, r.high) for r in fcc] == [(6400, 6700)]
    only_empty = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6100 * u.AA, 6200 * u.AA)]
    )
    with pytest.warns(UserWarning) as caught:
        _, fcc = spectra.prepare(lc, only_empty)
    assert fcc is None
    assert [str(w.message) for w in caught] == [
        "dropped 1 continuum region(s) in which no line lies (rest frame; lines: ['Ha']): "
        "6100-6200 Angstrom; no region is left: the model has no continuum, and every pixel "
        "of the spectra is fitted by the lines alone"
    ]


def test_prepare_coverage_uses_linedet_width():
    spectra = Spectra([spectrum_on(6000, 7000)])
    lc = lines(("edge", 7010.0))
    assert len(spectra.prepare(lc)[0]) == 1  # 7010 − 500 km/s = 6998.3 < 7002.5 (last edge)
    with pytest.warns(UserWarning) as caught:
        assert len(spectra.prepare(lc, linedet_width=100 * KMS)[0]) == 0
    assert [str(w.message) for w in caught] == [
        "none of the lines ['edge'] is covered by the spectra; the filtered line configuration "
        "is empty: 'edge' (needs a pixel within 7008.83-7011.17 Angstrom); the spectra cover "
        "'grism' 5997.49-7002.51 Angstrom (observed frame, z_sys=0; a line's window is its "
        "centre ± linedet_width/2)"
    ]
    with pytest.raises(u.UnitConversionError):
        spectra.prepare(lc, linedet_width=5 * u.AA)


def test_drop_empty_regions():
    spectra = Spectra([spectrum_on(6000, 7000)])
    lc = lines(("Ha", 6564.6))
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(6100 * u.AA, 6300 * u.AA),
            continuum.ContinuumRegion(6400 * u.AA, 6564.6 * u.AA),  # inclusive bound
        ]
    )
    with pytest.warns(UserWarning) as caught:
        _, kept = spectra.prepare(lc, cc)
    assert [str(w.message) for w in caught] == [
        "dropped 1 continuum region(s) in which no line lies (rest frame; lines: ['Ha']): "
        "6100-6300 Angstrom"
    ]
    assert [(r.low, r.high) for r in kept] == [(6400.0, 6564.6)]
    _, all_regions = spectra.prepare(lc, cc, drop_empty_regions=False)
    assert len(all_regions) == 2
    with pytest.warns(UserWarning, match="; no region is left: the model has no continuum, and"):
        lines_only, none_left = spectra.prepare(
            lc, continuum.ContinuumConfiguration(cc.regions[:1])
        )
    assert none_left is None and len(lines_only) == 1


def test_filter_config_keeps_covered_regions_without_storing():
    spectra = Spectra([spectrum_on(6000, 7000)])
    lc = lines(("Ha", 6564.6))
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(5000 * u.AA, 5500 * u.AA),
            continuum.ContinuumRegion(6100 * u.AA, 6300 * u.AA),
        ],
        zorder=2,
    )
    flc, fcc = spectra.filter_config(lc, cc)
    assert len(flc) == 1
    assert [(r.low, r.high) for r in fcc] == [(6100.0, 6300.0)]
    assert fcc.zorder == 2
    assert not spectra.is_prepared
    assert spectra.filter_config(lc)[1] is None


def test_filter_config_gives_an_empty_configuration_when_no_region_is_covered():
    # unite 3.5.2: filter_config returns an empty ContinuumConfiguration (same zorder and
    # allow_overlap), prepare returns None
    spectra = Spectra([spectrum_on(6000, 7000)])
    lc = lines(("Ha", 6564.6))
    cc = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(4000 * u.AA, 4100 * u.AA)], zorder=3, allow_overlap=True
    )
    _, filtered = spectra.filter_config(lc, cc)
    assert isinstance(filtered, continuum.ContinuumConfiguration)
    assert (len(filtered), filtered.zorder, filtered.allow_overlap) == (0, 3, True)
    assert spectra.prepare(lc, cc)[1] is None


def test_region_coverage_converts_units_and_redshift():
    wl = np.linspace(0.6, 0.7, 100)
    disperser = SimpleDisperser(wl * u.micron, R=1000.0, name="nir")
    spec = from_centers(wl * u.micron, np.ones(100) * FLAM, np.ones(100) * FLAM, disperser)
    spectra = Spectra([spec], redshift=1.0)
    lc = lines(("Hb", 3300.0))
    cc = continuum.ContinuumConfiguration([continuum.ContinuumRegion(3200 * u.AA, 3400 * u.AA)])
    flc, fcc = spectra.prepare(lc, cc)
    assert len(flc) == 1 and len(fcc) == 1


def test_prepare_type_checks():
    spectra = Spectra([spectrum_on(6000, 7000)])
    with pytest.raises(TypeError, match="LineConfiguration"):
        spectra.prepare([("Ha", 6563)])
    with pytest.raises(TypeError, match="ContinuumConfiguration or None"):
        spectra.prepare(lines(("Ha", 6564.6)), "linear")
