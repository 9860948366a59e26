"""R18 figures: the share of each channel per month and business, and the trend (domain/channel_stats.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.channel_stats import Month, channel_report
from workstation.domain.channels import CHANNELS
from workstation.domain.errors import DomainError

DEC = Month(2026, 12)
MONTHS = st.builds(Month, st.integers(2026, 2026), st.integers(6, 12))
APPLICATIONS = st.lists(
    st.tuples(MONTHS, st.sampled_from(CHANNELS), st.sampled_from(["RESALE_TRANSFER", "MORT_CANCEL", "CHANGE"])),
    max_size=200,
)


@given(APPLICATIONS, st.integers(1, 12))
def test_counts_add_up_and_shares_make_the_whole(applications, months: int) -> None:  # type: ignore[no-untyped-def]
    report = channel_report(applications, DEC, months)
    assert [m.month for m in report.trend][-1] == "2026-12" and len(report.trend) == months
    window = {DEC.back(n) for n in range(months)}
    assert sum(m.total for m in report.trend) == sum(1 for a in applications if a[0] in window)
    for m in report.trend:
        assert sum(m.counts.values()) == m.total
        assert (sum(m.shares.values()) == 1) if m.total else not m.shares
    assert sum(b.total for b in report.businesses) == report.month.total
    assert [b.total for b in report.businesses] == sorted((b.total for b in report.businesses), reverse=True)


def test_a_month_reads_and_steps_back_across_the_year() -> None:
    assert Month.parse("2026-12").back(12) == Month(2025, 12)
    assert Month.parse("2026-01").back(1).label == "2025-12"
    assert Month(2026, 12).back(-1) == Month(2027, 1)
    for bad in ("2026-13", "2026-1", "26-12", "", "2026-00"):
        with pytest.raises(DomainError, match="YYYY-MM"):
            Month.parse(bad)
    with pytest.raises(DomainError, match="1 to 36"):
        channel_report([], DEC, 0)


def test_the_report_of_a_month() -> None:
    apps = [(DEC, "window", "RESALE_TRANSFER")] * 3 + [(DEC, "self_service", "MORT_CANCEL")]
    apps += [(DEC.back(1), "window", "MORT_CANCEL")] * 2
    report = channel_report(apps, DEC, 2)
    assert report.month.total == 4 and report.month.shares["self_service"] == Fraction(1, 4)
    assert [(b.business, b.total) for b in report.businesses] == [("RESALE_TRANSFER", 3), ("MORT_CANCEL", 1)]
    assert report.trend[0].shares["window"] == 1 and report.trend[0].month == "2026-11"
    assert report.to_json()["shares"]["window"] == 0.75
