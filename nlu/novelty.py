"""Words the in-scope training data has never seen, as intent features.

A bag-of-n-grams model gives a word it has never seen no weight at all, so "how many stars are in
the galaxy" reads as "how many ... are in the ..." — a statistics question. Whether a message is
made of words the bot knows is itself the strongest sign of being out of scope, so each unknown
word adds a ``w:<unk>`` feature and the share of unknown words adds a ``unk:<bucket>`` feature.

"Known" means: used by some in-scope training example, or one typo away from such a word
("helpp", "hellooo" → known; one insertion, deletion, substitution or transposition, for words of
four letters or more), or covered by a lookup table (software names, greeting and metrics cue
words). During training, a word counts as known only if *another* in-scope example uses it
(leave-one-out), so the classifier learns from training data what a message with new words looks
like — exactly the situation of every real message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from nlu.features import intent_words
from nlu.tokens import Token

UNK = "w:<unk>"
MIN_FUZZY = 4  # shorter words have too many one-edit neighbours ("tks" ~ "ts", "its", "ask")


def novelty_words(tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None) -> list[str]:
    """The message's words as the classifier sees them, with words covered by a lookup table
    replaced by ``""`` (always known)."""
    return intent_words(tokens, gazetteer_tags, tagged_as="")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def bucket(unknown: int, total: int) -> str:
    share = unknown / total if total else 0.0
    if share == 0.0:
        return "unk:none"
    return "unk:low" if share < 0.34 else "unk:mid" if share < 0.67 else "unk:high"


class KnownWords:
    """Document frequencies of in-scope words and of their one-letter deletions (the SymSpell
    trick: two words are one edit apart when one's deletion set meets the other or its set)."""

    def __init__(self, docs: Iterable[Sequence[str]] = ()) -> None:
        self.df: Counter[str] = Counter()
        self.deletes_df: Counter[str] = Counter()
        self.longest = 0  # no word longer by two or more is one edit from a known word
        for words in docs:
            self.add(words)

    def add(self, words: Sequence[str]) -> None:
        own, own_deletes = self._sets(words)
        self.longest = max([self.longest, *map(len, own)])
        self.df.update(own)
        self.deletes_df.update(own_deletes)

    @staticmethod
    def _sets(words: Sequence[str]) -> tuple[set[str], set[str]]:
        own = {w for w in words if w}
        own_deletes: set[str] = set()
        for w in own:
            if len(w) >= MIN_FUZZY:
                own_deletes |= _deletes(w)
        return own, own_deletes

    def features(self, words: Sequence[str], leave_out: Sequence[str] | None = None) -> list[str]:
        """``w:<unk>`` per unknown word plus the share bucket; ``leave_out`` is the example's
        own words during training (they do not make themselves known)."""
        own, own_deletes = self._sets(leave_out) if leave_out is not None else (set(), set())
        df, ddf = self.df, self.deletes_df

        def seen(w: str) -> bool:
            return df[w] - (w in own) > 0

        def near(w: str) -> bool:
            if len(w) < MIN_FUZZY or len(w) > self.longest + 1:
                return False  # the second test keeps a 40,000-letter word from costing n²
            if ddf[w] - (w in own_deletes) > 0:  # w is a known word minus one letter
                return True
            return any(
                seen(d) or ddf[d] - (d in own_deletes) > 0  # plus one letter / one changed
                for d in _deletes(w)
            )

        present = [w for w in words if w]
        unknown = sum(1 for w in present if not seen(w) and not near(w))
        return [UNK] * unknown + [bucket(unknown, len(words))]

    # ----------------------------------------------------------------- persistence
    def to_json(self) -> list[str]:
        """Only the words: frequencies of 1 are enough at inference (no leave-one-out)."""
        return sorted(self.df)

    @classmethod
    def from_json(cls, words: Sequence[str]) -> KnownWords:
        known = cls()
        known.df.update(words)
        known.longest = max(map(len, words), default=0)
        for w in words:
            if len(w) >= MIN_FUZZY:
                known.deletes_df.update(_deletes(w))
        return known
