"""Views and downloads per publication per day, counted without cookies or addresses.

A serving process counts in memory and adds its counts to the catalogue every few seconds
(`UsageCounter.flush`), so a page view never waits for a database write. Counts in memory
when a process dies are lost; that is the price of not writing on every request.
"""

from __future__ import annotations

import datetime
import threading
from collections import Counter

from sqlalchemy import Date, Integer, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from publications.catalogue import Catalogue
from publications.models import Base, Publication

VIEW = "views"
DOWNLOAD = "downloads"
_BOTS = ("bot", "crawl", "spider", "slurp", "harvest", "curl", "wget", "python-requests")


class DailyUsage(Base):
    __tablename__ = "usage_daily"

    publication_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[datetime.date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    downloads: Mapped[int] = mapped_column(Integer, default=0)


def is_robot(user_agent: str) -> bool:
    """Harvesters and crawlers are not readers; they announce themselves in the User-Agent."""
    ua = (user_agent or "").lower()
    return not ua or any(word in ua for word in _BOTS)


class UsageCounter:
    """Counts in memory, thread-safe; `flush` adds the counts to the catalogue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, datetime.date, str]] = Counter()

    def count(self, publication_id: int, kind: str) -> None:
        key = (publication_id, datetime.date.today(), kind)
        with self._lock:
            self._counts[key] += 1

    def flush(self, catalogue: Catalogue) -> int:
        """Write the counts so far; returns how many (publication, day) rows were touched."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        rows: dict[tuple[int, datetime.date], dict[str, int]] = {}
        for (pid, day, kind), n in counts.items():
            rows.setdefault((pid, day), {VIEW: 0, DOWNLOAD: 0})[kind] += n
        for (pid, day), add in rows.items():
            _add(catalogue, pid, day, add[VIEW], add[DOWNLOAD])
        return len(rows)


def _add(catalogue: Catalogue, pid: int, day: datetime.date, views: int, downloads: int) -> None:
    for _attempt in range(3):
        try:
            with catalogue.session() as session:
                changed = session.execute(
                    update(DailyUsage)
                    .where(DailyUsage.publication_id == pid, DailyUsage.day == day)
                    .values(views=DailyUsage.views + views,
                            downloads=DailyUsage.downloads + downloads)
                ).rowcount
                if not changed:
                    session.add(DailyUsage(publication_id=pid, day=day, views=views,
                                           downloads=downloads))
            return
        except IntegrityError:  # another process inserted the same day first: add to it
            continue


def most_used(session: Session, days: int = 30, limit: int = 20) -> list[tuple[Publication, int, int]]:
    """Publications with the most views and downloads in the last `days` days."""
    since = datetime.date.today() - datetime.timedelta(days=days - 1)
    views = func.sum(DailyUsage.views).label("views")
    downloads = func.sum(DailyUsage.downloads).label("downloads")
    rows = session.execute(
        select(Publication, views, downloads)
        .join(DailyUsage, DailyUsage.publication_id == Publication.id)
        .where(DailyUsage.day >= since)
        .group_by(Publication.id)
        .order_by(views.desc(), downloads.desc())
        .limit(limit)
    ).all()
    return [(pub, int(v or 0), int(d or 0)) for pub, v, d in rows]
