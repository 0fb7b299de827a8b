"""Text primitives shared by the objectives: sanitising, content stems, numbers, cue words.

Everything here runs in time linear in the input: patterns are either plain character classes or
use possessive quantifiers (``regex``), so no input can make them backtrack.

Stems (:func:`stem`) are our cheap, deterministic stand-in for lemmatisation: one inflection
suffix off, then the first six letters ("coughing" and "cough" share ``cough``;
"lymphadenopathy" becomes ``lympha``).
"""

from __future__ import annotations

import string
import unicodedata

import regex

from verl_crpo.rewards.lexicon import GENERIC_WORDS, STOP_WORDS

__all__ = [
    "GENERIC_WORDS",
    "NUMBER_WORDS",
    "STOP_WORDS",
    "WORD_BREAKS",
    "ascii_fold",
    "normalize_number",
    "numbers_in",
    "sanitize",
    "stem",
    "stem_of",
    "stems_of",
    "words_of",
]

# C0/C1 controls (except tab and newline), format characters (zero-width, bidi overrides, soft
# hyphen) and lone surrogates: Unicode 14 categories Cc, Cf, Cs. A translate table deletes them
# in one C pass, several times faster than a regex class on non-ASCII text.
_INVISIBLE_RANGES = (
    (0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
    (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xDFFF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
_DELETE_INVISIBLE = {cp: None for lo, hi in _INVISIBLE_RANGES for cp in range(lo, hi + 1)}
_DELETE_INVISIBLE[ord("\r")] = "\n"
_DELETE_ASCII_CONTROLS = str.maketrans({cp: _DELETE_INVISIBLE[cp] for cp in range(128) if cp in _DELETE_INVISIBLE})
# Translate table: punctuation becomes a word break, apostrophes vanish (doesn't -> doesnt);
# letters (any script), digits and non-ASCII symbols stay.
WORD_BREAKS = str.maketrans(
    {**{c: " " for c in string.punctuation + "\u2013\u2014\u201c\u201d\x1f"}, "'": None, "\u2019": None, "\u2018": None}
)
# Numbers as words, for options named that way ("two-to-one" for "2:1").
_ONE_TO_TEN = "one two three four five six seven eight nine ten".split()  # noqa: SIM905
NUMBER_WORDS = dict(zip(map(str, range(1, 11)), _ONE_TO_TEN, strict=True))
_NUMBER = regex.compile(r"(?<![\p{L}\d.,])\d++(?:[.,]\d++)*+")


def sanitize(text: str) -> str:
    """Return ``text`` in NFKC with invisible and control characters removed.

    NFKC folds compatibility forms (full-width ``Ｃ`` becomes ``C``, ``℃`` becomes ``°C``); it
    does not fold look-alikes from other scripts (Cyrillic ``С`` stays Cyrillic), see
    :mod:`verl_crpo.rewards.parsing`. Text that NFKC would more than double is left as is.
    Tabs and newlines are kept; carriage returns become newlines.

    Example:
        >>> sanitize("Final\\u200b answer: \\\\boxed{\\uff23}\\x00")
        'Final answer: \\\\boxed{C}'
    """
    if text.isascii():
        return text.translate(_DELETE_ASCII_CONTROLS)
    # str.translate is slow on non-ASCII strings; isprintable() is a C scan, so only text that
    # really holds a control, invisible or unassigned character pays for the deletion table.
    if not all(line.isprintable() for line in text.replace("\t", " ").split("\n")):
        text = text.translate(_DELETE_INVISIBLE)
    if not unicodedata.is_normalized("NFKC", text):
        text = _bounded_nfkc(text)
    if not all(line.isprintable() for line in text.replace("\t", " ").split("\n")):
        text = text.translate(_DELETE_INVISIBLE)
    return text


def _bounded_nfkc(text: str) -> str:
    # A few characters expand up to 18-fold (U+FDFA); text full of them is garbage, and
    # normalising 100 KB of it alone takes ~0.3 s. Sixteen evenly spread windows estimate the
    # expansion first; text that NFKC would more than double is kept as it came.
    if len(text) > 8192:
        step = len(text) // 16
        sample = "".join(text[i : i + 256] for i in range(0, len(text), step))
        if len(unicodedata.normalize("NFKC", sample)) > 2 * len(sample) + 64:
            return text
    normal = unicodedata.normalize("NFKC", text)
    return normal if len(normal) <= 2 * len(text) + 64 else text


def ascii_fold(text: str) -> str:
    """``text`` with every non-ASCII character replaced by ``?``, one for one (offsets survive).

    Tokenising is ASCII on purpose: ``str.translate`` has a fast path only for ASCII strings
    (100x faster on a response holding a single ``°``), and the reward reads English clinical
    text. Non-ASCII characters become word breaks, identically in the case and the response.

    Example:
        >>> ascii_fold("38.5°C, Barré")
        '38.5?C, Barr?'
    """
    return text.encode("ascii", "replace").decode("ascii")


def words_of(text: str) -> list[str]:
    """Lower-cased ASCII words of ``text``: punctuation and non-ASCII characters split words.

    Example:
        >>> words_of("Non-caseating granulomas; BHL at 38°C, doesn't fit.")
        ['non', 'caseating', 'granulomas', 'bhl', 'at', '38', 'c', 'doesnt', 'fit']
    """
    return ascii_fold(text.lower()).translate(WORD_BREAKS).split()


def stem(word: str) -> str:
    """A crude, deterministic stem: one inflection suffix and a final ``e`` off, then six letters.

    Example:
        >>> [stem(w) for w in ("coughing", "coughs", "wheeze", "wheezes", "elevated", "lymphadenopathy")]
        ['cough', 'cough', 'wheez', 'wheez', 'elevat', 'lympha']
    """
    if len(word) > 5:
        if word.endswith("ing"):
            word = word[:-3]
        elif word.endswith(("ed", "es")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word[:6]


_STEM_CACHE: dict[str, str] = {}
_STEM_CACHE_LIMIT = 200_000


def stems_of(words) -> set[str]:
    """Content stems (:func:`stem`) of the non-stop words of 3+ characters in ``words``.

    Example:
        >>> sorted(stems_of(["the", "coughing", "cough", "of", "lymphadenopathy", "3"]))
        ['cough', 'lympha']
    """
    unique = set(words)
    cache = _STEM_CACHE
    try:
        stems = set(map(cache.__getitem__, unique))
    except KeyError:
        # A memo, not state: the stem of a word never changes; bounded so garbage cannot grow it.
        if len(cache) > _STEM_CACHE_LIMIT:
            cache.clear()
        for w in unique:
            if w not in cache:
                cache[w] = "" if len(w) < 3 or w in STOP_WORDS or w[0].isdigit() else stem(w)
        stems = {cache[w] for w in unique}
    stems.discard("")
    return stems


def stem_of(word: str) -> str:
    """The content stem of one word, as :func:`stems_of` gives it, or ``""`` for a stop word, a number or a short word.

    Example:
        >>> stem_of("coughing"), stem_of("the"), stem_of("38")
        ('cough', '', '')
    """
    found = _STEM_CACHE.get(word)
    if found is None:
        if len(_STEM_CACHE) > _STEM_CACHE_LIMIT:
            _STEM_CACHE.clear()
        found = _STEM_CACHE[word] = "" if len(word) < 3 or word in STOP_WORDS or word[0].isdigit() else stem(word)
    return found


def normalize_number(token: str) -> str:
    """Canonical form of a number token: thousands commas dropped, trailing decimal zeros removed.

    Example:
        >>> normalize_number("18,000"), normalize_number("38.50"), normalize_number("7.0")
        ('18000', '38.5', '7')
    """
    token = token.replace(",", "")
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token or "0"


def numbers_in(text: str) -> list[str]:
    """All number tokens in ``text``, canonicalised with :func:`normalize_number`.

    Example:
        >>> numbers_in("BP 150/95 mm Hg, WBC 18,000/mm3, T 38.0 C")
        ['150', '95', '18000', '38']
    """
    return [normalize_number(m) for m in _NUMBER.findall(text)]
