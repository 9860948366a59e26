"""The review desk under Pilot: my queue with its lease countdown, the dossier view, and decisions in a few keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select, update
from textual.pilot import Pilot
from textual.widgets import OptionList, SelectionList

from tests.review_helpers import submitted
from tests.service.test_pages import real_page
from tests.tui_helpers import (
    LARGE,
    add_user,
    make_desk,
    run_app,
    screen_text,
    table_rows,
    text_of,
    wait_for_workers,
    wait_until,
)
from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.services.demo import DEMO_PASSWORD, seed_demo
from workstation.services.desk import Desk, open_desk
from workstation.store.models import Assignment, AuditEvent, Dossier, Field
from workstation.tui.screens.review import ReviewScreen
from workstation.tui.screens.review_decide import ApproveModal, RejectModal, ReturnModal
from workstation.tui.screens.review_dossier import ReviewDossierScreen
from workstation.tui.widgets.ocr_text import FIELD_STYLE, OcrText, highlighted
from workstation.tui.widgets.page_image import PageImage, image_widget_class, pin_renderer, renderer_name

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

# textual-image's half-cell renderer still calls a Pillow method deprecated for Pillow 14.
pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    opened = make_desk(tmp_path, monkeypatch)
    monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")  # after make_desk, which clears WS_* variables
    return opened


@pytest.fixture
def clerk(desk: Desk) -> Actor:
    return add_user(desk, "clerk1", ["clerk"])


@pytest.fixture
def reviewer(desk: Desk) -> Actor:
    return add_user(desk, "rev1", ["reviewer"], can_review_online=True, can_review_offline=True)


@pytest.fixture
def pool(desk: Desk, clerk: Actor) -> tuple[str, str]:
    """An enterprise dossier with a real scan and a suggested 补正 list, and an older individual one behind it."""
    enterprise = submitted(
        desk,
        clerk,
        business="ENT_NONRES_TRANSFER",
        kind="enterprise",
        channel="online",
        applied_at=T0 + timedelta(hours=1),
    ).number
    real_page(desk, enterprise, problems=True)
    individual = submitted(desk, clerk, channel="online", applied_at=T0).number
    return enterprise, individual


def review_screen(pilot: Pilot[None]) -> ReviewScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen), type(screen).__name__
    return screen


def dossier_screen(pilot: Pilot[None]) -> ReviewDossierScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ReviewDossierScreen), type(screen).__name__
    return screen


async def settle(pilot: Pilot[None]) -> None:
    await wait_for_workers(pilot, rounds=4)


async def open_next(pilot: Pilot[None]) -> ReviewDossierScreen:
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewDossierScreen))
    screen = dossier_screen(pilot)
    await wait_until(pilot, lambda: screen.detail is not None)
    await settle(pilot)
    return screen


def notes(pilot: Pilot[None]) -> list[str]:
    return [n.message for n in pilot.app._notifications]


def test_reviewer_returns_one_for_supplement_then_claims_and_approves_the_next(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, individual = pool

    async def script(pilot: Pilot[None]) -> None:
        assert table_rows(pilot, "#review-queue") == []
        assert "pool: 2 电子 online · 0 纸质 paper" in text_of(pilot, "#review-summary")

        screen = await open_next(pilot)  # R15: the enterprise dossier first, though applied later
        assert screen.lease.number == enterprise
        title = text_of(pilot, "#dossier-title")
        assert enterprise in title and "企业" in title and "电子" in title
        # The page: its image (half-cell here) beside its OCR text, the extracted name highlighted.
        await wait_until(pilot, lambda: pilot.app.screen.query_one(PageImage).has_picture)
        assert "济南泉城商贸有限公司" in pilot.app.screen.query_one(OcrText).text

        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReturnModal))
        modal = pilot.app.screen
        shown = screen_text(pilot)
        assert "不符合法定形式 统一社会信用代码 USCC — 91350100M000100Y4X" in shown
        assert "前后不一致 name_matches — 申请人名称与营业执照不一致" in shown
        items = modal.query_one("#return-items", SelectionList)
        assert len(items.selected) == 2  # pre-filled: everything suggested is ticked
        items.deselect(1)  # the finding does not apply
        await pilot.click("#return-add")
        await pilot.press(*"M12 unsigned", "enter")
        await pilot.press("ctrl+s")
        await settle(pilot)

        decisions = desk.review.decisions(enterprise)
        assert [(d.kind, d.outcome) for d in decisions] == [("return", "applied")]
        assert [(i["problem"], i["material"], i["field"]) for i in decisions[0].items] == [
            ("invalid", None, "uscc"),
            ("unsigned", "M12", None),
        ]
        assert desk.review.show_state(enterprise)[1] == "returned"
        assert any(f"{enterprise} 补正 returned" in n for n in notes(pilot))

        # Queue empty: the next dossier is claimed and shown.
        screen = dossier_screen(pilot)
        await wait_until(pilot, lambda: screen.detail is not None and screen.lease.number == individual)
        await settle(pilot)
        assert individual in text_of(pilot, "#dossier-title")
        assert "个人" in text_of(pilot, "#dossier-title")

        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
        assert f"Approve {individual}?" in screen_text(pilot)
        await pilot.press("y")
        await settle(pilot)

        decisions = desk.review.decisions(individual)
        assert [(d.kind, d.outcome) for d in decisions] == [("approve", "applied")]
        stage, status = desk.review.show_state(individual)
        assert (decisions[0].stage_after, decisions[0].status_after) == (stage, status)
        assert stage != "review"
        # Nothing left anywhere: back on my (empty) queue, the pool empty.
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
        await settle(pilot)
        assert table_rows(pilot, "#review-queue") == []
        assert "我的队列 my queue 0/3 · 案卷池 pool: 0 电子 online · 0 纸质 paper" in text_of(pilot, "#review-summary")
        assert any("队列已空 my queue is empty and the pool has nothing for me" in n for n in notes(pilot))

    run_app(desk, script, actor=reviewer, mode="review")


def test_the_queue_shows_each_lease_time_left_counting_down_with_the_clock(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, individual = pool

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f")
        await settle(pilot)
        screen = review_screen(pilot)
        rows = table_rows(pilot, "#review-queue")
        assert [row[:1] + row[2:] for row in rows] == [
            [enterprise, "企业", "电子", "2026-11-02 10:00", "ENT_NONRES_TRANSFER"],
            [individual, "个人", "电子", "2026-11-02 09:00", "RESALE_TRANSFER"],
        ]
        expires = screen.leases[0].expires_at
        now = expires - timedelta(minutes=10)
        screen.clock = lambda: now
        await pilot.pause(1.2)  # the screen's own one-second tick
        assert table_rows(pilot, "#review-queue")[0][1] == "10:00"
        now = expires - timedelta(minutes=10) + timedelta(seconds=65)
        await pilot.pause(1.2)
        assert table_rows(pilot, "#review-queue")[0][1] == "08:55"
        # The open dossier counts down on the same clock.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewDossierScreen))
        await settle(pilot)
        assert "剩余 left 08:55" in text_of(pilot, "#dossier-title")
        now = expires + timedelta(minutes=1)  # past both leases (claimed together)
        await pilot.press("escape")
        await settle(pilot)
        # The tick shows 00:00, then a worker drops the lapsed leases; under load that can take more than one tick.
        await wait_until(pilot, lambda: table_rows(pilot, "#review-queue") == [])
        assert text_of(pilot, "#review-lost") == (
            f"租约失效 lease lost: {enterprise} (the lease ran out); {individual} (the lease ran out)"
        )

    run_app(desk, script, actor=reviewer, mode="review")


def _lease_taken_by_another(desk: Desk, number: str, other: Actor) -> None:
    """The lease runs out and another reviewer claims the dossier: its fence moves on."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with desk.db.transaction() as s:
        dossier_id = s.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        s.execute(update(Dossier).where(Dossier.id == dossier_id).values(lease_expires_at=past))
        s.execute(
            update(Assignment)
            .where(Assignment.dossier_id == dossier_id, Assignment.state == "active")
            .values(expires_at=past)
        )
    taken = desk.review.claim_next(other)
    assert taken is not None and taken.number == number


def test_a_decision_under_a_lost_lease_is_one_line_and_recorded_as_a_conflict(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, _ = pool
    other = add_user(desk, "rev2", ["reviewer"], can_review_online=True)

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        _lease_taken_by_another(desk, enterprise, other)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
        await pilot.press("y")
        await settle(pilot)
        screen = dossier_screen(pilot)
        line = text_of(pilot, "#dossier-message")
        assert line.startswith(f"decision on {enterprise} refused as a conflict: lease fence 1 is stale")
        assert "\n" not in line
        assert "租约失效 lease lost" in text_of(pilot, "#dossier-title")
        decisions = desk.review.decisions(enterprise)
        assert [(d.kind, d.outcome, d.reviewer) for d in decisions] == [("approve", "conflict", "rev1")]
        assert desk.review.show_state(enterprise)[1] == "in_review"  # nothing applied
        assert not screen.check_action("approve", ())  # the keys that cannot work now are hidden

    run_app(desk, script, actor=reviewer, mode="review")


def test_a_refused_return_keeps_the_list_for_the_next_try(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    enterprise, _ = pool
    other = add_user(desk, "rev2", ["reviewer"], can_review_online=True)

    async def script(pilot: Pilot[None]) -> None:
        screen = await open_next(pilot)
        _lease_taken_by_another(desk, enterprise, other)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReturnModal))
        await pilot.click("#return-add")
        await pilot.press(*"M12 unsigned", "enter", "ctrl+s")
        await settle(pilot)
        assert "refused as a conflict" in text_of(pilot, "#dossier-message")
        assert [d.outcome for d in desk.review.decisions(enterprise)] == ["conflict"]
        assert [i["material"] for i in desk.review.decisions(enterprise)[0].items] == [None, None, "M12"]
        # The lease is lost, so no new decision here; what was chosen is still offered.
        screen._lease_lost = None
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReturnModal))
        assert "未签字或未盖章 M12" in screen_text(pilot)
        assert len(pilot.app.screen.query_one("#return-items", SelectionList).selected) == 3

    run_app(desk, script, actor=reviewer, mode="review")


def test_reject_needs_a_reason_from_the_list(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    enterprise, _ = pool

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RejectModal))
        assert "存在尚未解决的权属争议" in screen_text(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RejectModal)
        assert "不予登记须选择理由 choose a reason" in text_of(pilot, "#decide-error")
        assert desk.review.decisions(enterprise) == []
        await pilot.press("down", "enter")  # the second reason: a dispute over the right
        await pilot.click("#reject-note")
        await pilot.press(*"court case pending", "ctrl+s")
        await settle(pilot)
        decisions = desk.review.decisions(enterprise)
        assert [(d.kind, d.outcome, d.reason_code, d.note) for d in decisions] == [
            ("reject", "applied", "dispute", "court case pending")
        ]
        assert desk.review.show_state(enterprise)[1] == "rejected"

    run_app(desk, script, actor=reviewer, mode="review")


def test_the_page_image_renders_in_half_cells_at_80x24(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        picture = pilot.app.screen.query_one(PageImage)
        await wait_until(pilot, lambda: picture.has_picture)
        await pilot.pause()
        assert image_widget_class().__name__ == "HalfcellImage"
        drawn = picture.query_one(".page-picture")
        assert drawn.size.width > 10 and drawn.size.height > 5
        shown = screen_text(pilot)
        assert "▀" in shown or "▄" in shown
        assert "1 M" in str(pilot.app.screen.query_one("#page-list", OptionList).get_option_at_index(0).prompt)
        # Narrow: image or text; `t` switches.
        assert not pilot.app.screen.query_one(OcrText).display
        await pilot.press("t")
        assert pilot.app.screen.query_one(OcrText).display and not picture.display
        # The other views, one key each: the checklist, the findings, the fields.
        await pilot.press("2")
        await pilot.pause()
        assert "✓ M05 营业执照 — 买受人 济南某某置业有限公司" in screen_text(pilot)
        await pilot.press("3")
        await pilot.pause()
        assert "error   name_matches: 申请人名称与营业执照不一致" in screen_text(pilot)
        await pilot.press("4")
        await pilot.pause()
        assert ["统一社会信用代码", "91350100M000100Y4X", "1.00", "✗", "1", "OCR 识别"] in table_rows(pilot, "#fields")

    run_app(desk, script, actor=reviewer, mode="review")


def test_at_160_columns_image_and_text_sit_side_by_side(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        picture = pilot.app.screen.query_one(PageImage)
        await wait_until(pilot, lambda: picture.has_picture)
        text = pilot.app.screen.query_one(OcrText)
        assert picture.display and text.display
        assert text.region.x > picture.region.x and text.region.width > 40
        assert "统一社会信用代码 91350100M000100Y43" in screen_text(pilot)

    run_app(desk, script, actor=reviewer, mode="review", size=LARGE)


def test_a_colour_scan_is_drawn_in_colour(desk: Desk, reviewer: Actor, clerk: Actor) -> None:
    from tests.unit.test_colour import sealed_page

    number = submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise", channel="online").number
    real_page(desk, number, sealed_page()[0])

    def red_cells(pilot: Pilot[None]) -> int:
        colours = [
            colour.get_truecolor()
            for strip in pilot.app.screen._compositor.render_strips()
            for segment in strip
            if segment.style is not None
            for colour in (segment.style.color, segment.style.bgcolor)
            if colour is not None
        ]
        return sum(1 for r, g, b in colours if r - max(g, b) > 40)

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        picture = pilot.app.screen.query_one(PageImage)
        await wait_until(pilot, lambda: picture.has_picture)
        await pilot.pause()
        assert red_cells(pilot) > 10  # the seal, in red half-cells

    run_app(desk, script, actor=reviewer, mode="review")


def test_a_page_that_cannot_be_shown_says_why_in_one_line(desk: Desk, reviewer: Actor, clerk: Actor) -> None:
    number = submitted(desk, clerk, channel="online").number  # its pages hold text, not scans

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        assert f"无法显示此页 cannot show this page: dossier {number}, page 1: the stored scan cannot be shown" in (
            text_of(pilot, "#page-image-note")
        )
        assert "无识别文字 no OCR text for this page" in pilot.app.screen.query_one(OcrText).text

    run_app(desk, script, actor=reviewer, mode="review")


def test_heartbeat_renews_my_leases_and_names_the_lost_one(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    enterprise, individual = pool
    other = add_user(desk, "rev2", ["reviewer"], can_review_online=True)

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f")
        await settle(pilot)
        screen = review_screen(pilot)
        before = {lease.number: lease.expires_at for lease in screen.leases}
        _lease_taken_by_another(desk, enterprise, other)
        screen.heartbeat()
        await settle(pilot)
        assert [row[0] for row in table_rows(pilot, "#review-queue")] == [individual]
        assert screen.leases[0].expires_at >= before[individual]
        assert "租约失效 lease lost:" in text_of(pilot, "#review-lost") and enterprise in text_of(pilot, "#review-lost")

    run_app(desk, script, actor=reviewer, mode="review")


def test_release_gives_the_selected_dossier_back_and_keys_follow_the_queue(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, individual = pool

    async def script(pilot: Pilot[None]) -> None:
        screen = review_screen(pilot)
        assert not screen.check_action("open", ()) and not screen.check_action("release", ())
        await pilot.press("f")
        await settle(pilot)
        assert screen.check_action("open", ())
        await pilot.press("l")
        await settle(pilot)
        assert [row[0] for row in table_rows(pilot, "#review-queue")] == [individual]
        assert "pool: 1 电子 online" in text_of(pilot, "#review-summary")
        assert desk.review.lease_of(reviewer, enterprise) is None
        assert "review.next" in {b.binding.id for b in screen.active_bindings.values()}

    run_app(desk, script, actor=reviewer, mode="review")


def test_every_review_binding_has_an_id_and_a_tooltip_and_the_screens_have_help() -> None:
    for screen in (ReviewScreen, ReviewDossierScreen, ReturnModal, RejectModal, ApproveModal):
        assert screen.HELP.strip()
        for binding in screen.BINDINGS:
            assert binding.id and binding.id.startswith("review."), binding  # type: ignore[union-attr]
            assert binding.tooltip, binding  # type: ignore[union-attr]
    assert PageImage.HELP.strip() and OcrText.HELP.strip()


def test_the_open_dossier_renews_its_lease_and_says_when_it_is_lost(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, _ = pool
    other = add_user(desk, "rev2", ["reviewer"], can_review_online=True)

    async def script(pilot: Pilot[None]) -> None:
        screen = await open_next(pilot)
        before = screen.lease.expires_at
        screen.heartbeat()
        await settle(pilot)
        assert screen.lease.expires_at > before
        _lease_taken_by_another(desk, enterprise, other)
        screen.heartbeat()
        await settle(pilot)
        assert text_of(pilot, "#dossier-message").startswith(f"租约失效 lease lost on {enterprise}: ")
        assert "租约失效 lease lost" in text_of(pilot, "#dossier-title")
        assert not screen.check_action("return", ())

    run_app(desk, script, actor=reviewer, mode="review")


def test_the_image_renderer_is_pinned_by_the_environment_or_in_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WS_TUI_IMAGE", "unicode")
    assert renderer_name() == "unicode" and image_widget_class().__name__ == "UnicodeImage"
    monkeypatch.setenv("WS_TUI_IMAGE", "no-such-thing")
    assert renderer_name() == "auto"
    pin_renderer("halfcell")
    try:
        assert image_widget_class().__name__ == "HalfcellImage"
    finally:
        pin_renderer(None)
    with pytest.raises(ValueError, match="unknown image renderer"):
        pin_renderer("ascii-art")


def test_with_time_frozen_the_countdown_stands_still_for_snapshots(desk: Desk, reviewer: Actor, clerk: Actor) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 2, 0, tzinfo=UTC), tick=False):
        number = submitted(desk, clerk, channel="online").number

        async def script(pilot: Pilot[None]) -> None:
            await pilot.press("f")
            await settle(pilot)
            await pilot.pause(1.2)
            assert table_rows(pilot, "#review-queue") == [
                [number, "30:00", "个人", "电子", "2026-11-25 10:00", "RESALE_TRANSFER"]
            ]
            await pilot.press("enter")
            await settle(pilot)
            await pilot.pause(1.2)
            assert text_of(pilot, "#dossier-title").endswith("· in_review · 剩余 left 30:00")

        run_app(desk, script, actor=reviewer, mode="review")


def test_ocr_text_highlights_every_extracted_value_and_dims_doubtful_lines() -> None:
    lines = [("名称 济南泉城商贸有限公司", 0.97), ("法定代表人 张建华", 0.5)]
    content = highlighted(lines, ["济南泉城商贸有限公司", "张建华"])
    assert content.plain == "名称 济南泉城商贸有限公司\n法定代表人 张建华"
    marked = [content.plain[span.start : span.end] for span in content.spans if span.style == FIELD_STYLE]
    assert marked == ["济南泉城商贸有限公司", "张建华"]
    assert any(span.style == "$text-muted" for span in content.spans)


def test_with_a_registry_the_desk_claims_there_shows_the_fetched_pages_and_decides_through_a_network_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    from sync.client import SyncAgent
    from sync.people import RegistryPeople
    from sync.review import RegistryLeases
    from tests.faultproxy import FaultProxy
    from tests.sync_helpers import PERSON_PASSWORD, agent_for, provision, running_registry
    from tests.sync_helpers import make_desk as make_intake_desk
    from tests.tui_helpers import log_in as type_login
    from workstation.store.models import Decision, OutboxOp

    with (
        running_registry(tmp_path / "registry") as (registry, url),
        FaultProxy("127.0.0.1", urlsplit(url).port or 0) as proxy,
    ):
        intake = make_intake_desk(tmp_path / "intake", "JN-01")
        clerk_a = intake.users.actor("clerk1")
        enterprise = submitted(
            intake, clerk_a, business="ENT_NONRES_TRANSFER", kind="enterprise", channel="online", applied_at=T0
        ).number
        individual = submitted(intake, clerk_a, channel="online", applied_at=T0 + timedelta(hours=1)).number
        agent_for(intake, registry, url).sync_once()
        real_page(registry, enterprise, problems=True)  # type: ignore[arg-type]  # its db and blobs are a desk's
        token = registry.add_station("JN-REV", "审核")
        desk = make_desk(
            tmp_path / "review", monkeypatch, station_id="JN-REV", registry_url=proxy.url, registry_token=token
        )
        monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")
        people = RegistryPeople(url=proxy.url, token=token, timeout=5)
        source = RegistryLeases(desk.blobs, people, url=proxy.url, token=token, timeout=5)
        desk.users.attach_directory(people)
        desk.review.attach_registry(source)
        provision(registry, "rev1", online=True, offline=False)

        async def script(pilot: Pilot[None]) -> None:
            # rev1 is the registry's: the login screen checks the password there and the review area opens.
            await type_login(pilot, "rev1", "not-the-password")
            assert text_of(pilot, "#login-error") == "wrong user name or password"
            await pilot.press(*PERSON_PASSWORD, "enter")  # the password field has the focus again
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
            await settle(pilot)
            assert "中心案卷池 registry pool: 2 电子 online · 0 纸质 paper" in text_of(pilot, "#review-summary")
            screen = await open_next(pilot)  # claimed at the registry, fetched with its pages
            assert screen.lease.number == enterprise
            await wait_until(pilot, lambda: pilot.app.screen.query_one(PageImage).has_picture)
            assert "济南泉城商贸有限公司" in pilot.app.screen.query_one(OcrText).text

            proxy.partitioned = True  # the network drops; the dossier on screen is decided all the same
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
            await pilot.press("y")
            await settle(pilot)
            assert [(d.kind, d.outcome) for d in desk.review.decisions(enterprise)] == [("approve", "applied")]
            # The next one cannot be claimed now: said in one line, and back on my queue.
            await wait_until(pilot, lambda: any("registry unreachable" in n for n in notes(pilot)))
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
            await pilot.press("r")
            await settle(pilot)
            assert "中心案卷池 registry pool: unreachable now" in text_of(pilot, "#review-summary")

        run_app(desk, script)
        reviewer = desk.users.actor("rev1")  # the desk's copy of the person, from the login

        proxy.partitioned = False
        agent = SyncAgent(desk.db, desk.blobs, station_id="JN-REV", url=proxy.url, token=token, timeout=5)
        agent.sync_once()
        with registry.db.read() as s:
            assert s.execute(select(Decision.kind, Decision.outcome)).all() == [("approve", "applied")]
            assert s.execute(select(Dossier.stage).where(Dossier.number == enterprise)).scalar_one() != "REVIEW"
        with desk.db.read() as s:
            assert [op.state for op in s.execute(select(OutboxOp)).scalars()] == ["sent"]
        assert individual not in [x.number for x in desk.review.queue(reviewer)]
        agent.stop()
        source.close()
        desk.close()
        intake.close()


def audit_payloads(desk: Desk, action: str) -> list[tuple[str, dict[str, object]]]:
    with desk.db.read() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.payload).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).all()
    return [(actor, json.loads(payload)) for actor, payload in rows]


def test_approving_past_an_open_error_asks_first_and_records_who_overrode_which(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    enterprise, _individual = pool

    async def script(pilot: Pilot[None]) -> None:
        screen = await open_next(pilot)
        assert screen.lease.number == enterprise
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
        shown = screen_text(pilot)
        assert "未解决的错误" in shown and "open error" in shown
        assert "申请人名称与营业执照不一致" in shown
        await pilot.press("enter")  # Enter alone does not pass over an error
        await pilot.pause()
        assert isinstance(pilot.app.screen, ApproveModal)
        await pilot.press("n")
        await settle(pilot)
        assert desk.review.decisions(enterprise) == []
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
        await pilot.press("y")
        await settle(pilot)
        assert [(d.kind, d.outcome) for d in desk.review.decisions(enterprise)] == [("approve", "applied")]

    run_app(desk, script, actor=reviewer, mode="review")
    [(who, payload)] = audit_payloads(desk, "review.approve")
    assert who == "rev1"
    assert payload["overridden_findings"] == [{"rule": "name_matches", "message": "申请人名称与营业执照不一致"}]


def test_an_approval_without_open_errors_records_no_override(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    _enterprise, individual = pool

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)  # the enterprise one (R15); the individual one, without errors, is taken next
        screen = dossier_screen(pilot)
        screen._switch_to(desk.review.claim_next(reviewer) or screen.lease)
        await wait_until(pilot, lambda: screen.detail is not None and screen.lease.number == individual)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveModal))
        assert "open error" not in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)

    run_app(desk, script, actor=reviewer, mode="review")
    [(_who, payload)] = audit_payloads(desk, "review.approve")
    assert "overridden_findings" not in payload


def test_the_reviewer_sees_which_values_a_person_typed(desk: Desk, reviewer: Actor, pool: tuple[str, str]) -> None:
    enterprise, _individual = pool
    clerk_id = desk.users.actor("clerk1").user_id
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == enterprise)).scalar_one()
        session.execute(
            update(Field)
            .where(Field.dossier_id == dossier_id, Field.key == "org_name")
            .values(source="clerk", confirmed_by=clerk_id, confidence=1.0)
        )

    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        await pilot.press("4")
        await pilot.pause()
        rows = table_rows(pilot, "#fields")
        assert ["名称", "济南泉城商贸有限公司", "—", "✓", "1", "窗口录入 clerk · clerk1"] in rows
        assert not any(row[0] in ("org_name", "uscc") for row in rows)

    run_app(desk, script, actor=reviewer, mode="review")


LONG_NOTE = "税费缴纳凭证缺少税务机关印章及纳税人签字请补充盖章签字后重新提交此件原件"


def test_return_items_read_ticked_or_not_without_colour_and_wrap_whole(
    desk: Desk, reviewer: Actor, pool: tuple[str, str]
) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await open_next(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReturnModal))
        items = pilot.app.screen.query_one("#return-items", SelectionList)
        items.deselect(1)
        await pilot.click("#return-add")
        await pilot.press(*f"M12 unsigned {LONG_NOTE}", "enter")
        await pilot.pause()
        shown = screen_text(pilot)
        assert "[x] 不符合法定形式 统一社会信用代码 USCC" in shown
        assert "[ ] 前后不一致 name_matches" in shown
        assert "[x] 未签字或未盖章 M12" in shown
        # The long note wraps onto the next lines, never cut: its end is on screen.
        assert LONG_NOTE[:10] in shown and LONG_NOTE[-6:] in shown

    run_app(desk, script, actor=reviewer, mode="review")


def test_the_demo_gives_its_reviewer_submitted_dossiers_to_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_desk(tmp_path, monkeypatch).close()  # an empty desk, the environment cleared
    settings = load_settings(data_dir=tmp_path, admin_password=DEMO_PASSWORD)
    seed_demo(settings)
    desk = open_desk(settings)
    monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")
    counts = desk.review.pool_counts()
    assert counts.get("online", 0) + counts.get("offline", 0) >= 2
    statuses = [d.status for d in desk.dossiers.list()]
    assert statuses.count("draft") == 1  # the window's own dossier, its scans waiting in the hot folder
    # The demo's reviewer lives at its registry; here a reviewer of this desk takes the same pool.
    reviewer = add_user(desk, "rev1", ["reviewer"], can_review_online=True, can_review_offline=True)

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f")
        await settle(pilot)
        assert len(table_rows(pilot, "#review-queue")) >= 2

    try:
        run_app(desk, script, actor=reviewer, mode="review")
    finally:
        desk.close()
