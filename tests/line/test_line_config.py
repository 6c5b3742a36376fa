import astropy.units as u
import numpy as np
import pytest
from conftest import tutorial_lines

from unite_stan import line


def test_tutorial_site_names():
    lc = tutorial_lines()
    assert lc.names == ["Ha", "NII_6549", "NII_6585", "SII_6717", "SII_6731"]
    assert list(lc.tokens()) == [
        "z_narrow",
        "fwhm_gauss_narrow",
        "flux_Ha",
        "flux_NII_6549",
        "flux_SII_6717",
    ]
    assert lc["NII_6585"].strength == 3.0
    assert lc["NII_6585"].flux is lc["NII_6549"].flux


def test_anonymous_tokens_name_after_first_line_with_letter_suffixes():
    lc = line.LineConfiguration()
    lc.add_line("X", 5000 * u.AA)
    assert list(lc.tokens()) == ["z_X", "fwhm_gauss_X", "flux_X"]
    lc2 = line.LineConfiguration()
    lc2.add_line("Y", 5000 * u.AA, flux=line.Flux("Y"))
    lc2.add_line("Y2", 5100 * u.AA, flux=line.Flux())
    # an anonymous token on a line named like an existing label gets a letter suffix
    lc3 = line.LineConfiguration()
    lc3.add_line("A", 5000 * u.AA, flux=line.Flux("B"))
    lc3.add_line("B", 5100 * u.AA)
    assert "flux_B_a" in lc3.tokens()


def test_add_lines_names_use_g_format():
    lc = line.LineConfiguration()
    lc.add_lines("X", np.array([6564.614, 4861.0]) * u.AA)
    assert lc.names == ["X_6564.61", "X_4861"]
    assert "flux_X_6564.61" in lc.tokens()


def test_duplicate_line_name_is_an_error():
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563 * u.AA)
    with pytest.raises(ValueError, match=r"duplicate line name 'Ha': line names must be unique"):
        lc.add_line("Ha", 6564 * u.AA)


def test_duplicate_label_in_category_is_an_error():
    lc = line.LineConfiguration()
    lc.add_line("A", 5000 * u.AA, redshift=line.Redshift("n"))
    with pytest.raises(ValueError, match=r"duplicate site name 'z_n'"):
        lc.add_line("B", 5100 * u.AA, redshift=line.Redshift("n"))


def test_unknown_profile_alias_is_an_error():
    lc = line.LineConfiguration()
    with pytest.raises(ValueError) as refused:
        lc.add_line("A", 5000 * u.AA, profile="gauss")
    assert str(refused.value) == (
        "unknown profile 'gauss'; valid profiles are ['BoxGauss', 'Cauchy', 'GaussHermite', "
        "'Gaussian', 'GaussianSplitLaplace', 'Laplace', 'PseudoVoigt', 'SEMG', 'SkewNormal', "
        "'SkewVoigt', 'SplitNormal'] (aliases: aemg, asymmetric-emg, box-gauss, boxcar, "
        "boxgauss, cauchy, exp-gaussian, exponential, gauss-hermite, gaussian, "
        "gaussian-split-laplace, gaussiansplitlaplace, hermite, laplace, lorentzian, normal, "
        "pseudovoigt, semg, skew-normal, skew-voigt, skewnormal, skewvoigt, split-normal, "
        "two-sided, voigt)"
    )
    lc.add_line("B", 5000 * u.AA, profile="NORMAL")
    assert isinstance(lc["B"].profile, line.Gaussian)
    # unite's aliases, case-insensitive: 'Exponential' is the Laplace profile
    lc.add_line("C", 5000 * u.AA, profile="Exponential")
    assert isinstance(lc["C"].profile, line.Laplace)
    assert sorted(lc["C"].fwhms) == ["fwhm_exp"]
    lc.add_line("D", 5000 * u.AA, profile="gauss-hermite")
    assert list(lc["D"].fwhms) == ["fwhm_gauss", "h3", "h4"]
    assert isinstance(lc["D"].fwhms["h3"], line.LineShape)
    assert isinstance(lc["D"].fwhms["fwhm_gauss"], line.FWHM)


def test_center_validation():
    lc = line.LineConfiguration()
    with pytest.raises(TypeError, match="must be a length Quantity"):
        lc.add_line("A", 5000.0)
    with pytest.raises(u.UnitConversionError):
        lc.add_line("A", 5000.0 * u.s)
    with pytest.raises(ValueError, match="must be a scalar Quantity"):
        lc.add_line("A", [5000.0, 5001.0] * u.AA)


def test_flux_and_tau_together_is_an_error():
    lc = line.LineConfiguration()
    with pytest.raises(TypeError, match="either flux \\(emission\\) or tau \\(absorption\\)"):
        lc.add_line("A", 5000 * u.AA, flux=line.Flux(), tau=line.Tau())


def test_covering_fraction_is_checked():
    from unite_stan.prior import Fixed, TruncatedNormal, Uniform

    lc = line.LineConfiguration()
    cases = [
        (Uniform(-0.1, 1.0), "has low -0.1 outside [0, 1]"),
        (Uniform(0.2, 1.5), "has high 1.5 outside [0, 1]"),
        (TruncatedNormal(0.5, 0.2, 0.0, 2.0), "has high 2.0 outside [0, 1]"),
        (Fixed(1.2), "has value 1.2 outside [0, 1]"),
    ]
    for prior, message in cases:
        with pytest.raises(ValueError) as err:
            lc.add_line(
                "abs",
                5000 * u.AA,
                tau=line.Tau(),
                covering_fraction=line.CoveringFraction(prior=prior),
            )
        assert str(err.value) == (
            f"line 'abs': covering fraction prior {prior!r} {message}; a covering fraction lies "
            "in [0, 1]"
        )
    with pytest.raises(ValueError) as err:
        lc.add_line("em", 5000 * u.AA, covering_fraction=line.CoveringFraction())
    assert str(err.value) == (
        "line 'em': covering_fraction applies to absorption lines (tau=...) only; an emission "
        "line has none"
    )
    with pytest.raises(TypeError, match="covering_fraction=.* must be a CoveringFraction token"):
        lc.add_line("abs", 5000 * u.AA, tau=line.Tau(), covering_fraction=line.Tau())
    assert len(lc) == 0
    # the site: cf_<line>, with the default prior Uniform(0, 1); shared tokens share it
    cf = line.CoveringFraction()
    lc.add_lines("NaD", [5891.6, 5897.6] * u.AA, tau=line.Tau(), covering_fraction=cf)
    assert [e.covering for e in lc] == [cf, cf]
    assert cf.name == "cf_NaD_5891.6"
    assert repr(cf.prior) == "Uniform(low=0, high=1)"


def test_wrong_slot_and_wrong_token_class():
    lc = line.LineConfiguration()
    with pytest.raises(
        ValueError, match=r"unknown profile parameter 'fwhm_lorentz'.*expected \['fwhm_gauss'\]"
    ):
        lc.add_line("A", 5000 * u.AA, fwhm_lorentz=line.FWHM())
    with pytest.raises(TypeError, match="fwhm_gauss=.* must be a FWHM token"):
        lc.add_line("A", 5000 * u.AA, fwhm_gauss=line.Flux())


def test_add_lines_list_length_mismatch():
    lc = line.LineConfiguration()
    with pytest.raises(ValueError, match="strength has 3 entries for 2 lines; give 1 or 2"):
        lc.add_lines("N", np.array([1.0, 2.0]) * u.AA, strength=[1, 2, 3])


def test_centers_and_subset_keep_tokens():
    lc = tutorial_lines()
    assert lc.centers.unit == u.AA
    np.testing.assert_allclose(lc.centers.value, [6563, 6549, 6585, 6717, 6731])
    sub = lc._subset(["Ha", "NII_6549"])
    assert sub.names == ["Ha", "NII_6549"]
    assert sub["Ha"].redshift.name == "z_narrow"
