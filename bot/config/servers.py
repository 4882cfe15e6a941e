"""The mail-server tables: ``[inbox.imap]``, ``[sender.smtp]``, ``[graph]`` and ``[ews]``, one function each."""

from __future__ import annotations

import ipaddress
import os
import shlex
import stat
from pathlib import Path

from bot.config.errors import ConfigError
from bot.config.schema import EwsConfig, GraphConfig, ImapConfig, SmtpConfig
from bot.config.table import Table

# The port each kind of security is usually offered on. A rule rather than one value, so it
# cannot be written in the defaults file; defaults.toml states it beside each `port`.
IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# IDLE must be re-issued before servers may drop it (30 minutes, RFC 2177), allowing for the
# second or so between the bot's looks.
IDLE_RENEW_LIMIT = 29 * 60.0


def loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost, 127.0.0.0/8 or ::1."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_transport(prefix: str, host: str, security: str, ca_file: Path | None) -> None:
    """A password never crosses a network in clear text; a CA file named must exist."""
    if security == "none" and not loopback(host):
        raise ConfigError(
            f'{prefix}.security: got "none" with {prefix}.host = {host!r}; expected "tls" or "starttls", '
            'since "none" sends the password and the mail in clear text and is allowed only for a server on '
            "this machine (localhost, 127.0.0.0/8 or ::1)"
        )
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"{prefix}.ca_file: got {str(ca_file)!r}; expected an existing PEM file")


def check_private_key(key: str, path: Path) -> None:
    """A private key file the config names must be its owner's alone (checked where POSIX modes exist)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # a missing or unreadable file is reported, in plain words, when the key is used
    if os.name == "posix" and mode & 0o077:
        raise ConfigError(
            f"{key}: {str(path)!r} holds a private key and is open to group or others (mode {stat.S_IMODE(mode):04o}); "
            f"expected it readable by the bot's user only: chmod 600 {shlex.quote(str(path))}"
        )


def imap(m: Table) -> ImapConfig:
    """``[inbox.imap]``: the server, the login, and how the bot waits for mail."""
    security = m.choice("security", tuple(IMAP_PORTS))
    auth = m.choice("auth", ("password", "xoauth2"))
    cfg = ImapConfig(
        host=m.string("host"),
        port=m.integer("port", minimum=1, maximum=65535, derived=IMAP_PORTS[security]),
        security=security,
        username=m.string("username"),
        auth=auth,
        password_env=m.optional_string("password_env"),
        oauth_token_env=m.optional_string("oauth_token_env"),
        ca_file=m.optional_path("ca_file"),
        timeout_seconds=m.number("timeout_seconds", minimum=1.0),
        idle=m.boolean("idle"),
        idle_renew_seconds=m.number("idle_renew_seconds", minimum=1.0),
        retry_first_seconds=m.number("retry_first_seconds", minimum=0.01),
        retry_max_seconds=m.number("retry_max_seconds", minimum=0.01),
    )
    m.check_unknown()
    needed = "password_env" if auth == "password" else "oauth_token_env"
    if getattr(cfg, needed) is None:
        raise ConfigError(f'inbox.imap.{needed}: missing; expected it when inbox.imap.auth = "{auth}"')
    if cfg.idle_renew_seconds >= IDLE_RENEW_LIMIT:
        raise ConfigError(
            f"inbox.imap.idle_renew_seconds: got {cfg.idle_renew_seconds:g}; expected less than "
            f"{IDLE_RENEW_LIMIT:g} (29 minutes), since servers may end an IDLE after 30 minutes "
            "and the bot looks about once a second"
        )
    check_transport("inbox.imap", cfg.host, cfg.security, cfg.ca_file)
    return cfg


def smtp(m: Table) -> SmtpConfig:
    """``[sender.smtp]``: the server and the login, if any."""
    security = m.choice("security", ("starttls", "tls", "none"))
    cfg = SmtpConfig(
        host=m.string("host"),
        port=m.integer("port", minimum=1, maximum=65535, derived=SMTP_PORTS[security]),
        security=security,
        username=m.optional_string("username"),
        password_env=m.optional_string("password_env"),
        timeout_seconds=m.number("timeout_seconds", minimum=1.0),
        ca_file=m.optional_path("ca_file"),
    )
    m.check_unknown()
    check_transport("sender.smtp", cfg.host, cfg.security, cfg.ca_file)
    return cfg


def graph(g: Table, address: str) -> GraphConfig:
    """``[graph]``: the app registration, its one credential, and the mailboxes (``bot.address`` unless named)."""
    cfg = GraphConfig(
        tenant_id=g.string("tenant_id"),
        client_id=g.string("client_id"),
        client_secret_env=g.optional_string("client_secret_env"),
        certificate_path=g.optional_path("certificate_path"),
        certificate_thumbprint=g.optional_string("certificate_thumbprint"),
        mailbox=g.email("mailbox", derived=address),
        calendar_mailbox=g.email("calendar_mailbox", derived=address),
        authority=g.string("authority").rstrip("/"),
        endpoint=g.string("endpoint").rstrip("/"),
        timeout_seconds=g.number("timeout_seconds", minimum=1.0),
        max_wait_seconds=g.number("max_wait_seconds", minimum=0.0),
        out_of_scope_mailbox=g.email("out_of_scope_mailbox", derived=None) if g.has("out_of_scope_mailbox") else None,
        throttle_alert_seconds=g.number("throttle_alert_seconds", minimum=0.0),
    )
    g.check_unknown()
    _check_throttle_alert("graph", cfg.max_wait_seconds, cfg.throttle_alert_seconds)
    if (cfg.client_secret_env is None) == (cfg.certificate_path is None):
        raise ConfigError(
            "graph.client_secret_env: expected exactly one of graph.client_secret_env or "
            "graph.certificate_path (with graph.certificate_thumbprint)"
        )
    if cfg.certificate_path is not None and not cfg.certificate_thumbprint:
        raise ConfigError("graph.certificate_thumbprint: missing; expected it with graph.certificate_path")
    if cfg.certificate_path is not None:
        check_private_key("graph.certificate_path", cfg.certificate_path)
    if cfg.out_of_scope_mailbox in (cfg.mailbox, cfg.calendar_mailbox):
        raise ConfigError(
            f"graph.out_of_scope_mailbox: got {cfg.out_of_scope_mailbox!r}; expected a mailbox the app must not "
            "reach, not graph.mailbox or graph.calendar_mailbox"
        )
    for key in ("authority", "endpoint"):
        if not getattr(cfg, key).startswith("https://"):
            raise ConfigError(f"graph.{key}: got {getattr(cfg, key)!r}; expected an https:// address")
    return cfg


def ews(e: Table, address: str) -> EwsConfig:
    """``[ews]``: the Exchange endpoint, the service account, and the mailboxes (``bot.address`` unless named)."""
    cfg = EwsConfig(
        endpoint=e.string("endpoint"),
        username=e.string("username"),
        password_env=e.string("password_env"),
        auth_type=e.choice("auth_type", ("NTLM", "basic")),
        mailbox=e.email("mailbox", derived=address),
        calendar_mailbox=e.email("calendar_mailbox", derived=address),
        autodiscover=e.boolean("autodiscover"),
        ca_file=e.optional_path("ca_file"),
        timeout_seconds=e.number("timeout_seconds", minimum=1.0),
        max_wait_seconds=e.number("max_wait_seconds", minimum=0.0),
        throttle_alert_seconds=e.number("throttle_alert_seconds", minimum=0.0),
    )
    e.check_unknown()
    _check_throttle_alert("ews", cfg.max_wait_seconds, cfg.throttle_alert_seconds)
    if not cfg.endpoint.startswith("https://"):
        raise ConfigError(f"ews.endpoint: got {cfg.endpoint!r}; expected the https:// address of Exchange.asmx")
    return cfg


def _check_throttle_alert(table: str, max_wait: float, alert: float) -> None:
    """A wait in place longer than the alert limit would delay mail with nobody told: refuse it."""
    if alert < max_wait:
        raise ConfigError(
            f"{table}.throttle_alert_seconds: got {alert:g}; expected at least {table}.max_wait_seconds "
            f"({max_wait:g}), or a wait in place could delay mail with nobody told"
        )
