"""ContinuumConfiguration ``+`` with unite's semantics.

The outcomes (site names, allow_overlap of the result, which additions raise and their
messages) were observed with unite 3.5.2 on the same configurations.
"""

import re
import warnings

import astropy.units as u
import pytest

from unite_stan import continuum as C


def _sites(cc):
    return [sorted(t.name for t in slots.values()) for slots in cc.resolved_params]


def test_auto_tokens_are_relettered_in_region_order():
    a = C.ContinuumConfiguration.from_lines([5000] * u.AA)
    b = C.ContinuumConfiguration.from_lines([6000] * u.AA)
    assert _sites(a) == _sites(b) == [["angle_a", "norm_wav_a", "scale_a"]]
    for total in (a + b, b + a):
        assert [round(r.low, 3) for r in total] == [4874.913, 5849.896]
        assert _sites(total) == [
            ["angle_a", "norm_wav_a", "scale_a"],
            ["angle_b", "norm_wav_b", "scale_b"],
        ]
        assert total[0].form is a[0].form
    # the inputs keep their own tokens and names
    assert _sites(a) == [["angle_a", "norm_wav_a", "scale_a"]]


def test_user_token_site_names_must_differ():
    s1 = C.Scale("x")
    c = C.ContinuumConfiguration(
        [C.ContinuumRegion(4000 * u.AA, 4100 * u.AA, params={"scale": s1})]
    )
    d = C.ContinuumConfiguration(
        [C.ContinuumRegion(4200 * u.AA, 4300 * u.AA, params={"scale": C.Scale("x")})]
    )
    # the same token in both collides too (unite 3.5.2)
    e = C.ContinuumConfiguration(
        [C.ContinuumRegion(4200 * u.AA, 4300 * u.AA, params={"scale": s1})]
    )
    message = (
        "Parameter name collision(s) when adding ContinuumConfigurations: ['scale_x']. "
        "Rename the conflicting tokens before adding."
    )
    for other in (d, e):
        with pytest.raises(ValueError, match=re.escape(message)):
            c + other


def test_zorders_must_match():
    a = C.ContinuumConfiguration.from_lines([5000] * u.AA)
    f = C.ContinuumConfiguration([C.ContinuumRegion(7000 * u.AA, 7100 * u.AA)], zorder=2)
    message = (
        "Cannot add ContinuumConfigurations with different zorders (0 vs 2). Set zorder "
        "explicitly on both before adding, or construct a single configuration with all regions."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        a + f
    g = C.ContinuumConfiguration([C.ContinuumRegion(7200 * u.AA, 7300 * u.AA)], zorder=2)
    assert (f + g).zorder == 2


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [(True, False, False), (False, True, False), (True, True, True), (False, False, False)],
)
def test_allow_overlap_is_kept_only_when_both_allow(first, second, expected):
    g = C.ContinuumConfiguration([C.ContinuumRegion(4950 * u.AA, 5050 * u.AA)], allow_overlap=first)
    h = C.ContinuumConfiguration(
        [C.ContinuumRegion(4960 * u.AA, 5100 * u.AA)], allow_overlap=second
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        total = g + h
    assert total.allow_overlap is expected
    overlap = [w for w in caught if "overlap" in str(w.message)]
    assert len(overlap) == (0 if expected else 1)


def test_duplicate_region_names_and_named_regions():
    n1 = C.ContinuumConfiguration([C.ContinuumRegion(4000 * u.AA, 4100 * u.AA, name="blue")])
    n2 = C.ContinuumConfiguration([C.ContinuumRegion(4200 * u.AA, 4300 * u.AA, name="blue")])
    with pytest.raises(ValueError, match=re.escape("duplicate continuum region names ['blue']")):
        n1 + n2
    b = C.ContinuumConfiguration.from_lines([6000] * u.AA)
    assert _sites(n1 + b) == [
        ["angle_blue", "norm_wav_blue", "scale_blue"],
        ["angle_a", "norm_wav_a", "scale_a"],
    ]


def test_auto_letters_skip_names_user_tokens_carry():
    # an anonymous user token keeps the name it got in its own configuration (scale_a); unite
    # 3.5.2 then names the other region's auto scale token scale_a too, unite_stan skips the
    # letter (docs/differences.md)
    t = C.Scale()
    k = C.ContinuumConfiguration([C.ContinuumRegion(4000 * u.AA, 4100 * u.AA, params={"scale": t})])
    b = C.ContinuumConfiguration.from_lines([6000] * u.AA)
    high = C.ContinuumConfiguration(
        [C.ContinuumRegion(7000 * u.AA, 7100 * u.AA, params={"scale": C.Scale()})]
    )
    assert t.name == "scale_a"
    assert _sites(b + k) == [
        ["angle_a", "norm_wav_a", "scale_a"],
        ["angle_b", "norm_wav_b", "scale_b"],
    ]
    assert [s["scale"] for s in (b + k).resolved_params][0] is t
    # the user token is in a later region than the auto one: still no duplicate
    assert _sites(b + high) == [
        ["angle_a", "norm_wav_a", "scale_b"],
        ["angle_b", "norm_wav_b", "scale_a"],
    ]


def test_adding_other_types():
    a = C.ContinuumConfiguration.from_lines([5000] * u.AA)
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for +")):
        a + 3
    assert len(a + C.ContinuumConfiguration()) == 1
