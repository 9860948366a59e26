"""The hot folder takes pages in for a person: the one logged in to the terminal UI, named at each file. While
nobody who may take pages in is logged in, files wait in the inbox; each event names the person and "intake"."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.replay_pages import make_page
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.hotfolder import Outcome
from workstation.services.intake_service import make_handler
from workstation.store.models import AuditEvent


def test_files_wait_while_nobody_is_logged_in_then_are_taken_in_for_the_person(
    desk: Desk, clerk: Actor, tmp_path: Path
) -> None:
    number = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    inbox = tmp_path / "inbox"
    scan = make_page(inbox / number / "scan-1.png", seed=31)
    logged_in: list[Actor | None] = [None]
    handle = make_handler(desk, lambda: logged_in[0], inbox)
    assert handle(scan, number).outcome is Outcome.RETRY_LATER
    assert desk.dossiers.show(number).pages == ()
    logged_in[0] = clerk
    assert handle(scan, number).outcome is Outcome.TAKEN
    assert len(desk.dossiers.show(number).pages) == 1
    with desk.db.read() as s:
        [event] = s.execute(select(AuditEvent).where(AuditEvent.action == "intake.file")).scalars()
    assert (event.actor, event.interface) == (clerk.username, "intake")
