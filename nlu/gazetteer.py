"""Phrase lookup (software names, providers, cluster types, …) that feeds the tagger's features.

Built from the ``lookup`` tables of the training data; a synonym variant whose canonical value is in
a table joins that table, so "gmx" is known as software once "gmx" → "gromacs" is a synonym.
The ``regex`` blocks of the training data mark single tokens that match them entirely (as Rasa's
RegexFeaturizer does): a feature, not a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nlu.tokens import Token, tokenize

MAX_PHRASE = 5


class Gazetteer:
    """Longest-match phrase tagger over lower-case tokens (BIO tags with the table name)."""

    def __init__(
        self,
        tables: Mapping[str, Iterable[str]],
        regexes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.regex_source = {name: list(pats) for name, pats in (regexes or {}).items()}
        self.regexes = [
            (name, re.compile(pattern, re.IGNORECASE))
            for name, patterns in sorted(self.regex_source.items())
            for pattern in patterns
        ]
        self.phrases: dict[tuple[str, ...], str] = {}
        for name in sorted(tables):
            for phrase in tables[name]:
                key = tuple(t.text.lower() for t in tokenize(phrase))
                if key and len(key) <= MAX_PHRASE:
                    self.phrases.setdefault(key, name)
        self.first_words = {key[0] for key in self.phrases}

    @classmethod
    def from_data(
        cls,
        lookups: Mapping[str, list[str]],
        synonyms: Mapping[str, str],
        regexes: Mapping[str, list[str]] | None = None,
    ) -> Gazetteer:
        tables = {name: set(values) for name, values in lookups.items()}
        lowered = {name: {v.lower() for v in values} for name, values in tables.items()}
        for variant, canonical in synonyms.items():
            for name, values in lowered.items():
                if canonical.lower() in values:
                    tables[name].add(variant)
        return cls(tables, regexes)

    def to_json(self) -> dict[str, Any]:
        return {
            "phrases": [[name, *key] for key, name in self.phrases.items()],
            "regexes": self.regex_source,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Gazetteer:
        gaz = cls({}, raw.get("regexes") or {})
        gaz.phrases = {tuple(item[1:]): item[0] for item in raw["phrases"]}
        gaz.first_words = {key[0] for key in gaz.phrases}
        return gaz

    def tag(self, tokens: Sequence[Token]) -> list[str]:
        """``B-<table>``/``I-<table>`` for tokens inside a known phrase, ``B-re:<name>`` for a
        token matching a regex, ``-`` elsewhere."""
        lows = [t.text.lower() for t in tokens]
        tags = ["-"] * len(tokens)
        i = 0
        while i < len(lows):
            if lows[i] in self.first_words:
                for size in range(min(MAX_PHRASE, len(lows) - i), 0, -1):
                    name = self.phrases.get(tuple(lows[i : i + size]))
                    if name is not None:
                        tags[i] = "B-" + name
                        for j in range(i + 1, i + size):
                            tags[j] = "I-" + name
                        i += size
                        break
                else:
                    i += 1
            else:
                i += 1
        if self.regexes:
            for k, tok in enumerate(tokens):
                if tags[k] == "-":
                    for name, pattern in self.regexes:
                        if pattern.fullmatch(tok.text):
                            tags[k] = "B-re:" + name
                            break
        return tags
