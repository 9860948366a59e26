"""Online applications from partner platforms (网上申请, 网上预审; R13), end to end on a registry on loopback.

One registry serves the module: a bank with a callback and a portal without one file 50 applications over HTTP
(the replay OCR engine reads their pages), some of them bad; registry people pre-review what was read; the
outcomes reach the partners. Each test then checks one thing of that day; the last ones, later that day, answer
returned applications with supplements (补正) and check what follows.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfWriter
from sqlalchemy import func, select

from ocr.engines.base import Line
from ocr.engines.replay import save
from sync.protocol import PERSON_HEADER
from sync.server.open import open_registry
from sync.server.partner import attach_partners
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from tests.replay_pages import make_page, reading_key
from tests.sync_helpers import PERSON_PASSWORD, provision
from workstation.cli import main
from workstation.config import load_settings
from workstation.store.models import Dossier, Field, Page, PartnerApplication, PartnerEvent, PartnerSupplement
from workstation.store.types import set_clock, utcnow

BANK_USCC = "91370100MA3C8Q1X2K"
BANK = "中国工商银行股份有限公司济南分行"
# What each material's page says (its title first): the replay engine plays these back for the page's pixels.
READINGS = {
    "M01": ["不动产登记申请书", "申请人 中国工商银行股份有限公司济南分行", "登记原因 抵押权消灭"],
    "M02": ["不动产登记询问笔录", "被询问人 李明", "是否为申请人的真实意思表示 是"],
    "M09": ["不动产登记证明", "鲁(2025)济南市不动产证明第0012345号", "证明权利或事项 抵押权"],
    "M21": ["解除抵押证明", "贷款已全部还清 同意注销抵押登记"],
    "M05": ["营业执照", f"统一社会信用代码 {BANK_USCC}", f"名称 {BANK}", "法定代表人 王强"],
    "M06": ["法定代表人身份证明书", "兹证明 王强 系我单位法定代表人"],
    "M07": ["授权委托书", f"委托人 {BANK}", "受托人 李明"],
}
COMPLETE = tuple(READINGS)
INCOMPLETE = ("M01", "M09", "M05", "M06", "M07")  # no 询问笔录 (M02), no 抵押权消灭材料 (M21)
GOOD = 40  # of the 50: read, then 20 accepted, 19 returned, 1 refused
ACCEPTED = 20
OVERDUE = 2  # received 30 hours ago: past the 24-hour pre-review deadline


@dataclass
class Receiver:
    """A partner's callback on loopback: the first try of some events is answered 503, every later one 200."""

    fail_first: set[str]  # references whose events fail once
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any]) -> int:
        with self.lock:
            tried = any(c["event_id"] == body["event_id"] for c in self.calls)
            status = 503 if body["reference"] in self.fail_first and not tried else 200
            self.calls.append({**body, "status": status})
            return status

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["status"] == 200]


def serve_receiver(receiver: Receiver) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = receiver.answer(body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/outcomes"


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def attachment(name: str, data: bytes, media_type: str = "image/png", material: str | None = None) -> dict[str, Any]:
    return {"name": name, "media_type": media_type, "data_base64": encode(data), "material": material}


def application(reference: str, pages: dict[str, bytes], materials: tuple[str, ...], **changes: Any) -> dict[str, Any]:
    """A bank's 抵押权注销 application; the licence (M05) comes without its material: OCR places it."""
    body = {
        "reference": reference,
        "business": "MORT_CANCEL",
        "applicant_kind": "enterprise",
        "conditions": [],
        "parties": [{"role": "mortgagee", "kind": "enterprise", "name": BANK, "id_value": BANK_USCC}],
        "fields": {"unit_number": "370102001001GB00001F00010001"},
        "attachments": [attachment(f"{m}.png", pages[m], material=None if m == "M05" else m) for m in materials],
    }
    body.update(changes)
    return body


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("", "owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def wait_until(what: str, done: Callable[[], bool], seconds: float = 120.0) -> None:
    """Poll until `done` (the work happens on the registry's threads); a generous bound, never a speed claim."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


@dataclass
class Day:
    registry: Registry
    url: str
    root: Path
    bank: httpx.Client
    portal: httpx.Client
    station_token: str
    prereviewer: httpx.Client  # a station's client with a pre-reviewer's person token
    receiver: Receiver
    pages: dict[str, bytes]  # material → a page of it, as a PNG
    good: dict[str, str] = field(default_factory=dict)  # reference → the partner that filed it (bank | portal)
    bad: dict[str, httpx.Response] = field(default_factory=dict)  # what each bad application was answered
    filed: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference → the 201 answer
    replay: httpx.Response | None = None
    waiting: list[dict[str, Any]] = field(default_factory=list)  # the pre-review list once everything was read
    decided: dict[str, httpx.Response] = field(default_factory=dict)  # reference → the decision's answer
    refused_accept: httpx.Response | None = None  # an incomplete application someone tried to accept


def person_client(url: str, station_token: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {station_token}"}, timeout=60)
    login = client.post("/v1/auth/login", json={"username": username, "password": PERSON_PASSWORD})
    assert login.status_code == 200, login.text
    client.headers[PERSON_HEADER] = login.json()["token"]
    return client


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    root = tmp_path_factory.mktemp("partners")
    pages: dict[str, bytes] = {}
    recordings = {}
    for seed, (material, texts) in enumerate(READINGS.items()):
        path = make_page(root / "pages" / f"{material}.png", 700 + seed, size=(420, 594))
        pages[material] = path.read_bytes()
        recordings[reading_key(path)] = [
            Line(text, (60, 60 + 50 * i, 560, 95 + 50 * i), 0.98) for i, text in enumerate(texts)
        ]
    save(recordings, root / "readings.json")
    settings = load_settings(
        data_dir=root / "city", admin_password="admin-pass-1", ocr_engine=f"replay:{root / 'readings.json'}"
    )
    registry = open_registry(settings)
    attach_partners(registry, settings, retry_seconds=0.05, retry_cap_seconds=0.3, tick_seconds=0.1, idle_seconds=0.3)
    server = BackgroundServer(registry).start()
    url = server.url
    receiver = Receiver(fail_first={f"B-{n:03d}" for n in range(0, GOOD, 3) if n % 4 != 3})
    callbacks, callback_url = serve_receiver(receiver)
    bank_token = registry.add_partner("BANK-ICBC", "工商银行济南分行", "bank", callback_url)
    portal_token = registry.add_partner("JN-PORTAL", "一网通办", "portal")
    station_token = registry.add_station("JN-PRE", "预审")
    for name, roles in (("pre1", ("reviewer",)), ("rev1", ("reviewer",)), ("qc1", ("qc",))):
        provision(registry, name, roles)
    d = Day(
        registry=registry,
        url=url,
        root=root,
        bank=httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bank_token}"}, timeout=60),
        portal=httpx.Client(base_url=url, headers={"Authorization": f"Bearer {portal_token}"}, timeout=60),
        station_token=station_token,
        prereviewer=person_client(url, station_token, "pre1"),
        receiver=receiver,
        pages=pages,
    )
    try:
        file_the_day(d)
        prereview_the_day(d)
        yield d
    finally:
        for client in (d.bank, d.portal, d.prereviewer):
            client.close()
        server.stop()
        callbacks.shutdown()
        registry.db.dispose()


def file_the_day(d: Day) -> None:
    """40 good applications (the first two filed 30 hours ago) and 10 bad ones, over HTTP."""
    pages = d.pages
    png = pages["M01"]
    for n in range(GOOD):
        portal = n % 4 == 3
        reference = f"{'P' if portal else 'B'}-{n:03d}"
        materials = COMPLETE if n % 2 == 0 else INCOMPLETE
        if n < OVERDUE:
            earlier = utcnow() - timedelta(hours=30)
            set_clock(lambda earlier=earlier: earlier)
        try:
            answer = (d.portal if portal else d.bank).post(
                "/v1/partner/applications", json=application(reference, pages, materials)
            )
        finally:
            set_clock(None)
        assert answer.status_code == 201, answer.text
        d.filed[reference] = answer.json()
        d.good[reference] = "portal" if portal else "bank"
    d.replay = d.bank.post("/v1/partner/applications", json=application("B-000", pages, COMPLETE))
    bad = {
        "X-corrupt": application("X-corrupt", pages, COMPLETE)
        | {"attachments": [attachment("licence.png", png[: len(png) // 2])]},
        "X-empty": application("X-empty", pages, COMPLETE) | {"attachments": [attachment("blank-scan.png", b"")]},
        "X-encrypted": application("X-encrypted", pages, COMPLETE)
        | {"attachments": [attachment("contract.pdf", encrypted_pdf(), "application/pdf")]},
        "X-media-type": application("X-media-type", pages, COMPLETE)
        | {"attachments": [attachment("form.pdf", png, "application/pdf")]},
        "X-many-pages": application("X-many-pages", pages, COMPLETE)
        | {"attachments": [attachment("bundle.pdf", blank_pdf(51), "application/pdf")]},
        "X-material": application("X-material", pages, COMPLETE)
        | {"attachments": [attachment("contract.png", png, material="M11")]},
        "X-business": application("X-business", pages, COMPLETE, business="NO_SUCH_BUSINESS"),
        "X-condition": application("X-condition", pages, COMPLETE, conditions=["marital_joint"]),
        "X-id-number": application(
            "X-id-number",
            pages,
            COMPLETE,
            parties=[{"role": "mortgagee", "kind": "enterprise", "name": BANK, "id_value": BANK_USCC[:-1] + "3"}],
        ),
        # B-001 again, with other materials: a different application under a used reference
        "B-001": application("B-001", pages, COMPLETE),
    }
    for reference, body in bad.items():
        d.bad[reference] = d.bank.post("/v1/partner/applications", json=body)
    assert len(d.good) + len(d.bad) == 50


def prereview_the_day(d: Day) -> None:
    """Once everything is read: the complete ones accepted, the incomplete ones returned (one refused)."""

    def read() -> bool:
        answer = d.prereviewer.get("/v1/prereview")
        assert answer.status_code == 200, answer.text
        d.waiting = answer.json()["applications"]
        return len(d.waiting) == GOOD

    wait_until("every good application read and waiting for pre-review", read)
    by_reference = {w["reference"]: w for w in d.waiting}
    incomplete = sorted(r for r, w in by_reference.items() if w["missing"])
    d.refused_accept = d.prereviewer.post(f"/v1/prereview/{by_reference[incomplete[0]]['number']}/accept", json={})
    for reference, w in sorted(by_reference.items()):
        number = w["number"]
        if not w["missing"]:
            d.decided[reference] = d.prereviewer.post(f"/v1/prereview/{number}/accept", json={"note": "网上预审通过"})
        elif reference == incomplete[-1]:
            d.decided[reference] = d.prereviewer.post(
                f"/v1/prereview/{number}/refuse", json={"reason_code": "out_of_jurisdiction"}
            )
        else:
            d.decided[reference] = d.prereviewer.post(
                f"/v1/prereview/{number}/return", json={"items": ["申请书未加盖公章"], "note": "请一次补齐"}
            )
    bank_outcomes = sum(1 for r in d.decided if d.good[r] == "bank")
    wait_until("every bank outcome delivered", lambda: len(d.receiver.delivered()) >= bank_outcomes)


def count(d: Day, query: Any) -> int:
    with d.registry.db.read() as session:
        return int(session.execute(query).scalar_one())


# -- intake -------------------------------------------------------------------------------------------------------


def test_bad_applications_are_refused_with_their_code_and_leave_nothing_behind(day: Day) -> None:
    answers = {ref: (r.status_code, r.json()["code"], r.json()["message"]) for ref, r in day.bad.items()}
    for ref in ("X-corrupt", "X-empty", "X-encrypted", "X-media-type", "X-many-pages", "X-material"):
        assert answers[ref][:2] == (422, "bad_attachment"), answers[ref]
    assert "licence.png" in answers["X-corrupt"][2] and "truncated" in answers["X-corrupt"][2]
    assert "blank-scan.png" in answers["X-empty"][2] and "empty" in answers["X-empty"][2]
    assert "contract.pdf" in answers["X-encrypted"][2] and "encrypted" in answers["X-encrypted"][2]
    assert "form.pdf" in answers["X-media-type"][2] and "image/png" in answers["X-media-type"][2]
    assert "51 pages" in answers["X-many-pages"][2]
    assert "M11" in answers["X-material"][2]
    assert answers["X-business"][:2] == (422, "invalid") and "NO_SUCH_BUSINESS" in answers["X-business"][2]
    assert answers["X-condition"][:2] == (422, "invalid") and "marital_joint" in answers["X-condition"][2]
    assert answers["X-id-number"][:2] == (422, "invalid") and "parties[1]" in answers["X-id-number"][2]
    assert answers["B-001"][:2] == (409, "duplicate_reference")
    assert all("\n" not in message for _status, _code, message in answers.values())
    filed = count(day, select(func.count()).select_from(PartnerApplication))
    assert filed - count(day, select(func.count()).where(PartnerApplication.reference == "B-CLI")) == GOOD
    assert count(day, select(func.count()).select_from(Dossier).where(Dossier.channel == "online")) == filed
    assert count(day, select(func.count()).where(PartnerApplication.reference.like("X-%"))) == 0


def test_the_same_application_twice_is_one_dossier(day: Day) -> None:
    assert day.replay is not None and day.replay.status_code == 200, day.replay.text if day.replay else None
    again = day.replay.json()
    assert again["created"] is False and again["number"] == day.filed["B-000"]["number"]
    assert count(day, select(func.count()).where(PartnerApplication.reference == "B-000")) == 1
    assert again["number"].startswith("BANK-ICBC-") and again["number"].endswith("-000001")
    assert {a["number"].rsplit("-", 2)[0] for a in day.filed.values()} == {"BANK-ICBC", "JN-PORTAL"}


def test_a_station_token_does_not_open_the_partner_routes_nor_a_partner_token_the_station_routes(day: Day) -> None:
    station = httpx.get(
        f"{day.url}/v1/partner/applications/B-000", headers={"Authorization": f"Bearer {day.station_token}"}
    )
    assert station.status_code == 403 and station.json()["code"] == "not_allowed"
    assert "station" in station.json()["message"]
    nobody = httpx.get(f"{day.url}/v1/partner/events")
    assert nobody.status_code == 401 and nobody.json()["code"] == "auth_missing"
    partner = day.bank.get("/v1/changes")
    assert partner.status_code == 401 and partner.json()["code"] == "auth_invalid"
    other = day.portal.get("/v1/partner/applications/B-000")  # the bank's application, asked for by the portal
    assert other.status_code == 404


# -- reading and pre-review ---------------------------------------------------------------------------------------


def test_read_applications_wait_for_prereview_overdue_first_with_their_gaps_and_findings(day: Day) -> None:
    waiting = day.waiting
    assert [w["reference"] for w in waiting[:OVERDUE]] == ["B-000", "B-001"]
    assert [w["overdue"] for w in waiting] == [True] * OVERDUE + [False] * (GOOD - OVERDUE)
    assert all(w["pages"] == len(COMPLETE if int(w["reference"][2:]) % 2 == 0 else INCOMPLETE) for w in waiting)
    assert all(w["pages_unread"] == 0 for w in waiting)
    gaps = {w["reference"]: sorted(m["material"] for m in w["missing"]) for w in waiting}
    assert {ref: gap for ref, gap in gaps.items() if gap} == {
        f"{'P' if n % 4 == 3 else 'B'}-{n:03d}": ["M02", "M21"] for n in range(1, GOOD, 2)
    }
    assert all(isinstance(w["findings"], list) for w in waiting)
    assert waiting[0]["declared"] == {"unit_number": "370102001001GB00001F00010001"}
    assert waiting[0]["parties"][0]["id_value"] != BANK_USCC  # masked


def test_accepting_needs_a_complete_checklist_and_a_return_lists_everything_missing(day: Day) -> None:
    assert day.refused_accept is not None and day.refused_accept.status_code == 409
    assert day.refused_accept.json()["code"] == "incomplete"
    outcomes = Counter(r.json()["outcome"] for r in day.decided.values())
    assert outcomes == {"accepted": ACCEPTED, "returned": GOOD - ACCEPTED - 1, "refused": 1}
    returned = next(r.json() for r in day.decided.values() if r.json()["outcome"] == "returned")
    assert [(i["material"], i["source"]) for i in returned["items"]] == [
        ("M02", "checklist"),
        ("M21", "checklist"),
        (None, "prereview"),
    ]
    assert returned["items"][-1]["text"] == "申请书未加盖公章"
    again = day.prereviewer.post(f"/v1/prereview/{returned['number']}/accept", json={})
    assert again.status_code == 409 and again.json()["code"] == "already_done"
    with day.registry.db.read() as session:
        states = Counter(
            session.execute(
                select(Dossier.stage, Dossier.status).where(
                    Dossier.number.in_([r.json()["number"] for r in day.decided.values()])
                )
            ).all()
        )
    assert states == {
        ("REVIEW", "submitted"): ACCEPTED,
        ("ACCEPT", "draft"): GOOD - ACCEPTED - 1,
        ("ACCEPT", "refused"): 1,
    }


def test_prereview_is_for_people_who_may_decide_reviews(day: Day) -> None:
    inspector = person_client(day.url, day.station_token, "qc1")
    try:
        answer = inspector.get("/v1/prereview")
        assert answer.status_code == 403 and answer.json()["code"] == "not_allowed"
    finally:
        inspector.close()
    anonymous = httpx.get(f"{day.url}/v1/prereview", headers={"Authorization": f"Bearer {day.station_token}"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "person_missing"


def test_accepted_dossiers_are_claimed_from_the_review_pool_as_digitised_with_their_reading(day: Day) -> None:
    accepted = {r.json()["number"] for r in day.decided.values() if r.json()["outcome"] == "accepted"}
    reviewer = person_client(day.url, day.station_token, "rev1")
    try:
        claim = reviewer.post("/v1/review/claim", json={"held": []})
        assert claim.status_code == 200, claim.text
        lease = claim.json()["lease"]
        assert lease["number"] in accepted
        manifest = claim.json()["dossier"]
        assert manifest["digitized"] is True and manifest["channel"] == "online"
        assert any(f["key"] == "uscc" and f["value"] == BANK_USCC for f in manifest["fields"])
        reviewer.post("/v1/review/release", json={"lease_id": lease["lease_id"]})
    finally:
        reviewer.close()
    with day.registry.db.read() as session:
        read = session.execute(
            select(func.count(func.distinct(Field.dossier_id)))
            .join(Dossier, Dossier.id == Field.dossier_id)
            .where(Dossier.number.in_(accepted), Field.key == "uscc")
        ).scalar_one()
    assert read == ACCEPTED


# -- outcomes to partners -----------------------------------------------------------------------------------------


def test_each_outcome_reaches_the_bank_callback_exactly_once(day: Day) -> None:
    bank = {r: resp.json()["outcome"] for r, resp in day.decided.items() if day.good[r] == "bank"}
    delivered = [c for c in day.receiver.delivered() if c["reference"] in day.decided]
    assert Counter((c["reference"], c["outcome"]) for c in delivered) == Counter(bank.items())
    assert len({c["event_id"] for c in delivered}) == len(delivered)
    retried = {c["reference"] for c in day.receiver.calls if c["status"] == 503}
    assert retried == day.receiver.fail_first
    assert count(day, select(func.count()).where(PartnerEvent.delivery == "pending")) == 0
    first = delivered[0]
    assert first["application"]["reference"] == first["reference"] and first["application"]["notices"]


def test_a_partner_without_a_callback_reads_its_outcomes_from_its_feed(day: Day) -> None:
    portal = {r for r, who in day.good.items() if who == "portal"}
    feed = day.portal.get("/v1/partner/events", params={"after": 0})
    assert feed.status_code == 200
    events = feed.json()["events"]
    assert {e["reference"] for e in events} == portal and len(events) == len(portal)
    later = day.portal.get("/v1/partner/events", params={"after": feed.json()["cursor"]}).json()
    assert later["events"] == [] and later["cursor"] == feed.json()["cursor"]


def test_each_outcome_has_its_notice_as_a_pdf(day: Day) -> None:
    titles = {"receipt": "受理凭证", "supplement": "补正材料通知书", "refuse-intake": "不予受理告知书"}
    shown = {}
    for outcome in ("accepted", "returned", "refused"):
        reference = next(r for r, a in day.decided.items() if a.json()["outcome"] == outcome)
        client = day.bank if day.good[reference] == "bank" else day.portal
        status = client.get(f"/v1/partner/applications/{reference}").json()
        [link] = status["notices"]
        pdf = client.get(link["url"])
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        assert client.get(link["url"]).content == pdf.content  # rendered once, kept
        shown[link["kind"]] = pdf.content
        other = "supplement" if outcome == "accepted" else "receipt"
        assert client.get(f"/v1/partner/applications/{reference}/notices/{other}").status_code == 404
    assert set(shown) == set(titles)
    if shutil.which("pdftotext") is None:
        return
    for kind, pdf in shown.items():
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        assert titles[kind] in text
        if kind == "supplement":
            assert "询问笔录" in text and "申请书未加盖公章" in text


# -- the operator's and the pre-reviewer's commands ---------------------------------------------------------------


def test_the_registry_commands_provision_partners_and_list_what_waits(
    day: Day, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(day.root / "city")
    monkeypatch.setenv("WS_PASSWORD", PERSON_PASSWORD)
    assert main(["--data-dir", data, "registry", "partner", "add", "NOTARY-JN1", "--kind", "notary", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert token.startswith("wse_")
    assert main(["--data-dir", data, "registry", "partner", "add", "NOTARY-JN1", "--kind", "notary"]) == 2
    assert "already has a token" in capsys.readouterr().err
    assert main(["--data-dir", data, "registry", "partner", "add", "JN-PRE", "--kind", "bank"]) == 2
    assert "station's id" in capsys.readouterr().err
    assert main(["--data-dir", data, "registry", "partner", "revoke", "NOTARY-JN1"]) == 0
    assert main(["--data-dir", data, "registry", "partner", "list", "--json"]) == 0
    listed = {p["id"]: p["revoked"] for p in json.loads(capsys.readouterr().out.splitlines()[-1])}
    assert listed == {"BANK-ICBC": False, "JN-PORTAL": False, "NOTARY-JN1": True}
    revoked = httpx.get(f"{day.url}/v1/partner/events", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and revoked.json()["code"] == "auth_revoked"
    assert main(["--data-dir", data, "--as", "pre1", "registry", "prereview", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # everything was decided
    assert main(["--data-dir", data, "--as", "qc1", "registry", "prereview", "list"]) == 2
    assert "may not review_decide" in capsys.readouterr().err
    # One more, decided at the command line: the serving registry delivers what the command decided.
    filed = day.bank.post("/v1/partner/applications", json=application("B-CLI", day.pages, COMPLETE))
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    wait_until("B-CLI read", lambda: day.bank.get("/v1/partner/applications/B-CLI").json()["status"] == "pre_review")
    assert main(["--data-dir", data, "--as", "pre1", "registry", "prereview", "list"]) == 0
    assert number in capsys.readouterr().out
    assert main(["--data-dir", data, "--as", "pre1", "registry", "prereview", "accept", number, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "accepted"
    wait_until("B-CLI's outcome delivered", lambda: any(c["reference"] == "B-CLI" for c in day.receiver.delivered()))


# -- 补正: partners answer returns ----------------------------------------------------------------------------------
# Later that day, so after the tests above, which check the day's first outcomes: these change some of them.


@dataclass
class Answered:
    """Two of the bank's returned applications (both lacking M02 and M21), answered by supplements."""

    complete: str  # answered with everything missing: read again and accepted
    partial: str  # answered with M02 only: read again and returned again
    body: dict[str, Any]  # the complete one's supplement
    calls_before: int  # the bank callback's calls before any supplement
    first_notice: bytes  # the partial one's first 补正 notice
    first: httpx.Response
    retry: httpx.Response  # the same supplement at once again
    waiting: dict[str, dict[str, Any]]  # reference → its pre-review entry once read again
    accepted: httpx.Response
    returned: httpx.Response
    late_retry: httpx.Response  # the same supplement once more, after the acceptance


def supplement_path(reference: str) -> str:
    return f"/v1/partner/applications/{reference}/supplement"


@pytest.fixture(scope="module")
def answered(day: Day) -> Answered:
    complete, partial = "B-009", "B-013"  # the callback fails the first try of each of B-009's events
    assert {day.decided[r].json()["outcome"] for r in (complete, partial)} == {"returned"}
    calls_before = len(day.receiver.calls)
    first_notice = day.bank.get(f"/v1/partner/applications/{partial}/notices/supplement").content
    body = {
        # the 询问笔录 declared; the 解除抵押证明 not: OCR places it, as it placed the licence at filing
        "attachments": [
            attachment("询问笔录.png", day.pages["M02"], material="M02"),
            attachment("解除抵押证明.png", day.pages["M21"]),
        ],
        "note": "已补齐询问笔录和解除抵押证明",
        "fields": {"loan_contract": "JN-2025-0778"},
    }
    first = day.bank.post(supplement_path(complete), json=body)
    retry = day.bank.post(supplement_path(complete), json=body)
    answer = day.bank.post(
        supplement_path(partial), json={"attachments": [attachment("询问笔录.png", day.pages["M02"], material="M02")]}
    )
    assert answer.status_code == 200, answer.text
    waiting: dict[str, dict[str, Any]] = {}

    def read() -> bool:
        listed = day.prereviewer.get("/v1/prereview").json()["applications"]
        waiting.update({w["reference"]: w for w in listed if w["reference"] in (complete, partial)})
        return len(waiting) == 2

    wait_until("both supplemented applications read again", read)
    accepted = day.prereviewer.post(f"/v1/prereview/{waiting[complete]['number']}/accept", json={"note": "补正齐全"})
    returned = day.prereviewer.post(
        f"/v1/prereview/{waiting[partial]['number']}/return", json={"note": "仍缺抵押权消灭材料"}
    )
    late_retry = day.bank.post(supplement_path(complete), json=body)

    def told() -> bool:
        later = [c for c in day.receiver.calls[calls_before:] if c["status"] == 200]
        return {(c["reference"], c["outcome"]) for c in later} >= {(complete, "accepted"), (partial, "returned")}

    wait_until("both second outcomes delivered", told)
    return Answered(
        complete, partial, body, calls_before, first_notice, first, retry, waiting, accepted, returned, late_retry
    )


def test_a_returned_application_answered_with_what_it_lacked_is_read_again_and_accepted_under_its_number(
    day: Day, answered: Answered
) -> None:
    assert answered.first.status_code == 200, answered.first.text
    taken = answered.first.json()
    number = day.filed[answered.complete]["number"]
    assert taken["round"] == 2 and [(f["name"], f["pages"]) for f in taken["files"]] == [
        ("询问笔录.png", 1),
        ("解除抵押证明.png", 1),
    ]
    assert taken["application"]["number"] == number and taken["application"]["status"] == "reading"
    assert taken["application"]["outcome"] is None and taken["application"]["notices"] == []
    [earlier] = taken["application"]["history"]  # the return it answered, kept
    assert earlier["round"] == 1 and [i["material"] for i in earlier["items"]] == ["M02", "M21", None]
    assert earlier["supplement_note"] == answered.body["note"]
    again = answered.waiting[answered.complete]
    assert again["round"] == 2 and again["missing"] == [] and again["pages"] == len(INCOMPLETE) + 2
    assert again["declared"]["loan_contract"] == "JN-2025-0778" and "unit_number" in again["declared"]
    assert again["due_at"] > day.filed[answered.complete]["due_at"]  # due in full again
    assert answered.accepted.status_code == 200, answered.accepted.text
    assert answered.accepted.json()["outcome"] == "accepted" and answered.accepted.json()["number"] == number
    with day.registry.db.read() as session:
        dossiers = session.execute(select(Dossier.stage, Dossier.status).where(Dossier.number == number)).all()
    assert dossiers == [("REVIEW", "submitted")]


def test_the_acceptance_after_a_supplement_reaches_the_callback_exactly_once_and_the_return_is_not_resent(
    day: Day, answered: Answered
) -> None:
    calls = [c for c in day.receiver.calls if c["reference"] == answered.complete]
    [returned_id] = {c["event_id"] for c in calls[: answered.calls_before] if c["outcome"] == "returned"}
    later = [c for c in day.receiver.calls[answered.calls_before :] if c["reference"] == answered.complete]
    assert returned_id not in {c["event_id"] for c in later}
    assert [(c["outcome"], c["round"], c["status"]) for c in later] == [("accepted", 2, 503), ("accepted", 2, 200)]
    assert len({c["event_id"] for c in later}) == 1  # the retry after the 503 is the same event
    feed = day.bank.get("/v1/partner/events", params={"after": 0}).json()["events"]
    assert [(e["outcome"], e["round"]) for e in feed if e["reference"] == answered.complete] == [
        ("returned", 1),
        ("accepted", 2),
    ]


def test_a_second_return_after_a_supplement_is_a_new_event_with_a_new_notice(day: Day, answered: Answered) -> None:
    assert answered.returned.status_code == 200, answered.returned.text
    second = answered.returned.json()
    assert second["round"] == 2 and [i["material"] for i in second["items"]] == ["M21"]
    assert [i["material"] for i in second["history"][0]["items"]] == ["M02", "M21", None]
    told = [(c["outcome"], c["round"]) for c in day.receiver.delivered() if c["reference"] == answered.partial]
    assert told == [("returned", 1), ("returned", 2)]
    notice = day.bank.get(f"/v1/partner/applications/{answered.partial}/notices/supplement")
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF")
    assert notice.content != answered.first_notice
    if shutil.which("pdftotext") is None:
        return
    text = subprocess.run(["pdftotext", "-", "-"], input=notice.content, capture_output=True, check=True).stdout
    assert "抵押权消灭材料" in text.decode() and "询问笔录" not in text.decode()


def test_a_retry_of_the_same_supplement_is_answered_the_same_and_applied_once(day: Day, answered: Answered) -> None:
    for retry in (answered.retry, answered.late_retry):
        assert retry.status_code == 200, retry.text
        assert retry.json() == answered.first.json()
    number = day.filed[answered.complete]["number"]
    with day.registry.db.read() as session:
        app = session.execute(
            select(PartnerApplication).where(PartnerApplication.reference == answered.complete)
        ).scalar_one()
        supplements = session.execute(
            select(func.count()).select_from(PartnerSupplement).where(PartnerSupplement.application_id == app.id)
        ).scalar_one()
        pages = session.execute(
            select(func.count()).select_from(Page).join(Dossier).where(Dossier.number == number)
        ).scalar_one()
        events = session.execute(select(func.count()).where(PartnerEvent.application_id == app.id)).scalar_one()
    assert (supplements, pages, events) == (1, len(INCOMPLETE) + 2, 2)


def test_a_supplement_with_a_bad_attachment_is_refused_and_changes_nothing(day: Day) -> None:
    reference = "B-017"  # returned, never supplemented
    before = day.bank.get(f"/v1/partner/applications/{reference}").json()
    png = day.pages["M02"]
    for attachments, named in (
        ([attachment("询问笔录.png", png), attachment("解除抵押证明.png", png[: len(png) // 2])], "解除抵押证明.png"),
        ([attachment("申请书.png", day.pages["M01"])], "sent before"),  # a file the application holds already
        ([attachment("询问笔录.pdf", png, "application/pdf")], "询问笔录.pdf"),
    ):
        refused = day.bank.post(supplement_path(reference), json={"attachments": attachments})
        assert refused.status_code == 422 and refused.json()["code"] == "bad_attachment", refused.text
        assert named in refused.json()["message"]
    assert day.bank.get(f"/v1/partner/applications/{reference}").json() == before
    with day.registry.db.read() as session:
        pages = session.execute(
            select(func.count()).select_from(Page).join(Dossier).where(Dossier.number == before["number"])
        ).scalar_one()
        supplements = session.execute(
            select(func.count())
            .select_from(PartnerSupplement)
            .join(PartnerApplication)
            .where(PartnerApplication.reference == reference)
        ).scalar_one()
    assert (before["status"], pages, supplements) == ("returned", len(INCOMPLETE), 0)


def test_a_supplement_is_only_for_a_returned_application_of_the_partners_own(day: Day) -> None:
    body = {"attachments": [attachment("询问笔录.png", day.pages["M02"], material="M02")]}
    accepted = day.bank.post(supplement_path("B-000"), json=body)
    assert accepted.status_code == 409 and accepted.json()["code"] == "not_returned", accepted.text
    assert "B-000" in accepted.json()["message"] and "accepted" in accepted.json()["message"]
    refused = day.portal.post(supplement_path("P-039"), json=body)
    assert refused.status_code == 409 and refused.json()["code"] == "not_returned"
    assert day.bank.post(supplement_path("B-404"), json=body).status_code == 404
    assert day.portal.post(supplement_path("B-017"), json=body).status_code == 404  # the bank's
    assert day.bank.get("/v1/partner/applications/B-000").json()["round"] == 1
