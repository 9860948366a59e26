"""Where an application is captured, and the signing record an extended window keeps (domain/channels.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.channels import (
    CHANNELS,
    STATION_CHANNELS,
    ChannelError,
    channel_for,
    check_signed,
    check_signing,
    counter_refusal,
    requires_signing,
)

KINDS = st.sampled_from(sorted(STATION_CHANNELS))


@given(KINDS)
def test_a_station_captures_its_own_channel_by_default(kind: str) -> None:
    assert channel_for(kind, None) == STATION_CHANNELS[kind] in CHANNELS


@given(KINDS, st.sampled_from(CHANNELS))
def test_only_a_hall_records_another_channel(kind: str, asked: str) -> None:
    if kind in ("hall", "registry") or asked == STATION_CHANNELS[kind]:
        assert channel_for(kind, asked) == asked
    else:
        with pytest.raises(ChannelError, match=f"captures {STATION_CHANNELS[kind]} applications"):
            channel_for(kind, asked)


@given(KINDS)
def test_signing_is_required_exactly_away_from_the_hall(kind: str) -> None:
    assert requires_signing(kind) == (kind not in ("hall", "registry", "partner"))
    if requires_signing(kind):
        with pytest.raises(ChannelError):
            check_signed(kind, None)
        with pytest.raises(ChannelError, match="未通过"):
            check_signed(kind, check_signing("见证人", "face", "fail", "F-1"))
    check_signed(kind, check_signing("见证人", "esign", "pass", "ES:2026/12/04#1"))


@pytest.mark.parametrize(
    ("witness", "method", "result", "reference", "says"),
    [
        ("", "face", "pass", "F1", "witnessed"),
        ("张三", "telepathy", "pass", "F1", "unknown signing method"),
        ("张三", "face", "maybe", "F1", "pass or fail"),
        ("张三", "face", "pass", "", "reference"),
        ("张三", "face", "pass", "has space", "reference"),
        ("张" * 201, "face", "pass", "F1", "longer than"),
    ],
)
def test_a_bad_signing_record_is_refused_in_one_line(
    witness: str, method: str, result: str, reference: str, says: str
) -> None:
    with pytest.raises(ChannelError, match=says) as caught:
        check_signing(witness, method, result, reference)
    assert "\n" not in str(caught.value)


def test_unknown_station_kind_and_channel_are_refused() -> None:
    with pytest.raises(ChannelError, match="unknown station kind"):
        channel_for("spaceport", None)
    with pytest.raises(ChannelError, match="unknown channel"):
        channel_for("hall", "carrier_pigeon")


def test_the_counter_refuses_only_what_the_office_listed_and_only_at_a_hall() -> None:
    line = counter_refusal("MORT_CANCEL", "抵押权注销登记", "hall", ["MORT_CANCEL"], "自助区")
    assert line is not None and line.startswith("抵押权注销登记请到自助区自助办理")
    assert counter_refusal("MORT_CANCEL", "抵押权注销登记", "bank", ["MORT_CANCEL"], "自助区") is None
    assert counter_refusal("RESALE_TRANSFER", "存量房转移登记", "hall", ["MORT_CANCEL"], "自助区") is None
