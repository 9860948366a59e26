"""R18 at the registry: the month's applications per channel and business, from the dossiers it holds."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from workstation.domain.channel_stats import ChannelReport, Month, channel_report
from workstation.services.views import OFFICE_TZ
from workstation.store.db import Database
from workstation.store.models import Dossier


def channel_stats(db: Database, month: Month, months: int = 6) -> ChannelReport:
    """Applications by the month (office time) of their application time, `months` back including `month`."""
    start = datetime.combine(month.back(months - 1).first_day, time(), OFFICE_TZ)
    end = datetime.combine(month.back(-1).first_day, time(), OFFICE_TZ)
    with db.read() as session:
        rows = session.execute(
            select(Dossier.applied_at, Dossier.channel, Dossier.business_code).where(
                Dossier.applied_at >= start, Dossier.applied_at < end
            )
        ).all()
    return channel_report(
        ((Month.of(applied.astimezone(OFFICE_TZ).date()), channel, business) for applied, channel, business in rows),
        month,
        months,
    )
