"""Rendering the bot's emails from `mail_templates/` and building them as MIME messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import encoders
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound

from bot.config import ConfigError
from bot.domain.model import OutgoingEmail

SMTP_COMPAT = compat32.clone(linesep="\r\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_safe(value: str) -> str:
    """A value fit for a header: CR, LF and other control characters become single spaces."""
    return _CONTROL.sub(" ", value).strip()


def _longdate(value: date | datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _shortdate(value: date | datetime) -> str:
    return f"{value:%a} {value.day} {value:%b}"


def _hhmm(value: datetime) -> str:
    return f"{value:%H:%M}"


def _joinand(items: Sequence[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def packaged_templates() -> Path:
    """The bundled `mail_templates/` folder, installed as the package `bot.mail_templates`."""
    return Path(str(resources.files("bot.mail_templates")))


class MailRenderer:
    """One Jinja2 environment: HTML autoescaped, every variable required (StrictUndefined)."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.folder = templates_dir or packaged_templates()
        self.env = Environment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(longdate=_longdate, shortdate=_shortdate, hhmm=_hhmm, joinand=_joinand)

    def check(self, purposes: Iterable[str]) -> None:
        """Refuse to start when a template is missing, naming every missing file."""
        missing = [
            f"{purpose}{suffix}"
            for purpose in purposes
            for suffix in (".subject.j2", ".txt.j2", ".html.j2")
            if not (self.folder / f"{purpose}{suffix}").is_file()
        ]
        if missing:
            raise ConfigError(
                f"templates_dir: {self.folder} lacks {', '.join(missing)}; expected one trio per email purpose"
            )

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except TemplateNotFound:
            raise ConfigError(f"templates_dir: {self.folder} has no {name}") from None
        except TemplateError as exc:
            raise TemplateError(f"{name}: {exc}") from exc

    def render(self, purpose: str, context: Mapping[str, Any]) -> RenderedMail:
        subject = header_safe(" ".join(self.render_text(f"{purpose}.subject.j2", context).split()))
        return RenderedMail(
            subject=subject,
            text=self.render_text(f"{purpose}.txt.j2", context),
            html=self.render_text(f"{purpose}.html.j2", context),
        )


def _header_value(value: str) -> str:
    """ASCII as is; anything else RFC 2047-encoded, so names with accents survive every client."""
    value = header_safe(value)
    return value if value.isascii() else Header(value, "utf-8").encode()


def _addresses(addresses: Sequence[str]) -> str:
    return ", ".join(header_safe(a) for a in addresses)


def build_message(email: OutgoingEmail, from_name: str, from_address: str, x_loop: str, date: datetime) -> bytes:
    """The email as bytes on the wire: threaded, marked automatic, with any invitation in two places.

    Built with the compat32 MIME classes: the policy-based header objects cost ten times
    as much, and the bot sends every email through here.
    """
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(email.text, "plain", "utf-8"))
    body.attach(MIMEText(email.html, "html", "utf-8"))
    files: list[MIMEBase] = []
    for attachment in email.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        if attachment.inline_alternative:
            # Outlook acts on an invitation found as an alternative body part; other clients
            # offer the attached file.
            part = MIMEText(attachment.data.decode("utf-8"), subtype, "utf-8")
            for key, value in attachment.params:
                part.set_param(key, value)
            body.attach(part)
            maintype, subtype = "application", "ics"
        file_part = MIMEBase(maintype, subtype)
        file_part.set_payload(attachment.data)
        encoders.encode_base64(file_part)
        file_part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
        files.append(file_part)
    msg: MIMEBase = body
    if files:
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        for file_part in files:
            msg.attach(file_part)
    msg["From"] = formataddr((header_safe(from_name), header_safe(from_address)))
    msg["To"] = _addresses(email.to)
    if email.cc:
        msg["Cc"] = _addresses(email.cc)
    msg["Subject"] = _header_value(email.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = header_safe(email.message_id)
    if email.in_reply_to:
        msg["In-Reply-To"] = header_safe(email.in_reply_to)
    if email.references:
        msg["References"] = " ".join(header_safe(r) for r in email.references)
    # RFC 3834, and Exchange's own switch: no out-of-office or read receipt comes back to us.
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = header_safe(x_loop)
    return msg.as_bytes(policy=SMTP_COMPAT)
