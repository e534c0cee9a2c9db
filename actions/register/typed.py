"""What a subscriber typed, as every parser (account, meter, reading) reads it.

Python's ``\\d``, ``str.isdigit()``, ``int()`` and ``Decimal()`` take digits of every script, so
the parsers match ASCII ``[0-9]`` only, after this normalisation: NFKC folds full-width and other
compatibility forms into ASCII ("１２３．４５" is "123.45"), invisible formatting marks go, and
whatever still has a digit of another script or reorders what the subscriber sees is refused.
"""

from __future__ import annotations

import re
import unicodedata

# NFKC would turn "м³" into "м3" and "№" into "No": both keep their meaning here.
_KEPT = re.compile(r"([№\u00b2\u00b3\u00b9\u2070-\u209f])")
# Invisible marks that copy-paste and some keyboards add: zero-width spaces and joiners, the
# byte-order mark, the soft hyphen, left-to-right and right-to-left marks.
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# Bidi embeddings, overrides and isolates: the text shown is not the text sent.
_REORDERING = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# A decimal digit of any script but ASCII: Arabic-Indic "١٢٣", Devanagari "१२३", ...
_FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")


def typed(text: str) -> str:
    """The text with compatibility forms folded (NFKC) and invisible marks removed."""
    parts = _KEPT.split(text)
    folded = "".join(
        part if index % 2 else unicodedata.normalize("NFKC", part) for index, part in enumerate(parts)
    )
    return _INVISIBLE.sub("", folded)


def suspicious(text: str) -> bool:
    """Digits of another script, or marks that reorder the text: never a number of ours."""
    return _FOREIGN_DIGIT.search(text) is not None or _REORDERING.search(text) is not None
