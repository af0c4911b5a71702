"""Inputs users can type: any text a platform delivers (no NUL, no lone surrogates), command
words in front of it, and long repetitions of the units that make patterns backtrack."""

from __future__ import annotations

from hypothesis import strategies as st

CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PREFIXES = (
    "",
    "request ",
    "request quota ",
    "edit REQ-1 ",
    "edit REQ-1 set ",
    "comment REQ-1 ",
    "approve REQ-1 ",
    "delete REQ-1 ",
    "assign REQ-1 to ",
    "search requests ",
    "request stats for ",
    "status of ",
    "help ",
    "store my ",
    "grant ",
    "actually make it ",
    "size: ",
    "drain c[",
)
UNITS = (" ", "a ", "x=", "[", "c[", "1-", "1,", "\t", "a:", '"', "the last ", "1 day and ", "😀")

free_text = st.text(CHARS, max_size=200)
repeated = st.builds(
    lambda prefix, unit, n, tail: prefix + unit * n + tail,
    st.sampled_from(PREFIXES),
    st.sampled_from(UNITS),
    st.integers(0, 3000),
    st.text(CHARS, max_size=5),
)
commandish = st.builds(lambda p, t: p + t, st.sampled_from(PREFIXES), free_text)
user_text = st.one_of(free_text, commandish, repeated)
