"""bot.mail.header_cache: each header parsed once, read exactly as ``email.policy.default`` reads it.

``read_message`` parses with ``message_policy()`` (issue 18). Every header here, plain or
hostile, must read the same under it as under the standard policy: its text, class of parser,
defects, addresses, groups and parameters; and the same again when read a second time, in the
same message or in the next one (short values are remembered across messages).
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest

from bot.mail.header_cache import message_policy

HEADERS = [
    ("From", "Alex Morgan <alex.morgan@council.example>"),
    ("From", '"b@council.example" <c@evil.example>'),
    ("From", '"a" <a@x.example>@y.example'),
    ("From", "staff: alex@council.example, sam@council.example;"),
    ("From", "=?utf-8?q?Zo=C3=AB_Smith?= <zoe@council.example>"),
    ("From", "<<<>>>@@"),
    ("To", "referrals@police.example, =?utf-8?b?w6k=?= <x@y.example>"),
    ("Subject", "=?utf-8?q?URGENT_S47_ENQUIRY?= N123456"),
    ("Subject", "=?bogus-charset?q?x?= and =?utf-8?q?unterminated"),
    ("Subject", "Re: Strategy discussion\t N100001"),
    ("Content-Type", 'multipart/mixed; boundary="==b=="; charset=utf-8'),
    ("Content-Type", "text/plain; charset*=utf-8''%E2%82%AC; format=flowed"),
    ("Content-Type", "text/; ;;=; boundary"),
    ("Content-Disposition", 'attachment; filename="minutes.docx"'),
    ("Message-ID", "<abc@council.example> (comment)"),
    ("Date", "Mon, 02 Mar 2026 09:00:00 +0000"),
    ("Date", "not a date"),
]


def _message(headers: list[tuple[str, str]], policy: Any) -> EmailMessage:
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\nbody\r\n"
    msg = email.message_from_bytes(raw.encode(), policy=policy)
    assert isinstance(msg, EmailMessage)
    return msg


def _reading(header: Any) -> tuple[Any, ...]:
    """Everything the bot or the email package reads of a parsed header."""
    return (
        str(header),
        type(header).__mro__[1:],
        [(type(d), str(d)) for d in header.defects],
        [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())],
        [(g.display_name, len(g.addresses)) for g in getattr(header, "groups", ())],
        dict(getattr(header, "params", {})),
        getattr(header, "content_type", None),
        getattr(header, "datetime", None),
    )


@pytest.mark.parametrize(("name", "value"), HEADERS)
def test_each_header_reads_as_the_standard_policy_reads_it(name: str, value: str) -> None:
    standard = _message([(name, value)], email.policy.default)[name]
    first = _message([(name, value)], message_policy())
    again = _message([(name, value)], message_policy())  # the next message, same header
    assert _reading(first[name]) == _reading(standard)
    assert _reading(first[name]) == _reading(standard)  # read a second time in the same message
    assert _reading(again[name]) == _reading(standard)


def test_a_whole_message_reads_the_same() -> None:
    headers = [*HEADERS, ("X-Long", "word " * 200)]
    mine, standard = _message(headers, message_policy()), _message(headers, email.policy.default)
    assert [(k, _reading(v)) for k, v in mine.items()] == [(k, _reading(v)) for k, v in standard.items()]
    assert mine.get_content_type() == standard.get_content_type()
    assert mine.get_param("boundary") == standard.get_param("boundary")
    assert mine.get_content_charset() == standard.get_content_charset()


def test_each_message_has_its_own_factory() -> None:
    assert message_policy().header_factory is not message_policy().header_factory
