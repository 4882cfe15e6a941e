"""What each email the bot sends is for, and the outcomes a discussion can record (domain.md §4–§6)."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """One email the bot sends; its template is named after it (``mail_templates/<purpose>.*.j2``).

    A StrEnum so that the stored outbox, the history and ``replay``'s JSON keep the plain words.
    """

    CONFIRMATION = "confirmation"
    MISSING_INFORMATION = "missing_information"
    URGENT_ACKNOWLEDGEMENT = "urgent_acknowledgement"
    DUTY_REFERRAL = "duty_referral"
    TRIAGE_REPLY = "triage_reply"
    TIMESCALE_AT_RISK = "timescale_at_risk"
    QUARANTINE_NOTICE = "quarantine_notice"
    CANCELLATION = "cancellation"
    COMMAND_HELP = "command_help"
    DELAY_NOTICE = "delay_notice"
    ESCALATION_60 = "escalation_60"
    ESCALATION_90 = "escalation_90"
    ESCALATION_120 = "escalation_120"
    ESCALATION_REPEAT = "escalation_repeat"
    REMINDER_DAY_BEFORE = "reminder_day_before"
    REMINDER_30_MIN = "reminder_30_min"
    MINUTES_TEMPLATE = "minutes_template"
    MINUTES_REMINDER = "minutes_reminder"
    MINUTES_OVERDUE = "minutes_overdue"
    DAILY_AGENDA = "daily_agenda"
    S47_OUTCOME_DUE = "s47_outcome_due"
    ICPC_DUE = "icpc_due"
    ADMIN_ALERT = "admin_alert"
    NEAR_MISS_ALERT = "near_miss_alert"
    EMERGENCY_ACTION_NOTICE = "emergency_action_notice"
    OPEN_CASE_NOTICE = "open_case_notice"
    URGENT_MEETING = "urgent_meeting"
    HELD_CHASE = "held_chase"
    QUORUM_AT_RISK = "quorum_at_risk"
    REVIEW_REMINDER = "review_reminder"
    COMMAND_REFUSED = "command_refused"
    MINUTES_CIRCULATION = "minutes_circulation"
    OUTCOME_NOTICE = "outcome_notice"
    COMPLIANCE_REPORT = "compliance_report"  # the weekly timescales report (issue 14), no case


P = Purpose

# §4.3: the escalation ladder, stopped when police contact is recorded.
LADDER = frozenset({P.ESCALATION_60, P.ESCALATION_90, P.ESCALATION_120, P.ESCALATION_REPEAT})
# §5: the minutes chase, stopped when the minutes are recorded.
MINUTES_CHASE = frozenset({P.MINUTES_REMINDER, P.MINUTES_OVERDUE})
# Sent first when the outbox drains (a backlog after a mail server outage): a child may be at risk now.
URGENT = frozenset(
    {P.DUTY_REFERRAL, *LADDER, P.URGENT_ACKNOWLEDGEMENT, P.URGENT_MEETING, P.EMERGENCY_ACTION_NOTICE, P.ADMIN_ALERT}
)
# The replies that go back to whoever wrote, and so could feed a mail loop (capped per sender).
SHORT_REPLIES = (P.TRIAGE_REPLY, P.COMMAND_HELP, P.MISSING_INFORMATION, P.COMMAND_REFUSED)


class Outcome(StrEnum):
    """What a strategy discussion decided (§6 ``OUTCOME``); the words staff write after it."""

    JOINT_S47 = "joint S47"
    SINGLE_S47 = "single S47"
    NO_FURTHER_ACTION = "no further action"
    CHILD_IN_NEED = "child in need"

    @property
    def is_section_47(self) -> bool:
        """A Section 47 enquiry follows: the later timescales (S47 record, ICPC) apply (§5)."""
        return self in (Outcome.JOINT_S47, Outcome.SINGLE_S47)
