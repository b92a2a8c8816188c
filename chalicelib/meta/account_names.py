"""Account names (usernames and robot names): one spelling, one owner.

A name is stored NFKC-normalised (compatibility forms such as fullwidth
letters or ligatures become their plain letters), and refused when it holds a
character that does not show or reorders what does: controls, format
characters (zero-width joiners, bidi controls such as U+202E), line and
paragraph separators, unassigned and private-use code points.

Two names are one when they are equal after case folding or when they look
alike: `keys()` are the Unicode confusables skeleton (UTS #39, section 4) of
the case-folded name, and of the case-folded skeleton (the skeleton is not
case-insensitive: "BiII" looks like "Bill", "ADMIN" folds to "admin"), so
"Admin", "аdmin" (a Cyrillic а), "adrnin" ("rn" looks like "m") and "ADMIN"
all share a key with "admin". The store keeps one item per key
(chalicelib/meta/accounts.py), written in the same transaction as the account,
so two concurrent creates of look-alike names cannot both succeed.

The confusables data comes from the `confusable-homoglyphs` package (Unicode's
confusables.txt as JSON, regenerated with each Unicode release), loaded on the
first name check only: logins never pay for it.
"""
from __future__ import annotations

import functools
import unicodedata

# general categories that never belong in a name: controls, format characters
# (bidi controls, zero-width characters), separators other than the space,
# surrogates, private use and unassigned code points
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# invisible although not in those categories (Hangul fillers, the braille blank,
# combining grapheme joiner, variation selectors)
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u034f", "\u17b4", "\u17b5"}


class BadName(ValueError):
    """A name that cannot be an account's: the message says why."""


def normalise(name: str) -> str:
    """The stored form of a new name (NFKC); BadName if it holds a character that
    is invisible, a control or a bidirectional control."""
    if not isinstance(name, str):
        raise BadName("a name must be a string")
    text = unicodedata.normalize("NFKC", name)
    bad = sorted({c for c in text if _refused(c)})
    if bad:
        shown = ", ".join(f"U+{ord(c):04X}" for c in bad[:5])
        raise BadName(f"the name holds invisible, control or bidirectional-control characters ({shown})")
    return text


def _refused(c: str) -> bool:
    if c in _INVISIBLE or "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef":
        return True
    return unicodedata.category(c) in _REFUSED_CATEGORIES


def folded(name: str) -> str:
    """The name as the directory and the uniqueness rule compare it: NFKC, case folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def keys(name: str) -> tuple[str, ...]:
    """The name's account keys: two names that share one are one name (up to case
    and confusable characters)."""
    text = unicodedata.normalize("NFKC", name)
    return tuple(dict.fromkeys((skeleton(folded(text)), skeleton(folded(skeleton(text))))))


def same_name(one: str, other: str) -> bool:
    return bool(set(keys(one)) & set(keys(other)))


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, each character replaced by its prototype, NFD again."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in decomposed))


@functools.cache
def _prototypes() -> dict[str, str]:
    """confusables.txt's mapping (source character -> prototype string).

    The package keeps the mapping's pairs in both directions: a source lists only
    its prototype (which lists it back); a prototype lists its sources. Where two
    characters list only each other, the lower code point is taken as the
    prototype, so both get one skeleton either way.
    """
    from confusable_homoglyphs.confusables import confusables_data

    # the package wraps right-to-left characters in LRM marks for display: not data
    data = {_bare(k): [_bare(h["c"]) for h in v] for k, v in confusables_data.items()}
    out: dict[str, str] = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or len(homoglyphs) != 1:
            continue  # a prototype (a source is a single code point with one prototype)
        target = homoglyphs[0]
        back = data.get(target, [])
        if back != [char]:
            out[char] = target  # `target` is a prototype with other sources too
        elif len(target) != 1 or target < char:
            out[char] = target
    return out


def _bare(text: str) -> str:
    return text.replace("\u200e", "").replace("\u200f", "")
