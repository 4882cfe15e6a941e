"""APScheduler 3 in-process: one scheduler, one worker thread, explicit job ids. The database is the record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class JobScheduler:
    """Runs the daemon's jobs one at a time, so the store is never used by two threads at once.

    Every job runs however late it is (``misfire_grace_time=None``): a deadline missed
    while the bot was down must still fire, once (``coalesce``), and the service marks it
    late. The in-memory job store is only a cache of the timers table: at start-up the
    daemon schedules every pending timer again from the database.
    """

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    def start(self) -> None:
        self._scheduler.start()

    def every(self, job_id: str, seconds: float, func: Callable[[], None]) -> None:
        """Run ``func`` now and then every ``seconds``."""
        self._scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )

    def at(self, job_id: str, real_delay: float, func: Callable[[], None]) -> None:
        """Run ``func`` once, ``real_delay`` seconds from now (at once if that is in the past)."""
        run_at = datetime.now(UTC) + timedelta(seconds=max(0.0, real_delay))
        self._scheduler.add_job(func, "date", run_date=run_at, id=job_id, replace_existing=True)

    def soon(self, job_id: str) -> None:
        """Bring a scheduled job forward to now (new mail, a timer written)."""
        try:
            self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        except JobLookupError:
            log.debug("job %s is not scheduled", job_id)

    def shutdown(self) -> None:
        """Stop taking jobs; the job in hand finishes first."""
        self._scheduler.shutdown(wait=True)
