"""`strategy-bot quarantine list | show ID | release ID | delete ID`: the quarantine folder for an administrator.

``show`` gives the headers and the reason, the body only with ``--body``. ``release`` moves the
message back into the inbox to be handled at the next round, with the administrator named in
the history; ``delete`` removes it, recorded in the history too.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import getpass
import hashlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from

if TYPE_CHECKING:
    from bot.config import Config
    from bot.ports.quarantine import QuarantinedMail, QuarantineFolder
    from bot.wiring import Bot


def _headers(data: bytes) -> email.message.Message:
    return email.parser.BytesParser(policy=email.policy.default).parsebytes(data, headersonly=True)


def _message_id(headers: bytes) -> str | None:
    from bot.mail.reading import message_id_of

    return message_id_of(_headers(headers))


def _sender(headers: bytes) -> str:
    from bot.domain.classify import sender_address

    try:
        _, address = sender_address(_headers(headers))
    except Exception:  # noqa: BLE001 - a hostile header is shown as unreadable, never a traceback
        address = None
    return address or "(no single readable From)"


# The inbox kinds whose adapter gives its quarantine folder (the HasQuarantine port).
WITH_QUARANTINE = ("maildir", "imap")
NO_RECORD = "(no record: put there by hand?)"  # the reason shown for a message no quarantine record names


def _not_available(config: Config) -> int:
    print(
        f"strategy-bot quarantine: not available for inbox.kind = {config.inbox.kind!r}; "
        f"look in the mailbox's {config.inbox.quarantine_folder!r} folder with Outlook",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _with_folder(args: argparse.Namespace, act: Callable[[Config, Bot, QuarantineFolder], int]) -> int:
    from bot.cli.store_views import _refused
    from bot.ports.quarantine import HasQuarantine
    from bot.wiring import build, build_inbox

    config = config_from(args.config)
    if config.inbox.kind not in WITH_QUARANTINE:
        return _not_available(config)
    if _refused(args, config):
        return EXIT_ERROR
    bot = build(config, with_mail=False)
    try:
        inbox = build_inbox(config, bot.store)  # type: ignore[arg-type]
        if not isinstance(inbox, HasQuarantine):
            return _not_available(config)
        folder = inbox.quarantine_folder()
        try:
            return act(config, bot, folder)
        finally:
            folder.close()
    finally:
        bot.close()


def _reasons(bot: Bot, items: list[QuarantinedMail]) -> dict[str, str]:
    from bot.adapters.sql_quarantine import records

    ids = {item.id: _message_id(item.headers) for item in items}
    with bot.store.connection() as conn:  # type: ignore[attr-defined]
        found = records(conn, [mid for mid in ids.values() if mid])
    return {item_id: found[mid].reason for item_id, mid in ids.items() if mid in found}


def _when(config: Config, moment: datetime) -> str:
    from bot.domain.model import wall_clock

    return wall_clock(moment, config.bot.timezone)


def cmd_list(args: argparse.Namespace) -> int:
    def act(config: Config, bot: Bot, folder: QuarantineFolder) -> int:
        items = folder.quarantined()
        reasons = _reasons(bot, items)
        print(f"Quarantine ({config.inbox.quarantine_folder}, {config.inbox.kind}): {len(items)} message(s)")
        for item in items:
            reason = reasons.get(item.id, NO_RECORD)
            print(f"  {item.id}  {_when(config, item.received_at)}  {_sender(item.headers)}  {reason}")
        return EXIT_OK

    return _with_folder(args, act)


def _absent(item_id: str) -> int:
    print(f"strategy-bot quarantine: no message {item_id!r} in the quarantine folder", file=sys.stderr)
    return EXIT_ERROR


def cmd_show(args: argparse.Namespace) -> int:
    def act(config: Config, bot: Bot, folder: QuarantineFolder) -> int:
        raw = folder.quarantined_message(args.id)
        if raw is None:
            return _absent(args.id)
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        items = folder.quarantined()
        item = next((i for i in items if i.id == args.id), None) or next(
            (i for i in items if i.id.startswith(args.id)), None
        )
        reason = _reasons(bot, [item]).get(item.id) if item else None
        print(f"Reason: {reason or NO_RECORD}")
        print("")
        print(_printable(head.decode("utf-8", "replace")))
        print("")
        if args.body:
            print(_printable(body.decode("utf-8", "replace")), end="")
        else:
            print(f"(body not shown: {len(body)} bytes; --body shows it)")
        return EXIT_OK

    return _with_folder(args, act)


def _printable(text: str) -> str:
    """Hostile mail shown on an administrator's terminal: control characters (escape sequences) as ``?``."""
    return "".join(ch if ch in "\n\t" or ch.isprintable() else "?" for ch in text)


def _admin(args: argparse.Namespace) -> str:
    return (args.by or getpass.getuser()).strip() or "administrator"


def _decide(args: argparse.Namespace, releasing: bool) -> int:
    from bot.adapters.sql_quarantine import forget, mark_deleted, records

    def act(config: Config, bot: Bot, folder: QuarantineFolder) -> int:
        raw = folder.quarantined_message(args.id)
        if raw is None:
            return _absent(args.id)
        content_hash = hashlib.sha256(raw).hexdigest()
        message_id = _message_id(raw) or f"<sha256-{content_hash[:32]}@no-message-id>"
        admin, now = _admin(args), datetime.now(UTC)
        # The record first: a crash before the move leaves the message in the folder, to try again.
        with bot.store.transaction() as tx:
            record = records(tx.conn, [message_id]).get(message_id)  # type: ignore[attr-defined]
            case_id = record.case_id if record else None
            if releasing:
                forget(tx.conn, message_id, content_hash)  # type: ignore[attr-defined]
                tx.add_history(
                    case_id, now, admin, "released", f"from quarantine by {admin}, to be handled again", message_id
                )
            else:
                mark_deleted(tx.conn, message_id)  # type: ignore[attr-defined]
                tx.add_history(
                    case_id, now, admin, "quarantine_deleted", f"deleted from quarantine by {admin}", message_id
                )
        done = folder.release(args.id) if releasing else folder.delete(args.id)
        if not done:
            return _absent(args.id)
        what = "released to the inbox: handled at the next round" if releasing else "deleted"
        print(f"{message_id} {what} (recorded in the history as {admin})")
        return EXIT_OK

    return _with_folder(args, act)


def cmd_release(args: argparse.Namespace) -> int:
    return _decide(args, releasing=True)


def cmd_delete(args: argparse.Namespace) -> int:
    return _decide(args, releasing=False)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quarantine = sub.add_parser("quarantine", help="list, show, release or delete quarantined messages")
    actions = quarantine.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="id, received time, sender address and reason of each")
    add_config(listing)
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="one message's headers and reason (the body only with --body)")
    show.add_argument("id", help="the id `quarantine list` shows")
    show.add_argument("--body", action="store_true", help="print the message's body too (personal data)")
    add_config(show)
    show.set_defaults(func=cmd_show)

    for name, func, help_text in (
        ("release", cmd_release, "move it back to the inbox, to be handled at the next round"),
        ("delete", cmd_delete, "remove it for good"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("id", help="the id `quarantine list` shows")
        action.add_argument("--by", help="the administrator named in the history (default: the OS user)")
        add_config(action)
        action.set_defaults(func=func)
