"""Delivery of the certificate (R10–R11): window, community point or free EMS, and only the legal moves."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.delivery import (
    DELIVERY_GRAPH,
    DELIVERY_STATUSES,
    METHOD_STATUSES,
    METHODS,
    TERMINAL_STATUSES,
    Delivery,
    DeliveryError,
    collect,
    done,
    mark,
    redirect,
    ship,
    start,
)
from workstation.domain.errors import DomainError

ID_X = "11010519491231002X"
ID_1 = "370102199001011231"
ADDRESS = "济南市历下区泺源大街1号"
POINT = "泉城路街道便民服务站"
WAYBILL = "EM123456789CN"


def ems() -> Delivery:
    return start("ems", address=ADDRESS, recipient="王小明", phone="13812345678")


def refused(move: Callable[[], object], message: str = "") -> str:
    with pytest.raises(DeliveryError) as err:
        move()
    text = str(err.value)
    assert "\n" not in text
    assert message in text
    assert isinstance(err.value, DomainError)
    return text


# --------------------------------------------------------------------------------------------- legal paths


def test_window_collection() -> None:
    d = start("window")
    assert (d.method, d.status, d.status_label) == ("window", "ready", "待领取")
    got = collect(d, name=" 王小明 ", id_number=ID_X)
    assert (got.status, got.collector, got.collector_id) == ("collected", "王小明", ID_X)
    assert done(got)
    assert not done(d)


def test_community_collection_names_its_point() -> None:
    d = start("community", point=POINT, phone="0531-88888888")
    assert d.point == POINT
    assert d.phone == "0531-88888888"
    got = collect(d, name="赵建国", id_number=ID_1)
    assert got.status == "collected"
    assert got.point == POINT


def test_ems_shipped_then_delivered() -> None:
    d = ems()
    assert d.status_label == "待寄出"
    shipped = ship(d, waybill=WAYBILL)
    assert shipped.status == "shipped"
    delivered = mark(shipped, "delivered")
    assert delivered.status == "delivered"
    assert delivered.waybill == WAYBILL
    assert done(delivered)


def test_returned_ems_is_re_shipped() -> None:
    returned = mark(ship(ems(), waybill=WAYBILL), "returned")
    assert returned.status_label == "退回"
    again = redirect(returned, "ems", address="济南市市中区经四路2号", recipient="王小明")
    assert (again.status, again.waybill, again.address) == ("ready", "", "济南市市中区经四路2号")
    assert mark(ship(again, waybill="EM987654321CN"), "delivered").status == "delivered"


def test_returned_ems_switches_to_window_collection() -> None:
    returned = mark(ship(ems(), waybill=WAYBILL), "returned")
    window = redirect(returned, "window")
    assert window == start("window")
    assert collect(window, name="王小明", id_number=ID_X).status == "collected"


def test_a_ready_delivery_can_be_redirected() -> None:
    d = redirect(start("window"), "community", point=POINT)
    assert (d.method, d.status, d.point) == ("community", "ready", POINT)
    assert redirect(d, "ems", address=ADDRESS).address == ADDRESS


# --------------------------------------------------------------------------------------------- refusals


def test_what_each_method_needs() -> None:
    refused(lambda: start("community"), "community collection needs the point")
    refused(lambda: start("ems"), "EMS delivery needs a postal address")
    refused(lambda: start("ems", address="   "), "postal address")
    refused(lambda: start("window", address=ADDRESS), "only EMS delivery takes an address")
    refused(lambda: start("ems", address=ADDRESS, point=POINT), "only community collection names a point")
    refused(lambda: start("drone"), "unknown delivery method 'drone'")
    refused(lambda: start("ems", address="x" * 201), "longer than 200")
    refused(lambda: start("community", point="a\x07b"), "control characters")


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("０５３１－８８８８８８８８", "0531-88888888"),
        ("053188888888", "053188888888"),
        ("010-12345678", "010-12345678"),
        ("", ""),
    ],
)
def test_phone_numbers(phone: str, expected: str) -> None:
    assert start("window", phone=phone).phone == expected


@pytest.mark.parametrize("phone", ["12345", "88888888", "23812345678", "1381234567", "138123456789", "abc"])
def test_bad_phone_numbers_are_refused(phone: str) -> None:
    refused(lambda: start("window", phone=phone), "phone")


def test_a_collected_certificate_cannot_be_shipped_or_collected_again() -> None:
    got = collect(start("window"), name="王小明", id_number=ID_X)
    assert refused(lambda: ship(got, waybill=WAYBILL)).startswith("已领取的证书不能再寄出")
    refused(lambda: collect(got, name="赵建国", id_number=ID_1), "already collected cannot be collected")
    refused(lambda: mark(got, "delivered"), "already collected")
    refused(lambda: redirect(got, "ems", address=ADDRESS), "already collected cannot be redirected")


def test_an_ems_delivery_is_not_collected_and_a_window_one_not_shipped() -> None:
    refused(lambda: collect(ems(), name="王小明", id_number=ID_X), "EMS delivery is not collected")
    refused(lambda: ship(start("window"), waybill=WAYBILL), "not shipped")
    refused(lambda: mark(start("window"), "delivered"), "still ready")


def test_only_a_shipped_item_is_marked() -> None:
    refused(lambda: mark(ems(), "delivered"), "still ready cannot be marked delivered")
    shipped = ship(ems(), waybill=WAYBILL)
    refused(lambda: mark(shipped, "collected"), "'delivered' or 'returned'")
    refused(lambda: ship(shipped, waybill=WAYBILL), "already shipped cannot be shipped")
    refused(lambda: redirect(shipped, "window"), "already shipped cannot be redirected")
    delivered = mark(shipped, "delivered")
    refused(lambda: mark(delivered, "returned"), "already delivered")


def test_a_returned_item_is_redirected_before_anything_else() -> None:
    returned = mark(ship(ems(), waybill=WAYBILL), "returned")
    refused(lambda: ship(returned, waybill=WAYBILL), "redirect it first")
    refused(lambda: collect(returned, name="王小明", id_number=ID_X), "redirect it first")
    refused(lambda: mark(returned, "delivered"), "returned cannot be marked")


@pytest.mark.parametrize(
    ("id_number", "message"),
    [
        ("370102199001011232", "check digit"),
        ("11010519491231002Y", "invalid ID number"),
        ("110105491231002", "18 characters"),  # a legacy 15-digit number: those cards are long expired
        ("", "ID number is missing"),
        ("000000199001011234", "invalid ID number"),
    ],
)
def test_a_bad_id_number_is_refused(id_number: str, message: str) -> None:
    refused(lambda: collect(start("window"), name="王小明", id_number=id_number), message)


def test_the_id_number_is_normalised_and_kept_whole() -> None:
    got = collect(start("window"), name="王小明", id_number=" 110105 19491231 002x ")
    assert got.collector_id == ID_X
    assert got.to_json()["collector_id"] == ID_X


def test_a_collector_needs_a_name() -> None:
    refused(lambda: collect(start("window"), name="  ", id_number=ID_X), "name is missing")


@pytest.mark.parametrize(
    ("waybill", "expected"),
    [
        ("em123456789cn", "EM123456789CN"),
        (" EM 1234 5678 9CN ", "EM123456789CN"),
        ("ｅｍ１２３４５６７８９ｃｎ", "EM123456789CN"),
        ("1234567890", "1234567890"),
        ("A" * 20, "A" * 20),
    ],
)
def test_the_waybill_is_normalised(waybill: str, expected: str) -> None:
    assert ship(ems(), waybill=waybill).waybill == expected


@pytest.mark.parametrize("waybill", ["", "123456789", "A" * 21, "EM-12345678CN", "EM1234567号"])
def test_a_bad_waybill_is_refused(waybill: str) -> None:
    refused(lambda: ship(ems(), waybill=waybill), "waybill")


# --------------------------------------------------------------------------------------------- stored values


def test_json_round_trip_of_every_status() -> None:
    shipped = ship(ems(), waybill=WAYBILL)
    for d in (
        start("window"),
        collect(start("community", point=POINT), name="王小明", id_number=ID_X),
        shipped,
        mark(shipped, "delivered"),
        mark(shipped, "returned"),
    ):
        assert Delivery.from_json(d.to_json()) == d


@pytest.mark.parametrize(
    "data",
    [
        {"method": "window", "status": "shipped", "waybill": WAYBILL},
        {"method": "ems", "status": "collected", "address": ADDRESS, "collector": "王", "collector_id": ID_X},
        {"method": "window", "status": "collected", "collector": "王小明", "collector_id": "370102199001011232"},
        {"method": "window", "status": "collected", "collector": "王小明"},
        {"method": "window", "status": "ready", "collector": "王小明"},
        {"method": "ems", "status": "ready", "address": ADDRESS, "waybill": WAYBILL},
        {"method": "ems", "status": "shipped", "address": ADDRESS, "waybill": "em123456789cn"},
        {"method": "ems", "status": "shipped", "address": ADDRESS},
        {"method": "ems", "status": "ready"},
        {"method": "window", "status": "ready", "phone": "12345"},
        {"method": "window", "status": "lost"},
        {"method": "window"},
        {"method": "window", "status": "ready", "colour": "red"},
        {"method": "window", "status": "ready", "phone": 13812345678},
    ],
)
def test_a_stored_delivery_that_breaks_the_rules_is_refused(data: dict[str, object]) -> None:
    refused(lambda: Delivery.from_json(data))


def test_labels() -> None:
    assert METHODS == {"window": "窗口领取", "community": "社区便民点领取", "ems": "免费邮寄"}
    assert set(DELIVERY_STATUSES) == set(DELIVERY_GRAPH)
    assert {s for s, nxt in DELIVERY_GRAPH.items() if not nxt} == TERMINAL_STATUSES


# --------------------------------------------------------------------------------------------- properties

ids = st.sampled_from([ID_X, ID_1, "370102199001011232", ""])
waybills = st.sampled_from([WAYBILL, "em 987654321 cn", "123", ""])
destinations = st.sampled_from(
    [
        ("window", {}),
        ("community", {"point": POINT}),
        ("community", {}),
        ("ems", {"address": ADDRESS, "phone": "13812345678"}),
        ("ems", {}),
        ("window", {"address": ADDRESS}),
        ("post", {}),
    ]
)
operations = st.one_of(
    st.tuples(st.just("collect"), st.sampled_from(["王小明", ""]), ids),
    st.tuples(st.just("ship"), waybills),
    st.tuples(st.just("mark"), st.sampled_from(["delivered", "returned", "ready", "collected"])),
    st.tuples(st.just("redirect"), destinations),
)


def apply(d: Delivery, op: tuple[object, ...]) -> Delivery:
    match op:
        case ("collect", str(name), str(id_number)):
            return collect(d, name=name, id_number=id_number)
        case ("ship", str(waybill)):
            return ship(d, waybill=waybill)
        case ("mark", str(status)):
            return mark(d, status)
        case ("redirect", (str(method), dict(kwargs))):
            return redirect(d, method, **kwargs)
    raise AssertionError(op)


def assert_consistent(d: Delivery) -> None:
    assert d.status in METHOD_STATUSES[d.method]
    assert bool(d.waybill) == (d.status in {"shipped", "delivered", "returned"})
    assert bool(d.collector_id) == (d.status == "collected")
    assert bool(d.point) == (d.method == "community")
    assert bool(d.address) == (d.method == "ems")
    assert Delivery.from_json(d.to_json()) == d


def run_in_the_graph(d: Delivery, ops: list[tuple[object, ...]]) -> None:
    for op in ops:
        try:
            after = apply(d, op)
        except DeliveryError:
            continue  # refused: the delivery is unchanged (it is immutable)
        assert after.status in DELIVERY_GRAPH[d.status]
        assert not done(d)
        assert_consistent(after)
        d = after


@given(destinations, st.lists(operations, max_size=12))
def test_any_sequence_of_moves_stays_in_the_graph(
    first: tuple[str, dict[str, str]], ops: list[tuple[object, ...]]
) -> None:
    method, kwargs = first
    try:
        d = start(method, **kwargs)
    except DeliveryError:
        return
    assert d.status == "ready"
    assert_consistent(d)
    run_in_the_graph(d, ops)


@given(st.sampled_from(["shipped", "returned"]), st.lists(operations, max_size=8))
def test_any_sequence_of_moves_after_shipping_stays_in_the_graph(status: str, ops: list[tuple[object, ...]]) -> None:
    shipped = ship(ems(), waybill=WAYBILL)
    run_in_the_graph(shipped if status == "shipped" else mark(shipped, "returned"), ops)


@given(st.lists(operations, min_size=1, max_size=6))
def test_a_done_delivery_accepts_nothing(ops: list[tuple[object, ...]]) -> None:
    shipped = ship(ems(), waybill=WAYBILL)
    for d in (collect(start("window"), name="王小明", id_number=ID_X), mark(shipped, "delivered")):
        for op in ops:
            with pytest.raises(DeliveryError):
                apply(d, op)


@given(
    destinations,
    st.sampled_from(["", "王小明", "  李 四 "]),
    st.sampled_from(["", "13812345678", "0531-88888888"]),
    st.lists(operations, max_size=8),
)
def test_json_round_trip(
    first: tuple[str, dict[str, str]], recipient: str, phone: str, ops: list[tuple[object, ...]]
) -> None:
    method, kwargs = first
    try:
        d = start(method, **({"recipient": recipient, "phone": phone} | kwargs))
    except DeliveryError:
        return
    for op in ops:
        with contextlib.suppress(DeliveryError):
            d = apply(d, op)
        assert Delivery.from_json(d.to_json()) == d


def test_a_delivery_built_by_hand_obeys_the_same_rules() -> None:
    with pytest.raises(DeliveryError):
        replace(start("window"), status="delivered")
