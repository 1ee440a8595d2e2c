"""The shared validators: every mistake a user types gets one line naming the value and what is allowed."""

from __future__ import annotations

from datetime import date

import pytest

from pisteur import validate
from pisteur.types import KINDS

TODAY = date(2026, 11, 30)


def test_empty_and_blank_queries_are_refused() -> None:
    for q in ("", "   ", "\n\t", None):
        with pytest.raises(ValueError, match="empty query"):
            validate.query(q)
    assert validate.query("  bug de migration ") == "bug de migration"


@pytest.mark.parametrize("k", [0, -3, 1001, "x"])
def test_k_out_of_range(k: object) -> None:
    with pytest.raises(ValueError, match=r"-k .*1 to 1000"):
        validate.top_k(k)  # type: ignore[arg-type]


def test_k_in_range() -> None:
    assert validate.top_k(1) == 1 and validate.top_k("25") == 25


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as e:
        validate.kinds(["foo"])
    assert "'foo'" in str(e.value) and all(k in str(e.value) for k in KINDS)
    assert validate.kinds(["message,document", "message"]) == ["message", "document"]
    assert validate.kinds(None) is None and validate.kinds([]) is None


@pytest.mark.parametrize(("typed", "expected"), [
    ("2025-01-05", "2025-01-05"), ("2025-03", "2025-03"), ("2025", "2025"),
    ("2025-01-05T10:00:00Z", "2025-01-05T10:00:00Z"),
    ("aujourd'hui", "2026-11-30"), ("Aujourd’hui", "2026-11-30"), ("today", "2026-11-30"),
    ("hier", "2026-11-29"), ("yesterday", "2026-11-29"), ("avant-hier", "2026-11-28"),
    ("7j", "2026-11-23"), ("7d", "2026-11-23"), ("7 jours", "2026-11-23"), ("il y a 7 jours", "2026-11-23"),
    ("2 semaines", "2026-11-16"), ("2 weeks", "2026-11-16"), ("2w", "2026-11-16"),
    ("3 mois", "2026-09-01"), ("3 months ago", "2026-09-01"), ("1 an", "2025-11-30"),
])
def test_dates_users_type(typed: str, expected: str) -> None:
    assert validate.day(typed, today=TODAY) == expected


@pytest.mark.parametrize("typed", ["2025-13-45", "2025-02-30", "2025-13", "demain", "7 lunes", "", "01/02/2025"])
def test_bad_dates_name_the_value_and_the_forms(typed: str) -> None:
    with pytest.raises(ValueError) as e:
        validate.day(typed, name="--since", today=TODAY)
    msg = str(e.value)
    assert msg.startswith("--since") and "YYYY-MM-DD" in msg and "hier" in msg and "\n" not in msg
    if typed:
        assert repr(typed) in msg


def test_filters_validate_every_field_and_the_range() -> None:
    f = validate.filters(kinds_=["message"], since="hier", until="aujourd'hui", today=TODAY)
    assert (f.kinds, f.date_from, f.date_to) == (["message"], "2026-11-29", "2026-11-30")
    with pytest.raises(ValueError, match="after"):
        validate.filters(since="2026-02-01", until="2026-01-01")
    with pytest.raises(ValueError, match="date_from"):
        validate.filters(since="nope", names=("kind", "date_from", "date_to"))


def test_index_options() -> None:
    from pisteur.store import quant

    assert validate.PRECISIONS == quant.PRECISIONS
    with pytest.raises(ValueError, match=r"--precision 'foo'.*float32, float16, int8, binary"):
        validate.index_options(precision_="foo")
    with pytest.raises(ValueError, match="--ann 'nope'"):
        validate.index_options(ann_="nope")
    with pytest.raises(ValueError, match="--chunk-size 0"):
        validate.index_options(chunk_size=0)
    with pytest.raises(ValueError, match="--chunk-overlap 64 must be smaller than the chunk size"):
        validate.index_options(chunk_size=64, chunk_overlap=64)
    with pytest.raises(ValueError, match="smaller than the chunk size \\(128"):
        validate.index_options(chunk_overlap=200)
    validate.index_options(precision_="int8", ann_="hnsw", chunk_size=64, chunk_overlap=8)
