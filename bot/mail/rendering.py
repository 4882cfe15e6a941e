"""Rendering the bot's emails from `mail_templates/` and building them as MIME messages."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import encoders
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from importlib import resources
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound, meta
from jinja2.exceptions import TemplateSyntaxError

from bot.config import ConfigError
from bot.domain.auto_submitted import auto_submitted
from bot.domain.model import OutgoingEmail


class _SmtpCompat32(Compat32):
    """compat32 with CRLF line ends, writing a short printable-ASCII header as it is.

    Such a value is what ``Header.encode`` would give back unchanged (nothing to fold, nothing
    to encode), but the stdlib builds a ``Header`` for every header of every part to find
    that out. Anything longer, with a control character or non-ASCII goes the stdlib's way.
    """

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and len(name) + len(value) + 2 <= (self.max_line_length or 0)
            and value.isascii()
            and value.isprintable()
        ):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]  # compat32's own, untyped


SMTP_COMPAT = _SmtpCompat32(linesep="\r\n")


_NEWLINE = re.compile(r"\r\n|\r|\n")  # the generator's own NLCRE: any line end


class _Generator(BytesGenerator):
    """The stdlib's bytes generator, writing a body's lines in one piece rather than two writes a line."""

    def _write_lines(self, lines: str) -> None:
        # What the stdlib writes: every line ended by the line separator, the last only if it
        # is not empty.
        if lines:
            self.write(_NEWLINE.sub(self._NL, lines))  # type: ignore[attr-defined]  # set by flatten


TEMPLATE_SUFFIXES = (".subject.j2", ".txt.j2", ".html.j2")
# Rendered alone, not as an email: the strategy calendar event's body (domain.md §3.5).
SINGLE_TEMPLATES = ("event_body.txt.j2",)
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators, which some
# parsers (Python's own splitlines among them) treat as line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_safe(value: str) -> str:
    """A value fit for a header: one line, control characters gone, runs of spaces made one."""
    return " ".join(_CONTROL.sub(" ", value).split())


# -- filters --------------------------------------------------------------------------------


def longdate(value: date | datetime) -> str:
    """'Wednesday 25 November 2026'."""
    return f"{value:%A} {value.day} {value:%B %Y}"


def shortdate(value: date | datetime) -> str:
    """'Wed 25 Nov'."""
    return f"{value:%a} {value.day} {value:%b}"


def hhmm(value: datetime) -> str:
    """'10:00', in the datetime's own zone: callers pass Europe/London times."""
    return f"{value:%H:%M}"


def joinand(items: Iterable[Any]) -> str:
    """'a, b and c'."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# -- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def packaged_templates() -> Path:
    """The bundled `mail_templates/` folder, installed as the package `bot.mail_templates`."""
    return Path(str(resources.files("bot.mail_templates")))


def _autoescape(name: str | None) -> bool:
    return bool(name and name.endswith(".html.j2"))


def _where(tb: TracebackType | None) -> str:
    """The template file and line an error was raised at, from the traceback Jinja rewrites."""
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{Path(filename).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


class MailRenderer:
    """One Jinja2 environment: HTML autoescaped, text not, every variable required (StrictUndefined)."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.folder = templates_dir or packaged_templates()
        self.env = Environment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Read once, and again on SIGHUP (``reread``): no template file is stat()ed per email.
            auto_reload=False,
        )
        self.env.filters.update(longdate=longdate, shortdate=shortdate, hhmm=hhmm, joinand=joinand)
        self._templates: dict[str, Template] = {}

    def check(self, purposes: Iterable[str], single: Iterable[str] = SINGLE_TEMPLATES) -> None:
        """Refuse to start when a template is missing or broken, naming every missing file.

        ``purposes`` each need a trio; ``single`` are templates rendered on their own with
        ``render_text``. The templates each one includes or extends are checked too, so a
        custom folder that lacks `_layout.html.j2` fails here, not when the first email is due.
        """
        wanted = [f"{purpose}{suffix}" for purpose in purposes for suffix in TEMPLATE_SUFFIXES] + list(single)
        missing: list[str] = []
        broken: list[str] = []
        seen: set[str] = set()
        while wanted:
            name = wanted.pop(0)
            if name in seen:
                continue
            seen.add(name)
            path = self.folder / name
            if not path.is_file():
                missing.append(name)
                continue
            try:
                tree = self.env.parse(path.read_text(encoding="utf-8"), name, str(path))
            except TemplateSyntaxError as exc:
                broken.append(f"{name} line {exc.lineno}: {exc.message}")
                continue
            except (OSError, UnicodeDecodeError) as exc:
                broken.append(f"{name}: {exc}")
                continue
            wanted += [n for n in meta.find_referenced_templates(tree) if n is not None]
        problems = []
        if missing:
            problems.append(f"lacks {', '.join(missing)}; expected one .subject.j2, .txt.j2 and .html.j2 per email")
        if broken:
            problems.append("cannot read " + "; ".join(broken))
        if problems:
            raise ConfigError(f"templates_dir: {self.folder} " + "; and ".join(problems))

    def reread(self, purposes: Iterable[str], single: Iterable[str] = SINGLE_TEMPLATES) -> None:
        """Templates edited in the folder are used from the next email on, once they pass ``check``.

        A folder that fails the check raises ConfigError and the templates read before stay in use.
        """
        self.check(purposes, single)
        self._templates.clear()
        if self.env.cache is not None:
            self.env.cache.clear()

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        """One template rendered; an error names the template (and the included file and line at fault)."""
        try:
            template = self._templates.get(name)
            if template is None:
                template = self._templates[name] = self.env.get_template(name)
            return template.render(context)
        except TemplateNotFound as exc:
            raise ConfigError(f"templates_dir: {self.folder} has no {exc.name} (needed by {name})") from None
        except TemplateError as exc:
            where = _where(exc.__traceback__)
            raise TemplateError(f"{name}: {exc.message}" + (f" (at {where})" if where else "")) from exc
        except TypeError as exc:
            # A missing date reaches a date filter as Undefined and fails as a bare TypeError.
            where = _where(exc.__traceback__)
            raise TemplateError(
                f"{name}: a value is missing or of the wrong type ({exc})" + (f" (at {where})" if where else "")
            ) from exc

    def render(self, purpose: str, context: Mapping[str, Any]) -> RenderedMail:
        """The subject (one line), text and HTML of the email for ``purpose``."""
        return RenderedMail(
            subject=header_safe(self.render_text(f"{purpose}.subject.j2", context)),
            text=self.render_text(f"{purpose}.txt.j2", context),
            html=self.render_text(f"{purpose}.html.j2", context),
        )


# -- the message on the wire ----------------------------------------------------------------

_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def _boundary() -> str:
    """A multipart boundary in the stdlib's own form, chosen here so the generator need not.

    Left to itself, the generator compiles a fresh regular expression per boundary to check
    that no line of the flattened parts is the boundary. Every part here is quoted-printable
    or base64, in which ``=`` never comes twice in a row (QP writes it ``=3D``; base64 pads
    with at most two, at the end): no body line can hold ``===============``.
    """
    return "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="


# Quoted-printable keeps the bodies readable in the raw message, and spam filters score
# base64-encoded text bodies as suspicious. A part keeps a reference and never changes it.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, _UTF8_QP)
    return part


def _header_value(value: str, name: str) -> str:
    """ASCII as is; anything else RFC 2047-encoded, so names with accents survive every client."""
    value = header_safe(value)
    # The header's name counts towards the first line's length: without it the encoded
    # value starts on a folded line and parsers read a leading space into the subject.
    return value if value.isascii() else Header(value, "utf-8", header_name=name).encode()


def _addresses(addresses: Sequence[str]) -> str:
    return ", ".join(header_safe(a) for a in addresses)


def _html_part(email: OutgoingEmail) -> MIMEBase:
    """The HTML body; with the images it shows by ``cid:`` beside it in multipart/related (charts in mail)."""
    html = _text_part(email.html, "html")
    images = [a for a in email.attachments if a.content_id]
    if not images:
        return html
    related = MIMEMultipart("related", boundary=_boundary())
    related.attach(html)
    for attachment in images:
        maintype, _, subtype = attachment.content_type.partition("/")
        image = MIMEBase(header_safe(maintype) or "image", header_safe(subtype) or "png")
        image.set_payload(attachment.data)
        encoders.encode_base64(image)
        image.add_header("Content-ID", f"<{header_safe(attachment.content_id)}>")
        image.add_header("Content-Disposition", "inline", filename=header_safe(attachment.filename) or "image")
        related.attach(image)
    return related


def build_message(email: OutgoingEmail, from_name: str, from_address: str, x_loop: str, date: datetime) -> bytes:
    """The email as bytes on the wire (CRLF): threaded, marked automatic, with any invitation in two places.

    Structure: multipart/alternative [text/plain, text/html, text/calendar] inside
    multipart/mixed with the invitation again as an ``invite.ics`` attachment. Every header
    value goes through ``header_safe``, so no CR or LF from a request can add a header.
    Built with the compat32 MIME classes: the policy-based ``EmailMessage`` costs several
    times as much (see BENCHMARKS.md), and every email the bot sends comes through here.
    """
    body = MIMEMultipart("alternative", boundary=_boundary())
    body.attach(_text_part(email.text, "plain"))
    body.attach(_html_part(email))
    files: list[MIMEBase] = []
    for attachment in email.attachments:
        if attachment.content_id:
            continue  # in the HTML part's multipart/related
        maintype, _, subtype = attachment.content_type.partition("/")
        filename = header_safe(attachment.filename) or "attachment"
        if attachment.inline_alternative:
            # Outlook acts on an invitation found as an alternative body part; other clients
            # offer the attached file. Base64 keeps the iCalendar's CRLF line ends intact.
            part = MIMEText(attachment.data.decode("utf-8"), subtype or "calendar", "utf-8")
            for key, value in attachment.params:
                part.set_param(header_safe(key), header_safe(value))
            body.attach(part)
            maintype, subtype = "application", "ics"
        file_part = MIMEBase(header_safe(maintype) or "application", header_safe(subtype) or "octet-stream")
        file_part.set_payload(attachment.data)
        encoders.encode_base64(file_part)
        if filename.isascii():
            file_part.add_header("Content-Disposition", "attachment", filename=filename)
        else:
            file_part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
        files.append(file_part)
    msg: MIMEBase = body
    if files:
        msg = MIMEMultipart("mixed", boundary=_boundary())
        msg.attach(body)
        for file_part in files:
            msg.attach(file_part)
    msg["From"] = formataddr((header_safe(from_name), header_safe(from_address)))
    msg["To"] = _addresses(email.to)
    if email.cc:
        msg["Cc"] = _addresses(email.cc)
    msg["Subject"] = _header_value(email.subject, "Subject")
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = header_safe(email.message_id)
    if email.in_reply_to:
        msg["In-Reply-To"] = header_safe(email.in_reply_to)
    if email.references:
        msg["References"] = " ".join(header_safe(r) for r in email.references)
    # RFC 3834, and Exchange's own switch: no out-of-office or read receipt comes back to us.
    msg["Auto-Submitted"] = auto_submitted(email.purpose, email.in_reply_to)
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = header_safe(x_loop)
    out = BytesIO()
    _Generator(out, mangle_from_=False, policy=SMTP_COMPAT).flatten(msg, unixfrom=False)
    return out.getvalue()
