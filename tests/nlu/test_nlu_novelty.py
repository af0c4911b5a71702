"""Unknown-word features: which words count as known, leave-one-out in training, persistence,
and their effect on look-alike messages made of words the bot has never seen."""

from __future__ import annotations

from nlu.embedded import EmbeddedParser
from nlu.gazetteer import Gazetteer
from nlu.novelty import UNK, KnownWords, bucket, novelty_words
from nlu.tokens import tokenize


def _known() -> KnownWords:
    return KnownWords(
        [
            ["how", "many", "requests", "are", "open"],
            ["drain", "c0"],
            ["help", "me"],
            ["how", "many", "vms"],
        ]
    )


def test_unseen_words_are_counted_and_bucketed() -> None:
    known = _known()
    assert known.features(["how", "many", "requests", "are", "open"]) == ["unk:none"]
    feats = known.features(["how", "many", "stars", "are", "in", "galaxy"])
    assert feats.count(UNK) == 3  # stars, in, galaxy
    assert feats[-1] == "unk:mid"
    assert known.features(["pasta", "recipes"]) == [UNK, UNK, "unk:high"]


def test_one_typo_away_from_a_known_word_is_known() -> None:
    known = _known()
    # one letter added, deleted, changed; two letters swapped
    for typo in ("helpp", "reqests", "requfsts", "reqeusts", "drian"):
        assert UNK not in known.features([typo]), typo
    assert UNK in known.features(["helppp"])  # two edits
    assert UNK in known.features(["mee"])  # short words are not matched fuzzily


def test_leave_one_out_does_not_let_an_example_know_itself() -> None:
    known = _known()
    # "vms" is used by one example only: from that example's own point of view it is unknown
    assert known.features(["how", "many", "vms"], leave_out=["how", "many", "vms"]).count(UNK) == 1
    # "many" is used by two examples: still known
    assert UNK not in known.features(["many"], leave_out=["how", "many", "vms"])
    # a typo of a word only the example itself uses is unknown too
    assert UNK in known.features(["vmss"], leave_out=["how", "many", "vms"])


def test_lookup_words_are_always_known() -> None:
    gazetteer = Gazetteer.from_data({"software": ["gromacs"], "cue_greeting": ["salut"]}, {}, {})
    tokens = tokenize("salut install gromacs")
    words = novelty_words(tokens, gazetteer.tag(tokens))
    assert words == ["", "install", ""]
    assert KnownWords([["install"]]).features(words) == ["unk:none"]


def test_round_trip_keeps_the_vocabulary() -> None:
    known = _known()
    again = KnownWords.from_json(known.to_json())
    for words in (["how", "many", "stars"], ["helpp"], ["drain", "c0"], ["pizza"]):
        assert again.features(words) == known.features(words)


def test_buckets() -> None:
    assert bucket(0, 0) == "unk:none"
    assert bucket(1, 4) == "unk:low"
    assert bucket(1, 2) == "unk:mid"
    assert bucket(3, 3) == "unk:high"


def test_look_alikes_of_unknown_topics_fall_back(parser: EmbeddedParser) -> None:
    """Messages shaped like in-scope questions but about things the bot has never heard of."""
    for text in (
        "how many moons does jupiter have",
        "approve my sabbatical",
        "extend my magazine subscription by a year",
        "drain the noodles",
    ):
        assert parser.parse_sync(text).intent.name == "nlu_fallback", text
    for text in (
        "how many quota requests did we get in june",
        "approve REQ-4411",
        "extend vm-9 by a year",
        "drain c[001-002]",
    ):
        assert parser.parse_sync(text).intent.name != "nlu_fallback", text
