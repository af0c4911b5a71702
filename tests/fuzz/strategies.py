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

# -- the shapes of issue #13 item 9: absurd numbers, over-long ids, names and paths ------------
_NUMBERS = st.one_of(
    st.integers(1, 5000).map(lambda n: "9" * n),  # past int64, past a float, past int()'s limit
    st.builds(lambda a, e: f"{a}e{e}", st.integers(1, 99), st.integers(0, 5000)),
    st.integers(0, 400).map(lambda n: "1" + "0" * n),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),  # "-0.5", "Infinity", "NaN"
    st.integers(-(2**80), 2**80).map(str),
)
_SIGNS = st.sampled_from(["", "", "-", "\u2212", "minus ", "+"])
_UNITS = st.sampled_from(
    ["", "TB", " PB", "GB", "KiB", " bytes", " files", " million", " years", " days", " hours"]
)
absurd_value = st.builds(lambda s, n, u: s + n + u, _SIGNS, _NUMBERS, _UNITS)
_VALUE_PREFIXES = (
    "",
    "request quota ",
    "request quota size=",
    "request walltime ",
    "actually make it ",
    "edit REQ-1 size=",
    "search requests size>",
    "request stats for ",
    "size: ",
)
absurd_values = st.builds(lambda p, v: p + v, st.sampled_from(_VALUE_PREFIXES), absurd_value)
_ID_PREFIXES = (
    "status of REQ-",
    "history REQ-",
    "comment REQ-",
    "approve REQ-",
    "edit REQ-",
    "delete REQ-",
    "assign REQ-",
    "REQ-",
    "#",
)
long_ids = st.builds(
    lambda p, n, t: p + "9" * n + t,
    st.sampled_from(_ID_PREFIXES),
    st.integers(10, 5000),
    st.sampled_from(["", " hello", " size=2TB", " to me", " page 2"]),
)
_NAME_PREFIXES = (
    "",
    "assign REQ-1 to ",
    "assign REQ-1 to @",
    "grant ",
    "request quota for @",
    "store my ",
    "replace my ",
    "help ",
    "request ",
    "edit REQ-1 ",
    "frobnicate",
    "search requests ",
    "search requests type:",
    "search requests requester:",
    "request quota path=/project/",
    "comment REQ-1 ",
    "approve REQ-1 ",
    "history REQ-1 page ",
)
long_names = st.builds(
    lambda p, c, n, t: p + c * n + t,
    st.sampled_from(_NAME_PREFIXES),
    st.sampled_from(["a", "Z", "_", "é", "9", "/a", "ab-", "😀", "x "]),
    st.integers(60, 12_000),
    st.sampled_from(["", " token", " staff", "=4", " REQ-1", "?"]),
)
bounds_text = st.one_of(absurd_values, long_ids, long_names)
