"""The compliance record's port (domain.md §5): one row per case, rewritten with every change to it;
and what the referral unit's board reads beside it (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: `status` and `metrics` import the ports without the compliance rules
    from bot.domain.compliance import ComplianceRecord


@dataclass(frozen=True)
class Quarantined:
    """A message waiting in quarantine for a person: when it came, the bot's own reason, its case if any."""

    received_at: datetime
    reason: str
    case_id: str | None


class Measures(Protocol):
    """The compliance records: what the timescales are measured on, written in the unit of work that changes
    the case (the ``StoreTransaction`` has these too)."""

    def put_compliance(self, record: ComplianceRecord) -> None:
        """Write the case's record, replacing the one it had."""

    def compliance_records(self, since: datetime | None = None) -> list[ComplianceRecord]:
        """Every record (of cases received at or after ``since`` when given), oldest first."""

    def cases_without_compliance(self) -> list[str]:
        """The case ids that have no record yet (cases that predate it): the back-fill's work list."""

    def quarantined(self, limit: int) -> list[Quarantined]:
        """Messages still in quarantine (not released nor deleted), newest first, at most ``limit``."""
