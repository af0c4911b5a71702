"""Phrase lookup (software names, providers, cluster types, …) that feeds the tagger's features.

Built from the ``lookup`` tables of the training data; a synonym variant whose canonical value is in
a table joins that table, so "gmx" is known as software once "gmx" → "gromacs" is a synonym.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from nlu.tokens import Token, tokenize

MAX_PHRASE = 5


class Gazetteer:
    """Longest-match phrase tagger over lower-case tokens (BIO tags with the table name)."""

    def __init__(self, tables: Mapping[str, Iterable[str]]) -> None:
        self.phrases: dict[tuple[str, ...], str] = {}
        for name in sorted(tables):
            for phrase in tables[name]:
                key = tuple(t.text.lower() for t in tokenize(phrase))
                if key and len(key) <= MAX_PHRASE:
                    self.phrases.setdefault(key, name)
        self.first_words = {key[0] for key in self.phrases}

    @classmethod
    def from_data(cls, lookups: Mapping[str, list[str]], synonyms: Mapping[str, str]) -> Gazetteer:
        tables = {name: set(values) for name, values in lookups.items()}
        lowered = {name: {v.lower() for v in values} for name, values in tables.items()}
        for variant, canonical in synonyms.items():
            for name, values in lowered.items():
                if canonical.lower() in values:
                    tables[name].add(variant)
        return cls(tables)

    def to_json(self) -> list[list[str]]:
        return [[name, *key] for key, name in self.phrases.items()]

    @classmethod
    def from_json(cls, raw: list[list[str]]) -> Gazetteer:
        gaz = cls({})
        gaz.phrases = {tuple(item[1:]): item[0] for item in raw}
        gaz.first_words = {key[0] for key in gaz.phrases}
        return gaz

    def tag(self, tokens: Sequence[Token]) -> list[str]:
        """``B-<table>``/``I-<table>`` for tokens inside a known phrase, ``-`` elsewhere."""
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
        return tags
