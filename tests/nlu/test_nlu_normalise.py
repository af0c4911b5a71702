"""The deterministic normalisers: many wordings, edge cases, and refusals."""

from __future__ import annotations

from datetime import datetime

import pytest

from nlu.normalise import (
    expand_hostlist,
    parse_count,
    parse_date,
    parse_duration,
    parse_job_id,
    parse_large_number,
    parse_request_id,
    parse_size,
)

TB, GB, TIB = 10**12, 10**9, 2**40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5TB", 5 * TB),
        ("750 GB", 750 * GB),
        ("1.5 TiB", int(1.5 * TIB)),
        ("5 terabytes", 5 * TB),
        ("2 gigs", 2 * GB),
        ("10T", 10 * TB),
        ("100GiB", 100 * 2**30),
        ("1,5TB", int(1.5 * TB)),
        ("1,500GB", 1500 * GB),
        ("half a TB", TB // 2),
        ("3 KB", 3000),
        ("1 PB", 10**15),
        ("500 gb", 500 * GB),
        ("5", None),
        ("750k", None),
        ("lots", None),
        ("", None),
    ],
)
def test_parse_size(text: str, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("two", 2),
        ("one", 1),
        ("a couple", 2),
        ("a pair", 2),
        ("twenty five", 25),
        ("twenty-five", 25),
        ("a dozen", 12),
        ("one hundred", 100),
        ("2 more", 2),
        ("several", None),
        ("1.5", None),
        ("", None),
    ],
)
def test_parse_count(text: str, expected: int | None) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 million", 2_000_000),
        ("500k", 500_000),
        ("500K", 500_000),
        ("1,000,000", 1_000_000),
        ("1.5M", 1_500_000),
        ("two million", 2_000_000),
        ("10 thousand", 10_000),
        ("half a million", 500_000),
        ("1e6", 1_000_000),
        ("two hundred thousand", 200_000),
        ("many", None),
    ],
)
def test_parse_large_number(text: str, expected: int | None) -> None:
    assert parse_large_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 weeks", "P14D"),
        ("36 hours", "PT36H"),
        ("another month", "P1M"),
        ("36h", "PT36H"),
        ("48hrs", "PT48H"),
        ("1d12h", "P1DT12H"),
        ("1.5 days", "P1DT12H"),
        ("P14D", "P14D"),
        ("P2W", "P14D"),
        ("pt36h", "PT36H"),
        ("a fortnight", "P14D"),
        ("half a day", "PT12H"),
        ("2 weeks and 3 days", "P17D"),
        ("90 minutes", "PT1H30M"),
        ("1 year", "P1Y"),
        ("half a year", "P6M"),
        ("a couple of days", "P2D"),
        ("two more weeks", "P14D"),
        ("3 more days", "P3D"),
        ("+36h", "PT36H"),
        ("6mo", "P6M"),
        ("2wks", "P14D"),
        ("friday", None),
        ("2", None),
        ("", None),
    ],
)
def test_parse_duration(text: str, expected: str | None) -> None:
    assert parse_duration(text) == expected


NOW = datetime(2026, 11, 18, 10, 0)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-15", "2027-01-15"),
        ("next friday", "2026-11-20"),
        ("friday", "2026-11-20"),
        ("wednesday", "2026-11-18"),
        ("next wednesday", "2026-11-25"),
        ("end of march", "2027-03-31"),
        ("end of the month", "2026-11-30"),
        ("end of next month", "2026-12-31"),
        ("end of the year", "2026-12-31"),
        ("mid march", "2027-03-15"),
        ("tomorrow", "2026-11-19"),
        ("today", "2026-11-18"),
        ("next week", "2026-11-23"),
        ("in 3 days", "2026-11-21"),
        ("in two weeks", "2026-12-02"),
        ("jan 15", "2027-01-15"),
        ("15th of january", "2027-01-15"),
        ("Jan 5, 2027", "2027-01-05"),
        ("march 3rd 2027", "2027-03-03"),
        ("december 1", "2026-12-01"),
        ("12/01", "2026-12-01"),
        ("25/12/2026", "2026-12-25"),
        ("until dec 1st", "2026-12-01"),
        ("2027-02-30", None),
        ("banana", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text, NOW) == expected


def test_parse_date_falls_back_to_dateparser_for_rarer_forms() -> None:
    assert parse_date("the 3rd of february 2027", NOW) == "2027-02-03"
    assert parse_date("January 15th, 2027 at noon", NOW) == "2027-01-15"


def test_parse_date_accepts_timezone_aware_now() -> None:
    from datetime import UTC

    assert parse_date("tomorrow", NOW.replace(tzinfo=UTC)) == "2026-11-19"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wn0189", ["wn0189"]),
        ("c[001-003]", ["c001", "c002", "c003"]),
        ("gpu[05-06],wn0189", ["gpu05", "gpu06", "wn0189"]),
        ("c001-c003", ["c001", "c002", "c003"]),
        ("c001-003", ["c001", "c002", "c003"]),
        ("c001,c002", ["c001", "c002"]),
        ("c001, c002 and c003", ["c001", "c002", "c003"]),
        ("c[1-3]", ["c1", "c2", "c3"]),
        ("rack3-[01-02]", ["rack3-01", "rack3-02"]),
        ("c[001-002,005]", ["c001", "c002", "c005"]),
        ("c[001-999999]", None),
        ("c[001-", None),
        ("/scratch/x", None),
        ("", None),
    ],
)
def test_expand_hostlist(text: str, expected: list[str] | None) -> None:
    assert expand_hostlist(text) == expected


def test_expand_hostlist_refuses_huge_ranges_before_expanding() -> None:
    """Expanding these would take minutes and gigabytes (the test's timeout would catch it)."""
    assert expand_hostlist("c[1-999999999]") is None
    assert expand_hostlist("c[1-1000]x[1-1000]") is None
    assert expand_hostlist("c[1-100]x[1-100]") is not None


def test_expand_hostlist_keeps_written_order_and_drops_duplicates() -> None:
    assert expand_hostlist("c003,c001,c003") == ["c003", "c001"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("REQ-1042", "REQ-1042"),
        ("req-7", "REQ-7"),
        ("#88", "REQ-88"),
        ("1234", "REQ-1234"),
        ("request 55", "REQ-55"),
        ("req #0012", "REQ-12"),
        ("REQ 7", "REQ-7"),
        ("none", None),
    ],
)
def test_parse_request_id(text: str, expected: str | None) -> None:
    assert parse_request_id(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4412345", "4412345"),
        ("123_4", "123_4"),
        ("4412345.batch", "4412345.batch"),
        ("job 99", "99"),
        ("x", None),
    ],
)
def test_parse_job_id(text: str, expected: str | None) -> None:
    assert parse_job_id(text) == expected
