"""The partner API's pure parts: the wire models, the application digest, names and codes of refusals."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from sync.partner_protocol import APPLICATIONS_PATH, MAX_APPLICATION_BYTES, ApplicationIn, SupplementIn
from sync.server.app import body_limit_of
from sync.server.partner import PartnerApiError, event_out, refusals
from workstation.domain.errors import MissingMaterials
from workstation.services import partner
from workstation.services.partner import Attachment, BadAttachment, PartyIn, decode_attachment

PARTY = PartyIn("mortgagee", "enterprise", "中国工商银行股份有限公司济南分行", "91370100MA3C8Q1X2K")


def wire(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "reference": "ICBC-2026-0001",
        "business": "MORT_CANCEL",
        "applicant_kind": "enterprise",
        "parties": [{"role": "mortgagee", "kind": "enterprise", "name": "工商银行"}],
        "attachments": [{"name": "a.png", "media_type": "image/png", "data_base64": "AAAA"}],
    }
    body.update(changes)
    return body


def application(data: bytes = b"page", material: str | None = "M01") -> partner.ApplicationIn:
    return partner.ApplicationIn(
        reference="R-1",
        business="MORT_CANCEL",
        applicant_kind="enterprise",
        conditions=(),
        parties=(PARTY,),
        attachments=(Attachment("form.png", "image/png", data, material),),
    )


def test_the_same_application_has_the_same_digest_and_any_change_another() -> None:
    assert application().digest() == application().digest()
    assert application(b"page!").digest() != application().digest()
    assert application(material=None).digest() != application().digest()


def test_an_application_takes_no_field_it_does_not_know_and_no_loose_types() -> None:
    assert ApplicationIn.model_validate(wire()).reference == "ICBC-2026-0001"
    for bad in (
        wire(stage="REVIEW"),
        wire(reference="has space"),
        wire(reference="x" * 65),
        wire(parties=[]),
        wire(attachments=[]),
        wire(applicant_kind="company"),
        wire(conditions="marital_joint"),
        wire(attachments=[{"name": "a.png", "media_type": "image/png", "data_base64": "AAAA", "material": "X1"}]),
    ):
        with pytest.raises(ValidationError):
            ApplicationIn.model_validate(bad)


def supplement(data: bytes = b"page", note: str = "") -> partner.SupplementIn:
    return partner.SupplementIn((Attachment("interview.png", "image/png", data, "M02"),), note, {})


def test_the_same_supplement_has_the_same_digest_and_any_change_another() -> None:
    assert supplement().digest() == supplement().digest()
    assert supplement(b"page!").digest() != supplement().digest()
    assert supplement(note="补齐").digest() != supplement().digest()


def test_a_supplement_takes_attachments_and_nothing_it_does_not_know() -> None:
    attachments = [{"name": "a.png", "media_type": "image/png", "data_base64": "AAAA", "material": "M02"}]
    taken = SupplementIn.model_validate({"attachments": attachments, "note": "补齐", "fields": {"loan": "1"}})
    assert taken.note == "补齐" and taken.fields == {"loan": "1"}
    for bad in (
        {"attachments": []},
        {"attachments": attachments, "reference": "R-1"},
        {"attachments": attachments, "note": "x" * (partner.MAX_ITEM + 1)},
        {"attachments": attachments, "supplement": True},
    ):
        with pytest.raises(ValidationError):
            SupplementIn.model_validate(bad)


def test_attachment_bytes_that_are_not_base64_are_refused_naming_the_attachment() -> None:
    assert decode_attachment("a.png", base64.b64encode(b"scan").decode()) == b"scan"
    with pytest.raises(BadAttachment, match=r"^deed\.pdf: data_base64 is not valid base64$"):
        decode_attachment("../../etc/deed.pdf", "not base64!")


def test_an_attachment_name_is_its_last_part_printable_and_bounded() -> None:
    assert partner._label("C:\\scans\\合同.pdf") == "合同.pdf"
    assert partner._label("../../etc/passwd") == "passwd"
    assert partner._label("a\nb.png") == "a?b.png"
    assert partner._label("..") == "attachment"
    assert len(partner._label("x" * 500)) == 120
    assert len(partner._label("合" * 120).encode("utf-8")) <= 200


def test_a_partner_token_is_never_taken_for_a_station_or_a_person_token() -> None:
    from sync.server.registry import _TOKEN_PREFIX
    from workstation.services.people import TOKEN_PREFIX

    assert len({partner.TOKEN_PREFIX, _TOKEN_PREFIX, TOKEN_PREFIX}) == 3


def test_an_application_may_be_larger_than_any_other_json_body() -> None:
    assert body_limit_of(APPLICATIONS_PATH, "POST", 1) == MAX_APPLICATION_BYTES
    assert body_limit_of("/v1/partner/events", "GET", 1) < MAX_APPLICATION_BYTES


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (BadAttachment("a.png: empty file (0 bytes)"), 422, "bad_attachment"),
        (partner.DuplicateReference("reference R-1 was used"), 409, "duplicate_reference"),
        (partner.NotReady("still being read"), 409, "not_ready"),
        (partner.AlreadyDecided("returned already"), 409, "already_done"),
        (partner.NotReturned("R-1 is accepted, not returned"), 409, "not_returned"),
        (partner.PartnerAuthError("station", "a station's token"), 403, "not_allowed"),
        (partner.PartnerAuthError("revoked", "revoked"), 401, "auth_revoked"),
        (partner.PartnerAuthError("invalid", "unknown"), 401, "auth_invalid"),
        (MissingMaterials([]), 409, "incomplete"),
        (partner.UsageError("unknown business"), 422, "invalid"),
    ],
)
def test_each_refusal_of_the_service_is_a_4xx_with_its_code(raised: Exception, status: int, code: str) -> None:
    with pytest.raises(PartnerApiError) as caught, refusals():
        raise raised
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, str(raised))


def test_an_outcome_event_carries_the_application_with_the_link_to_its_notice() -> None:
    stored = {
        "seq": 7,
        "event_id": "01a2-event",
        "reference": "R-1",
        "outcome": "returned",
        "at": "2026-12-04T08:00:00+00:00",
        "application": {
            "id": "01a2-app",
            "partner_id": "BANK-ICBC",
            "reference": "R-1",
            "number": "BANK-ICBC-2026-000001",
            "business": "MORT_CANCEL",
            "status": "returned",
            "received_at": "2026-12-04T07:00:00+00:00",
            "due_at": "2026-12-05T07:00:00+00:00",
            "outcome": "returned",
            "items": [{"material": "M21", "party": None, "text": "M21 抵押权消灭材料", "source": "checklist"}],
            "reason": None,
            "note": "",
            "decided_at": "2026-12-04T08:00:00+00:00",
            "notice": "supplement",
        },
    }
    event = event_out(stored).model_dump(mode="json")
    assert event["event_id"] == "01a2-event" and event["seq"] == 7
    assert event["application"]["notices"] == [
        {"kind": "supplement", "url": "/v1/partner/applications/R-1/notices/supplement"}
    ]
    assert "partner_id" not in event["application"] and "id" not in event["application"]


def test_text_from_outside_is_refused_with_a_control_character_in_it() -> None:
    assert partner._printable("  工商银行\n济南分行 ", "name") == "工商银行 济南分行"
    with pytest.raises(partner.UsageError, match="parties\\[1\\]: the name has a control character"):
        partner._printable("工商\x00银行", "parties[1]: the name")


def test_an_outcome_after_a_supplement_carries_its_round_and_the_return_before() -> None:
    earlier = {
        "round": 1,
        "items": [{"material": "M21", "party": None, "text": "M21 抵押权消灭材料", "source": "checklist"}],
        "note": "",
        "returned_at": "2026-12-04T08:00:00+00:00",
        "supplemented_at": "2026-12-04T09:00:00+00:00",
        "supplement_note": "已补齐",
        "files": [{"name": "m21.png", "sha256": "ab" * 32, "pages": 1, "material": None}],
    }
    stored = {
        "seq": 9,
        "event_id": "01a3-event",
        "reference": "R-1",
        "outcome": "accepted",
        "round": 2,
        "at": "2026-12-04T10:00:00+00:00",
        "application": {
            "reference": "R-1",
            "number": "BANK-ICBC-2026-000001",
            "business": "MORT_CANCEL",
            "status": "accepted",
            "received_at": "2026-12-04T07:00:00+00:00",
            "due_at": "2026-12-05T09:00:00+00:00",
            "outcome": "accepted",
            "items": [],
            "reason": None,
            "note": "",
            "decided_at": "2026-12-04T10:00:00+00:00",
            "notice": "receipt",
            "round": 2,
            "history": [earlier],
        },
    }
    event = event_out(stored).model_dump(mode="json")
    assert event["round"] == 2 and event["application"]["round"] == 2
    assert event["application"]["history"][0]["items"][0]["material"] == "M21"
    first = {**stored, "application": {**stored["application"]}}
    del first["round"], first["application"]["round"], first["application"]["history"]  # stored before supplements
    assert event_out(first).round == 1 and event_out(first).application.history == []


def test_a_supplement_may_be_as_large_as_an_application() -> None:
    assert body_limit_of(f"{APPLICATIONS_PATH}/R-1/supplement", "POST", 1) == MAX_APPLICATION_BYTES
    assert body_limit_of(f"{APPLICATIONS_PATH}/R-1", "GET", 1) < MAX_APPLICATION_BYTES
