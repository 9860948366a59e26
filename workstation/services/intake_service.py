"""The intake service as it runs on a desk: the hot folder feeding `IntakeService`, and the OCR runner.

Used by `workstation intake watch` and inside `workstation run`. Start-up first reconciles what a crash may
have left (temp files, orphan blobs, jobs cut off mid-read), then the start-up scan takes what waits in the inbox.
Another live process on the same data directory (an `intake add`, a second desk process) is left alone: see
`IntakeService.reconcile` and `workstation.store.locks`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workstation.domain.permissions import Actor
from workstation.services import audit
from workstation.services.desk import Desk
from workstation.services.events import PageEvent
from workstation.services.hotfolder import Handled, HotFolder, Outcome
from workstation.services.intake import IntakeRefused
from workstation.services.ocr_jobs import OcrRunner

log = logging.getLogger("workstation.intake")


Who = Actor | Callable[[], Actor | None]


def make_handler(desk: Desk, actor: Who, inbox: Path) -> Callable[[Path, str | None], Handled]:
    """The hot folder's handler: ingest the file, tell the folder where it goes.

    `actor` is the person the pages are taken in for, or a callable naming them at each file (the person logged
    in to the terminal UI); while it names nobody, files wait in the inbox. Events record the interface "intake".
    """

    def handle(path: Path, hint: str | None) -> Handled:
        who = actor() if callable(actor) else actor
        if who is None:
            return Handled(Outcome.RETRY_LATER)
        source = str(path.relative_to(inbox)) if path.is_relative_to(inbox) else path.name
        try:
            with audit.origin("intake"):
                result = desk.intake.ingest(who, path, number=hint, source=source)
        except IntakeRefused as exc:
            desk.events.publish(PageEvent("", hint or "", "quarantined", str(exc)))
            return Handled(Outcome.QUARANTINE, reason=str(exc))
        file_id = result.file_id
        outcome = Outcome.DUPLICATE if result.outcome == "duplicate" else Outcome.TAKEN
        return Handled(
            outcome,
            reason=result.message if outcome is Outcome.DUPLICATE else None,
            dest_subdir=result.dossier_number,
            on_moved=None if outcome is Outcome.DUPLICATE else (lambda: desk.intake.mark_moved(file_id)),
        )

    return handle


@dataclass
class RunningIntake:
    folder: HotFolder
    runner: OcrRunner
    unsubscribe: Callable[[], None]

    def stop(self) -> None:
        self.folder.stop()
        self.runner.stop()
        self.unsubscribe()


def start_intake(desk: Desk, actor: Who, *, inbox: Path, polling: bool = False) -> RunningIntake:
    settings = desk.settings
    inbox = Path(os.path.abspath(inbox))
    desk.intake.reconcile()
    runner = desk.ocr_runner()
    # Wake the runner as soon as a page is queued rather than at its next tick.
    unsubscribe = desk.events.subscribe(lambda e: runner.poke() if e.state == "queued" else None)
    runner.start()
    folder = HotFolder(
        inbox,
        make_handler(desk, actor, inbox),
        settle_seconds=settings.intake_settle_seconds,
        polling=polling,
        rescan_seconds=settings.intake_rescan_seconds,
    )
    folder.start()
    return RunningIntake(folder, runner, unsubscribe)
