"""Account names: NFKC, no invisible or bidi-control characters, and one key per
name up to case and Unicode confusables (UTS #39 skeleton)."""
from __future__ import annotations

import pytest

from chalicelib.meta.account_names import BadName, keys, normalise, same_name, skeleton


@pytest.mark.parametrize(
    ("given", "stored"),
    [("ｂｏｂ", "bob"), ("ﬁle", "file"), ("alice", "alice"), ("Zoë", "Zoë"), ("e\u0301", "é")],
)
def test_names_are_stored_nfkc(given, stored):
    assert normalise(given) == stored


@pytest.mark.parametrize(
    "name",
    [
        "ad\u200bmin",  # zero-width space
        "ad\u200dmin",  # zero-width joiner
        "adm\u202eni",  # right-to-left override
        "admin\u2066",  # left-to-right isolate
        "a\u061cb",  # Arabic letter mark
        "ad\x00min",
        "ad\x7fmin",
        "ad\u2028min",  # line separator
        "ad\ufeffmin",  # zero-width no-break space (BOM)
        "ad\u3164min",  # Hangul filler: prints as nothing
        "a\ufe0fb",  # variation selector
        "a\ue000b",  # private use
    ],
)
def test_invisible_control_and_bidi_characters_are_refused(name):
    with pytest.raises(BadName):
        normalise(name)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("admin", "Admin"),
        ("admin", "ADMIN"),
        ("admin", "\u0430dmin"),  # Cyrillic а
        ("admin", "adrnin"),  # rn looks like m
        ("paypal", "p\u0430yp\u0430l"),
        ("bill", "BiII"),  # capital I looks like l
        ("bob", "b0b"),
        ("bob", "ｂｏｂ"),
        ("straße", "STRASSE"),  # case folding, as the directory compares
        ("robot$app1", "robot$appl"),
    ],
)
def test_look_alike_names_share_a_key(one, other):
    assert same_name(one, other)


@pytest.mark.parametrize(("one", "other"), [("alice", "alicia"), ("bob", "rob"), ("dev1", "dev2"), ("team-a", "team-b")])
def test_different_names_have_different_keys(one, other):
    assert not set(keys(one)) & set(keys(other))


def test_skeleton_is_the_uts39_transform():
    # confusables.txt maps U+0430 CYRILLIC SMALL LETTER A to U+0061, U+217F SMALL ROMAN
    # NUMERAL ONE THOUSAND to "m", "m" itself to "rn"
    assert skeleton("\u0430") == "a"
    assert skeleton("m") == "rn"
    assert skeleton("\u217f") == skeleton("m")
    assert skeleton(skeleton("admin")) == skeleton("admin")
