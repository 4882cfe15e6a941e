"""Rendering the bot's emails from `mail_templates/` (the bytes on the wire: bot.mail.wire)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound, meta
from jinja2.exceptions import TemplateSyntaxError

from bot.config import ConfigError

# The message on the wire is written in bot.mail.wire; these names stay importable from here.
from bot.mail.wire import build_message as build_message
from bot.mail.wire import header_safe as header_safe

TEMPLATE_SUFFIXES = (".subject.j2", ".txt.j2", ".html.j2")
# Rendered alone, not as an email: the strategy calendar event's body (domain.md §3.5).
SINGLE_TEMPLATES = ("event_body.txt.j2",)


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
        self.env = self._environment()
        self._templates: dict[str, Template] = {}

    def _environment(self) -> Environment:
        env = Environment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Read once, and again on SIGHUP (``reread``): no template file is stat()ed per email.
            auto_reload=False,
        )
        env.filters.update(longdate=longdate, shortdate=shortdate, hhmm=hhmm, joinand=joinand)
        return env

    def check(self, purposes: Iterable[str], single: Iterable[str] = SINGLE_TEMPLATES) -> None:
        """Refuse to start when a template is missing or broken, naming every missing file.

        ``purposes`` each need a trio; ``single`` are templates rendered on their own with
        ``render_text``. The templates each one includes or extends are checked too, so a
        custom folder that lacks `_layout.html.j2` fails here, not when the first email is due.
        Once checked they are compiled, here rather than in the round that sends the first email.
        """
        self._templates = self._compiled(self.env, purposes, single)

    def _compiled(self, env: Environment, purposes: Iterable[str], single: Iterable[str]) -> dict[str, Template]:
        wanted = [f"{purpose}{suffix}" for purpose in purposes for suffix in TEMPLATE_SUFFIXES] + list(single)
        missing: list[str] = []
        broken: list[str] = []
        seen: set[str] = set()
        compiled: dict[str, Template] = {}
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
                tree = env.parse(path.read_text(encoding="utf-8"), name, str(path))
                # Compiling also finds what parsing lets through, such as a filter that does not exist.
                compiled[name] = env.get_template(name)
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
        return compiled

    def reread(self, purposes: Iterable[str], single: Iterable[str] = SINGLE_TEMPLATES) -> None:
        """Templates edited in the folder are used from the next email on, once they pass ``check``.

        A folder that fails the check raises ConfigError and the templates read before stay in use.
        """
        env = self._environment()
        templates = self._compiled(env, purposes, single)
        self.env, self._templates = env, templates

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
