"""No decision is read from a question, a hedge, a "don't", an undo or a history question.

"should I approve REQ-10?", "let me think about REQ-4", "don't approve REQ-12 yet", "undo the
approval of REQ-4" and "history of REQ-11" are full of decision words, and a bag of n-grams weighs
"approve" more than the one word that turns it around. So after classification a rule has the
last word when the winner is ``approve_request`` or ``deny_request``:

- a question ("was REQ-7 rejected", "can I approve REQ-4?", "is it ok to deny #71?") or a phrase
  of the ``cue_undo`` or ``cue_history`` table (``config/nlu/lookups/cues.yml``) makes it
  ``check_status``: the bot shows the request with its history;
- a ``cue_hedge`` or ``cue_dont_decide`` phrase makes it ``nlu_fallback``: nothing happens.

A polite request ("can you approve REQ-4?", "could you deny #9 please") is not a question here.
No approve or deny example of the training or test data is a question by this rule. The bot's
own guard (``bot/confirm.py``) still restates every decision the model infers; this one keeps the
parse itself honest for every consumer (the Rasa-style JSON, the evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence

from nlu.result import FALLBACK
from nlu.tokens import Token

DECISIONS = frozenset({"approve_request", "deny_request"})
STATUS = "check_status"
_TO_STATUS = frozenset({"B-cue_undo", "B-cue_history"})
_TO_NOTHING = frozenset({"B-cue_hedge", "B-cue_dont_decide"})
_QUESTION_WORDS = frozenset(
    {"was", "were", "did", "does", "do", "has", "have", "had", "is", "are", "am", "should"}
    | {"shall", "who", "who's", "whom", "whose", "when", "why", "what", "what's", "which", "how"}
    | {"may"}
)
_ASKING_ME = frozenset({("can", "i"), ("could", "i"), ("can", "we"), ("could", "we")})
_POLITE = frozenset({"can", "could", "would", "will", "please", "pls", "plz", "kindly"})


def is_question(tokens: Sequence[Token]) -> bool:
    """Asked, not requested: a question word first, "can I …", or a final "?" after anything
    but a polite request ("could you approve REQ-4?")."""
    words = [t.text.lower() for t in tokens[:2]]
    if not words:
        return False
    if words[0] in _QUESTION_WORDS or tuple(words) in _ASKING_ME:
        return True
    return tokens[-1].text == "?" and words[0] not in _POLITE


def guarded(intent: str, tokens: Sequence[Token], gazetteer_tags: Sequence[str]) -> str:
    """The intent to report for a message the classifier read as ``intent``."""
    if intent not in DECISIONS:
        return intent
    tags = set(gazetteer_tags)
    if tags & _TO_STATUS or is_question(tokens):
        return STATUS
    if tags & _TO_NOTHING:
        return FALLBACK
    return intent
