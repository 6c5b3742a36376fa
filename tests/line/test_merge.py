"""LineConfiguration.merge and ``+`` with unite's semantics.

Every expected outcome (which merges raise, the messages, which token a merged line uses) was
observed with unite 3.5.2 on the same configurations.
"""

import re

import astropy.units as u
import pytest

from unite_stan import line, prior


def _sites(lc):
    return [
        (e.name, e.redshift.name, e.fwhms["fwhm_gauss"].name, (e.flux or e.tau).name) for e in lc
    ]


def _labelled_pair():
    a = line.LineConfiguration()
    a.add_line("Ha", 6563 * u.AA, redshift=line.Redshift("n"), fwhm_gauss=line.FWHM("n"))
    b = line.LineConfiguration()
    z_b = line.Redshift("n", prior=prior.Uniform(-0.1, 0.1))
    b.add_line("Hb", 4861 * u.AA, redshift=z_b, fwhm_gauss=line.FWHM("n"))
    return a, b, z_b


COLLISION = "Token name collision: 'z_n' exists in both configs. Use strict=False to merge same-typed tokens."


def test_strict_merge_and_plus_refuse_a_site_name_in_both():
    a, b, _ = _labelled_pair()
    with pytest.raises(ValueError, match=re.escape(COLLISION)):
        a.merge(b)
    with pytest.raises(ValueError, match=re.escape(COLLISION)):
        a + b


def test_strict_merge_refuses_even_the_same_token_in_both():
    # unite 3.5.2: one Redshift instance used in two configurations still collides
    z = line.Redshift("s")
    c = line.LineConfiguration()
    c.add_line("Ha", 6563 * u.AA, redshift=z)
    d = line.LineConfiguration()
    d.add_line("Hb", 4861 * u.AA, redshift=z)
    message = "Token name collision: 'z_s' exists in both configs."
    with pytest.raises(ValueError, match=re.escape(message)):
        c + d
    assert [e.redshift for e in c.merge(d, strict=False)] == [z, z]


def test_non_strict_merge_shares_same_named_tokens_keeping_self_s():
    a, b, z_b = _labelled_pair()
    merged = a.merge(b, strict=False)
    assert _sites(merged) == [
        ("Ha", "z_n", "fwhm_gauss_n", "flux_Ha"),
        ("Hb", "z_n", "fwhm_gauss_n", "flux_Hb"),
    ]
    ha, hb = merged
    assert hb.redshift is ha.redshift
    assert hb.fwhms["fwhm_gauss"] is ha.fwhms["fwhm_gauss"]
    # self's token, with self's prior (the default), not other's Uniform(-0.1, 0.1)
    assert repr(hb.redshift.prior) == repr(line.Redshift().prior)
    assert list(merged.tokens()) == ["z_n", "fwhm_gauss_n", "flux_Ha", "flux_Hb"]
    # the inputs are unchanged
    assert b["Hb"].redshift is z_b
    assert len(a) == 1 and len(b) == 1


def test_non_strict_merge_substitutes_every_use_of_the_shared_token():
    c = line.LineConfiguration()
    c.add_line("Ha", 6563 * u.AA, redshift=line.Redshift("n"))
    d = line.LineConfiguration()
    z_d, flux = line.Redshift("n"), line.Flux("m")
    d.add_lines("NII", [6549, 6585] * u.AA, redshift=z_d, flux=flux, strength=[1, 3])
    d.add_line("abs", 6000 * u.AA, tau=line.Tau(), redshift=z_d, zorder=5)
    merged = c.merge(d, strict=False)
    assert _sites(merged) == [
        ("Ha", "z_n", "fwhm_gauss_Ha", "flux_Ha"),
        ("NII_6549", "z_n", "fwhm_gauss_NII_6549", "flux_m"),
        ("NII_6585", "z_n", "fwhm_gauss_NII_6585", "flux_m"),
        ("abs", "z_n", "fwhm_gauss_abs", "tau_abs"),
    ]
    assert all(e.redshift is c["Ha"].redshift for e in merged)
    assert [e.strength for e in merged] == [1.0, 1.0, 3.0, 1.0]
    assert [e.zorder for e in merged] == [0, 0, 0, 5]
    assert all(e.redshift is z_d for e in d)


def test_anonymous_token_named_like_a_label_is_shared_when_not_strict():
    k = line.LineConfiguration()
    k.add_line("X", 6563 * u.AA)  # anonymous redshift: z_X
    m = line.LineConfiguration()
    m.add_line("Y", 4861 * u.AA, redshift=line.Redshift("X"))  # labelled: z_X
    with pytest.raises(ValueError, match=re.escape("Token name collision: 'z_X'")):
        k + m
    merged = k.merge(m, strict=False)
    assert _sites(merged) == [
        ("X", "z_X", "fwhm_gauss_X", "flux_X"),
        ("Y", "z_X", "fwhm_gauss_Y", "flux_Y"),
    ]


def test_non_strict_merge_refuses_same_name_different_class():
    a = line.LineConfiguration()
    a.add_line("Ha", 6563 * u.AA)  # flux_Ha is a Flux
    tau = line.Tau()
    tau.name = "flux_Ha"
    b = line.LineConfiguration()
    b.add_line("Hb", 4861 * u.AA, tau=tau)
    with pytest.raises(
        TypeError, match=re.escape("Token name 'flux_Ha' has type Flux in self but Tau in other.")
    ):
        a.merge(b, strict=False)


def test_duplicate_line_names_raise_in_both_modes():
    g = line.LineConfiguration()
    g.add_line(
        "Ha",
        6563 * u.AA,
        redshift=line.Redshift("p"),
        flux=line.Flux("p"),
        fwhm_gauss=line.FWHM("p"),
    )
    h = line.LineConfiguration()
    h.add_line(
        "Ha",
        6600 * u.AA,
        redshift=line.Redshift("q"),
        flux=line.Flux("q"),
        fwhm_gauss=line.FWHM("q"),
    )
    for strict in (True, False):
        with pytest.raises(ValueError, match=re.escape("duplicate line name 'Ha'")):
            g.merge(h, strict=strict)
    # anonymous tokens of equal line names collide by site name first, as in unite
    e, f = line.LineConfiguration(), line.LineConfiguration()
    e.add_line("Ha", 6563 * u.AA)
    f.add_line("Ha", 6563 * u.AA)
    with pytest.raises(ValueError, match=re.escape("Token name collision: 'flux_Ha'")):
        e + f


def test_merge_with_empty_and_with_other_types():
    a = line.LineConfiguration()
    a.add_line("Ha", 6563 * u.AA)
    assert _sites(a + line.LineConfiguration()) == _sites(a)
    assert _sites(line.LineConfiguration() + a) == _sites(a)
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for +")):
        a + 3
    with pytest.raises(TypeError, match=re.escape("cannot merge a LineConfiguration with 3 (int)")):
        a.merge(3)
