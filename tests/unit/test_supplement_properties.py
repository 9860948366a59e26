"""补正 item by item (一次性告知): what a notice may name, and what answers it — the domain's pure rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.review import ReturnItem, Snapshot, items_outside, unaddressed

MATERIALS = ("M01", "M03", "M05", "M11")
PARTIES = (None, "p1", "p2")
FIELDS = ("area_m2", "price", "uscc")

items_st = st.lists(
    st.one_of(
        st.builds(
            ReturnItem,
            problem=st.just("missing"),
            material=st.sampled_from(MATERIALS),
            party_key=st.sampled_from(PARTIES),
        ),
        st.builds(ReturnItem, problem=st.just("invalid"), field=st.sampled_from(FIELDS)),
    ),
    min_size=1,
    max_size=8,
)
slot_st = st.tuples(st.sampled_from(MATERIALS), st.sampled_from(PARTIES))
snapshot_st = st.builds(
    Snapshot,
    pages=st.dictionaries(st.text("abcdef0123", min_size=4, max_size=4), slot_st, max_size=6),
    fields=st.dictionaries(st.sampled_from(FIELDS), st.lists(st.text(max_size=4), max_size=2).map(tuple), max_size=3),
)


@given(items_st, snapshot_st)
def test_nothing_changed_and_nothing_noted_leaves_every_item_open(items: list[ReturnItem], snap: Snapshot) -> None:
    assert unaddressed(items, snap, snap, ()) == list(range(1, len(items) + 1))


@given(items_st, snapshot_st, snapshot_st)
def test_a_note_on_every_item_answers_the_notice_whatever_the_pages(
    items: list[ReturnItem], before: Snapshot, after: Snapshot
) -> None:
    assert unaddressed(items, before, after, range(1, len(items) + 1)) == []


@given(items_st, snapshot_st, snapshot_st, st.sets(st.integers(1, 8)), st.sets(st.integers(1, 8)))
def test_more_notes_never_open_an_item(
    items: list[ReturnItem], before: Snapshot, after: Snapshot, some: set[int], more: set[int]
) -> None:
    fewer = set(unaddressed(items, before, after, some | more))
    assert fewer <= set(unaddressed(items, before, after, some))
    assert fewer <= set(range(1, len(items) + 1))


@given(items_st, snapshot_st)
def test_a_new_page_in_the_named_slot_answers_a_material_item(items: list[ReturnItem], before: Snapshot) -> None:
    pages = dict(before.pages)
    for n, item in enumerate(items):
        if item.material is not None:
            pages[f"new-{n}"] = (item.material, item.party_key or "p9")
    after = Snapshot(pages=pages, fields=before.fields)
    left = unaddressed(items, before, after, ())
    assert all(items[n - 1].material is None for n in left)
    # A page that was there at the return answers nothing.
    assert unaddressed(items, after, after, ()) == list(range(1, len(items) + 1))


def test_items_must_name_what_the_dossier_has() -> None:
    slots = [("M01", None), ("M03", "p1")]
    ok = [ReturnItem("missing", material="M01"), ReturnItem("defective", material="M03", party_key="p1")]
    assert items_outside(ok, slots, ["area_m2"]) == []
    assert items_outside(
        [
            ReturnItem("missing", material="M99"),
            ReturnItem("defective", material="M03", party_key="p2"),
            ReturnItem("invalid", field="price"),
        ],
        slots,
        ["area_m2"],
    ) == [
        "item 1: material M99 is not on this dossier's checklist",
        "item 2: party p2 has no M03 on this dossier's checklist",
        "item 3: field 'price' is not on this dossier",
    ]


def test_a_snapshot_survives_its_json() -> None:
    snap = Snapshot(pages={"a1": ("M01", None), "b2": ("M03", "p1")}, fields={"area_m2": ("89.5", "90.1")})
    assert Snapshot.from_json(snap.to_json()) == snap
