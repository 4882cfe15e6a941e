"""Builds request emails the way Outlook sends them, for service and end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def london(text: str) -> datetime:
    """'2026-11-23 09:00' as an aware London time."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


AUTH_PASS = (
    "mx.police.example; spf=pass smtp.mailfrom=council.example; "
    "dkim=pass header.d=council.example; dmarc=pass header.from=council.example"
)


def request_email(
    sent: datetime,
    *,
    subject: str = "Strategy discussion N146782",
    sender: str = "Alex Morgan <alex.morgan@council.example>",
    message_id: str | None = None,
    n_number: str | None = "N146782",
    surname: str | None = "Bond",
    manager: str | None = "Alex Morgan",
    role: str = "Team Manager",
    phone: str | None = "01632 960123",
    reason: str
    | None = "Concerns about neglect raised by the school; the allocated social worker wants to progress to S47.",
    complex_case: bool = False,
    health_rep: str | None = "health.safeguarding@nhs.example",
    invitees: tuple[str, ...] = ("dsl@school.council.example",),
    auth: str | None = AUTH_PASS,
    extra_headers: dict[str, str] | None = None,
    in_reply_to: str | None = None,
    body: str | None = None,
) -> bytes:
    """A plain-text request in the county template; a field given as None is left out."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "referrals@police.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = message_id or f"<{sent:%Y%m%d%H%M%S}.{abs(hash(subject)) % 10**8}@council.example>"
    if auth:
        msg["Authentication-Results"] = auth
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    if body is None:
        lines = []
        if n_number:
            lines.append(f"N number: {n_number}")
        if surname:
            lines.append(f"Children's surname: {surname}")
        if manager:
            lines.append(f"Requesting manager: {manager}")
            lines.append(f"Role: {role}")
        if phone:
            lines.append(f"Contact number: {phone}")
        if reason:
            lines.append(f"Reason for strategy discussion: {reason}")
        lines.append(f"Longer slot needed: {'yes' if complex_case else 'no'}")
        if health_rep:
            lines.append(f"Health representative: {health_rep}")
        if invitees:
            lines.append(f"Other professionals to invite: {', '.join(invitees)}")
        body = "Hello,\n\nPlease arrange a strategy discussion.\n\n" + "\n".join(lines) + "\n\nThanks\nAlex\n"
    msg.set_content(body)
    return bytes(msg)


def reply_email(at: datetime, to_message: str, first_line: str, sender: str, subject: str) -> bytes:
    """A reply, as Outlook sends it, to the bot's email ``to_message`` (``SD000001.duty_referral.1``)."""
    domain = sender.rsplit("@", 1)[1].rstrip(">")
    return request_email(
        at,
        subject=f"RE: {subject}",
        sender=sender,
        auth=f"mx.police.example; dmarc=pass header.from={domain}",
        message_id=f"<reply.{at:%Y%m%d%H%M%S}@{domain}>",
        in_reply_to=f"<{to_message}@police.example>",
        body=f"{first_line}\n\nThanks\n",
    )


def queued_emails(bot: object, after: int = 0) -> list[EmailMessage]:
    """Every email in the bot's outbox (after the first ``after``), parsed as its recipients will read it."""
    import email
    import email.policy

    from sqlalchemy import select

    from bot.adapters import sql_schema as t

    with bot.store.connection() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(t.outbox.c.raw).order_by(t.outbox.c.id).offset(after)).scalars().all()
    parsed = []
    for raw in rows:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        parsed.append(msg)
    return parsed


def plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@dataclass
class StepClock:
    """A clock the test moves by hand (the ``Clock`` port)."""

    at: datetime
    speed: float = 1.0

    def now(self) -> datetime:
        return self.at


class SleepClock:
    """An adapter's time in a test: ``sleep`` moves it on, as a real sleep would, and records each wait."""

    def __init__(self, at: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) -> None:
        self.at = at
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.at += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
