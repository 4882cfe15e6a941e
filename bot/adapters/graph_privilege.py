"""Least privilege, proven rather than asserted: the app may reach its two mailboxes and nothing else.

Two things are checked, by ``check-config`` and when the daemon starts:

- the access token's ``roles`` claim. Application permissions consented in Entra ID appear
  there and reach every mailbox in the tenant; grants made with RBAC for Applications in
  Exchange Online do not appear there. A token holding any ``Mail.*`` or ``Calendars.*`` role
  is refused, naming the roles, what to remove in Entra ID and the RBAC alternative. The
  client checks every new token the same way (``GraphClient.token``), so a grant made while
  the bot runs stops it too. The token is our own, fresh from msal: its payload is read
  without verifying the signature.
- ``graph.out_of_scope_mailbox``, when set: a mailbox the app must not reach. Reading its
  Inbox and listing its calendars must both be refused (403); an answer means the scope
  does not hold, and the bot refuses to run.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Collection, Mapping
from typing import Any, Protocol
from urllib.parse import quote

from bot.config import ConfigError, GraphConfig
from bot.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

# Application permissions that, consented in Entra ID, reach every mailbox in the tenant.
TENANT_WIDE = re.compile(r"^(Mail|Calendars)\.")
# What the out-of-scope probe tries: (the permission that would allow it, path below the mailbox, in words).
PROBES = (
    ("Mail.ReadWrite", "/mailFolders/inbox", "reading its Inbox"),
    ("Calendars.ReadWrite", "/calendars", "listing its calendars"),
)


class GraphCaller(Protocol):
    """What the checks need of ``GraphClient`` (which imports this module, so it is not imported here)."""

    cfg: GraphConfig

    def token(self) -> str: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        need: str,
        mailbox: str,
        what: str,
        params: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
    ) -> Any: ...

    def close(self) -> None: ...


class LeastPrivilegeError(ConfigError):
    """The app can reach more than the referral and calendar mailboxes: the bot refuses to start."""


def token_roles(token: str) -> tuple[str, ...]:
    """The ``roles`` claim of an access token (a JWT), read without verifying it; none is an empty tuple."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise PermanentError(
            "the access token Entra ID issued for Microsoft Graph could not be read (it is not a JWT), so the bot "
            "cannot tell whether the app holds tenant-wide Mail or Calendars permissions; it will not run unchecked"
        ) from exc
    roles = payload.get("roles", []) if isinstance(payload, dict) else []
    return tuple(str(role) for role in roles) if isinstance(roles, list) else ()


def tenant_wide(roles: tuple[str, ...]) -> tuple[str, ...]:
    """The roles that reach every mailbox in the tenant, sorted."""
    return tuple(sorted(role for role in roles if TENANT_WIDE.match(role)))


def tenant_wide_problem(token: str, cfg: GraphConfig) -> str | None:
    """Plain words for an administrator when the token carries tenant-wide mailbox permissions; else None."""
    wide = tenant_wide(token_roles(token))
    if not wide:
        return None
    names = ", ".join(wide)
    return (
        f"the app {cfg.client_id} holds the tenant-wide application permission{'s' if len(wide) > 1 else ''} "
        f"{names}, consented in Entra ID: with them it can reach every mailbox in the organisation, so the bot "
        "will not run. In the Microsoft Entra admin center, App registrations > the app > API permissions: for "
        f"{names}, revoke admin consent and remove the permission (Enterprise applications > the app > "
        "Permissions must then list none of them). Grant the bot its mailboxes with RBAC for Applications in "
        "Exchange Online instead: Application Mail.ReadWrite and Application Mail.Send scoped to the referral "
        f"mailbox {cfg.mailbox}, Application Calendars.ReadWrite scoped to the calendar mailbox "
        f"{cfg.calendar_mailbox} (docs/outlook.md, step 2)"
    )


def refuse_tenant_wide(token: str, cfg: GraphConfig) -> None:
    """Raise ``PermanentError`` for a token with tenant-wide mailbox permissions: no call is made with it."""
    problem = tenant_wide_problem(token, cfg)
    if problem is not None:
        raise PermanentError(problem)


def out_of_scope_problems(client: GraphCaller, mailbox: str) -> list[str]:
    """Try ``mailbox``, which the app must not reach: every probe must be refused with 403."""
    problems: list[str] = []
    for need, path, what in PROBES:
        try:
            resp = client.request(
                "GET",
                f"/users/{quote(mailbox, safe='@')}{path}",
                params={"$select": "id"},
                need=need,
                mailbox=mailbox,
                what=f"trying graph.out_of_scope_mailbox {mailbox} ({what})",
                allow=(403,),
            )
        except PermanentError as exc:
            problems.append(f"graph.out_of_scope_mailbox: {mailbox} could not be tried: {exc}")
            break
        status = resp.status_code
        resp.close()
        if status != 403:
            problems.append(
                f"graph.out_of_scope_mailbox: the app could read {mailbox} ({what}, HTTP {status}), a mailbox it "
                f"must not reach; expected Exchange Online to refuse it (403). The app's {need} is not confined "
                "to the bot's mailboxes: check the management scope and any tenant-wide grant, then run "
                f"Test-ServicePrincipalAuthorization -Identity {client.cfg.client_id} -Resource {mailbox} "
                "(every role must show InScope False; docs/outlook.md)"
            )
    return problems


def least_privilege_problems(client: GraphCaller) -> list[str]:
    """Everything that shows the app reaching more than its two mailboxes; ``TransientError`` when unknown yet."""
    try:
        client.token()  # GraphClient.token refuses a tenant-wide token itself (refuse_tenant_wide)
    except PermanentError as exc:
        return [str(exc)]
    mailbox = client.cfg.out_of_scope_mailbox
    return [] if mailbox is None else out_of_scope_problems(client, mailbox)


def require_least_privilege(client: GraphCaller) -> None:
    """At start-up: raise ``LeastPrivilegeError`` naming every problem; Graph out of reach is only logged."""
    try:
        problems = least_privilege_problems(client)
    except TransientError as exc:
        log.warning(
            "could not check the app's permissions at start-up (%s); every new token is still checked for "
            "tenant-wide permissions, and check-config tries graph.out_of_scope_mailbox",
            exc,
        )
        return
    finally:
        client.close()
    if problems:
        raise LeastPrivilegeError("; and ".join(problems))


def scope_report(client: GraphCaller, said: Collection[str]) -> tuple[bool, list[str]]:
    """``check-config``'s lines: whether least privilege was proven, and what was found.

    A problem the roles' checks already printed (a refused or tenant-wide token) is not repeated.
    """
    try:
        problems = least_privilege_problems(client)
    except TransientError as exc:
        problems = [f"the app's permissions could not be checked: {exc}"]
    finally:
        client.close()
    if problems and all(any(problem in line for line in said) for problem in problems):
        return False, ["  scope:    not proven: see the problem above"]
    if problems:
        return False, [f"  scope:    PROBLEM: {problem}" for problem in problems]
    mailbox = client.cfg.out_of_scope_mailbox
    tried = (
        "graph.out_of_scope_mailbox is not set, so no mailbox outside the scope was tried"
        if mailbox is None
        else f"{mailbox}, outside the scope, was refused (403)"
    )
    return True, [f"  scope:    ok: no tenant-wide Mail or Calendars permission in the app's token; {tried}"]
