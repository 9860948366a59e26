"""In-process progress events (page queued, reading, done, failed) that the TUI and the CLI subscribe to.

Subscribers are called on the publishing thread: they must be quick and must not touch widgets (the TUI
posts a message to itself). A subscriber that raises is dropped from that event, never the publisher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("workstation.events")


@dataclass(frozen=True)
class PageEvent:
    page_id: str
    dossier_number: str
    state: str  # queued | reading | done | failed | duplicate | quarantined
    detail: str = ""  # the material found, or the one-line reason of a failure
    extra: dict[str, object] = field(default_factory=dict)


Subscriber = Callable[[PageEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, event: PageEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(event)
            except Exception:
                log.exception("event subscriber failed on %s", event)
