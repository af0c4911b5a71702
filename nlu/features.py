"""Features for the intent classifier and the entity tagger.

Tokens that carry values rather than meaning (host names, numbers, sizes, ids, paths) are replaced
by their *shape* before n-grams are taken, so the classifier learns "drain <host>" rather than
"drain c042", and new host names or request numbers do not look like unknown words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from nlu.normalise.counts import TENS
from nlu.normalise.counts import UNITS as COUNT_UNITS
from nlu.normalise.dates import MONTHS, WEEKDAYS
from nlu.normalise.durations import UNIT_ALIASES as DURATION_UNITS
from nlu.normalise.sizes import SIZE_RE
from nlu.normalise.sizes import WORDS as SIZE_WORDS
from nlu.tokens import Token

_REQ = re.compile(r"^req[-_#]?\d+$", re.IGNORECASE)
_PATH = re.compile(r"^(?:~?/[\w.\-/~$]*|\$[A-Za-z_]\w*(?:/[\w.\-/]*)?|~)$")
_SIZE_TOKEN = re.compile(r"^\d+(?:[.,]\d+)?(?:[kmgtp]i?b|[gtp]i?|b)$", re.IGNORECASE)
_SCALED = re.compile(r"^\d+(?:\.\d+)?(?:k|m|mil|mio)$", re.IGNORECASE)
_SHAPE_SUB = (
    (re.compile(r"[A-Za-z]+"), "a"),
    (re.compile(r"\d+"), "0"),
)
_HAS_DIGIT = re.compile(r"\d")
_ISO_DUR = re.compile(r"^p(?:\d+[ymwd])+(?:t(?:\d+[hms])+)?$|^pt(?:\d+[hms])+$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d+$")
_DECIMAL = re.compile(r"^\d+\.\d+$")
_DATE_NUM = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}/\d{1,2}(?:/\d{2,4})?$")
_BRACKETS = re.compile(r"\[[\d,\-\s]+\]")
_DUR_UNITS = frozenset(DURATION_UNITS)
_COUNT_WORDS = frozenset(COUNT_UNITS) | frozenset(TENS)
_SCALE_WORDS = frozenset({"k", "thousand", "million", "millions", "mil", "mln", "billion"})
_SIZE_UNITS = frozenset(SIZE_WORDS) | frozenset({"b", "kb", "mb", "gb", "tb", "pb", "t", "g"})
_SIZE_UNITS |= frozenset({"kib", "mib", "gib", "tib", "pib"})
_MONTHS = frozenset(MONTHS)
CUE_PREFIX = "cue_"  # lookup tables named cue_* are intent cues (greeting words, off-topic nouns)
PLACEHOLDER_TABLES = frozenset({"software", "image", "provider", "cluster_type"})
_DAYS = frozenset(WEEKDAYS) | frozenset({"today", "tomorrow", "tonight", "eod", "tmrw"})


@lru_cache(maxsize=8192)
def shape(word: str) -> str:
    """Collapsed character-class shape: "c001" → "a0", "vm-12" → "a-0", "m1.large" → "a0.a"."""
    out = word
    for pattern, repl in _SHAPE_SUB:
        out = pattern.sub(repl, out)
    return out


@lru_cache(maxsize=8192)
def token_class(word: str) -> str | None:
    """A coarse class for value-carrying tokens; None for ordinary words."""
    low = word.lower()
    if _REQ.match(low):
        return "REQ"
    if _ISO_DUR.match(low):
        return "ISODUR"
    if _SIZE_TOKEN.match(low):
        return "SIZE"
    if _SCALED.match(low):
        return "SCALED"
    if _DATE_NUM.match(low):
        return "DATE"
    if low.startswith(("/", "$", "~")) and _PATH.match(word):
        return "PATH"
    if low.startswith("#") and low[1:].isdigit():
        return "HASHNUM"
    if _NUMBER.match(low):
        digits = len(low.replace(",", ""))
        return "NUM" + ("1" if digits <= 2 else "3" if digits <= 4 else "L")
    if _DECIMAL.match(low):
        return "DEC"
    if _BRACKETS.search(low):
        return "HOSTLIST"
    if _HAS_DIGIT.search(low):
        return "SHAPE_" + shape(low)
    return None


def intent_words(
    tokens: Sequence[Token],
    gazetteer_tags: Sequence[str] | None = None,
    *,
    tagged_as: str | None = None,
) -> list[str]:
    """Lower-case words; value-carrying tokens become their class and known phrases (software
    names, images, providers) become one ``<table>`` placeholder, so "install paraview" and
    "install gromacs" share the bigram "install <software>". With ``tagged_as``, every word of
    any lookup-table phrase becomes that marker instead (one per placeholder phrase)."""
    out = []
    for i, tok in enumerate(tokens):
        tag = gazetteer_tags[i] if gazetteer_tags is not None else "-"
        if tag != "-":
            placeholder = tag[2:] in PLACEHOLDER_TABLES
            if placeholder and tag.startswith("I-"):
                continue
            if tagged_as is not None:
                out.append(tagged_as)
                continue
            if placeholder and tag.startswith("B-"):
                out.append("<" + tag[2:] + ">")
                continue
        cls = token_class(tok.text)
        out.append(cls.lower() if cls else tok.text.lower())
    return out


_NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "nope",
        "cannot",
        "can't",
        "cant",
        "don't",
        "dont",
        "won't",
        "wont",
        "isn't",
        "shouldn't",
        "doesn't",
        "didn't",
        "without",
        "nor",
    }
)
NEGATION_SCOPE = 3


def negated(words: Sequence[str]) -> list[str]:
    """``n:<word>`` for the words just after a negation ("do not approve" → ``n:approve``), so
    "approve REQ-1" and "won't approve REQ-1" differ by more than one common word."""
    out: list[str] = []
    left = 0
    for w in words:
        if w in _NEGATIONS or w.endswith("n't"):
            left = NEGATION_SCOPE
            continue
        if left:
            out.append("n:" + w)
            left -= 1
    return out


def values_only(tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None) -> bool:
    """A message made only of values ("c[001-004]", "5TB", "ubuntu 22.04", "REQ-44?") names no
    action: outside a dialogue that asked for the value it is not a request. Their shapes alone
    would vote for whichever intent uses such values most."""
    seen = False
    for i, tok in enumerate(tokens):
        tag = gazetteer_tags[i] if gazetteer_tags is not None else "-"
        if token_class(tok.text) is not None or tag[2:] in PLACEHOLDER_TABLES:
            seen = True
        elif not all(ch.isascii() and not ch.isalnum() for ch in tok.text):
            return False
    return seen


def intent_features(
    tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None = None
) -> list[str]:
    """Word uni/bi-grams over placeholder-substituted words, the original words too, and char
    2-4-grams within original words (``char_wb`` style; 5-grams fitted one-off wordings and did
    worse in cross-validation and on the independent file); each prefixed by its kind. Words after a
    negation add ``n:`` features, and phrases of a ``cue_*`` lookup table add ``g:cue_*``: a
    word list (greetings in several languages, documentation words, metrics words, other IT
    systems) teaches the classifier a whole family from a few examples. A message of values
    alone adds ``v:only``."""
    plain = intent_words(tokens)
    words = intent_words(tokens, gazetteer_tags) if gazetteer_tags is not None else plain
    feats = ["w:" + w for w in words]
    if words is not plain:
        feats.extend("w:" + w for w in plain if "w:" + w not in feats)
    padded = ["<s>", *words, "</s>"]
    feats.extend("b:" + padded[i] + " " + padded[i + 1] for i in range(len(padded) - 1))
    feats.extend(negated(words))
    if values_only(tokens, gazetteer_tags):
        feats.append("v:only")
    if gazetteer_tags is not None:
        feats.extend("g:" + tag[2:] for tag in gazetteer_tags if tag.startswith("B-" + CUE_PREFIX))
    for w in plain:
        if len(w) > 24:
            w = w[:24]
        s = " " + w + " "
        n_max = min(4, len(s))
        for n in range(2, n_max + 1):
            feats.extend("c:" + s[i : i + n] for i in range(len(s) - n + 1))
    return feats


@lru_cache(maxsize=8192)
def _word_info(word: str) -> dict[str, str]:
    low = word.lower()
    cls = token_class(word)
    info = {"cls": cls or "W"}
    if low in _DUR_UNITS:
        info["lex"] = "DURUNIT"
    elif low in _COUNT_WORDS:
        info["lex"] = "COUNTWORD"
    elif low in _SCALE_WORDS:
        info["lex"] = "SCALE"
    elif low in _SIZE_UNITS:
        info["lex"] = "SIZEUNIT"
    elif low in _MONTHS:
        info["lex"] = "MONTH"
    elif low in _DAYS:
        info["lex"] = "DAY"
    return info


def token_features(
    tokens: Sequence[Token], gazetteer_tags: Sequence[str], intent: str
) -> list[dict[str, str | float]]:
    """CRF features for each token: the word, its shape and class, lexicons, gazetteer hits,
    a two-token window, and the message's intent (so "1234" after "job" in a walltime request
    and "1234" in a status question can get different labels)."""
    infos = [_word_info(t.text) for t in tokens]
    lows = [t.text.lower() for t in tokens]
    feats: list[dict[str, str | float]] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        word = tok.text
        low = lows[i]
        f: dict[str, str | float] = {
            "bias": 1.0,
            "w": low,
            "suf3": low[-3:],
            "pre3": low[:3],
            "shape": shape(word)[:8],
            "cls": infos[i]["cls"],
            "lex": infos[i].get("lex", "-"),
            "gaz": gazetteer_tags[i],
            "intent": intent,
            "intent_cls": intent + "|" + infos[i]["cls"],
            "title": float(word[:1].isupper()),
            "upper": float(word.isupper()),
            "len": min(len(word), 12) / 12.0,
        }
        for off in (-2, -1, 1, 2):
            j = i + off
            if 0 <= j < n:
                f[f"w{off:+d}"] = lows[j]
                f[f"cls{off:+d}"] = infos[j]["cls"]
                f[f"lex{off:+d}"] = infos[j].get("lex", "-")
                f[f"gaz{off:+d}"] = gazetteer_tags[j]
            else:
                f[f"w{off:+d}"] = "<edge>"
        if i == 0:
            f["first"] = 1.0
        if i == n - 1:
            f["last"] = 1.0
        feats.append(f)
    return feats


__all__ = ["SIZE_RE", "intent_features", "shape", "token_class", "token_features"]
