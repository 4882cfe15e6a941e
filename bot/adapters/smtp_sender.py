"""A sender that hands outgoing mail to an SMTP server, turning smtplib's errors into ours."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence

from bot import failpoints
from bot.config import ConfigError, SmtpConfig
from bot.errors import BotError, PermanentError, ServerUnreachable, TransientError
from bot.os_words import network_words

log = logging.getLogger(__name__)

SECURITY = ("starttls", "tls", "none")
# SMTP carries lines ending in CRLF; servers now refuse bare LF (SMTP smuggling defences).
_LINE_END = re.compile(rb"\r\n|\r(?!\n)|\n")


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _tls_text(exc: OSError) -> str:
    """``[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)`` as "wrong version number"."""
    if isinstance(exc, ssl.SSLEOFError | ConnectionError):
        return "the server closed the connection during the handshake"
    text = str(exc.args[1] if isinstance(exc, ssl.SSLError) and len(exc.args) > 1 else exc)
    text = re.sub(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$", "", text)
    return " ".join(text.split()) or type(exc).__name__


def _by_code(code: int, what: str) -> BotError:
    """A server's reply as our error: 4xx is worth retrying, anything else is not."""
    return TransientError(what) if 400 <= code < 500 else PermanentError(what)


class SmtpSender:
    """The ``MailSender`` port over SMTP, keeping one connection open across sends.

    ``security`` is "starttls" (refuses to send if the server does not offer it), "tls"
    (implicit TLS) or "none" (loopback only). Certificates are checked against
    ``ssl_context``, by default the CA in ``sender.smtp.ca_file`` or else the system's trusted CAs.
    """

    def __init__(self, cfg: SmtpConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        if cfg.security not in SECURITY:
            raise ConfigError(
                f"sender.smtp.security: got {cfg.security!r}; expected one of " + ", ".join(repr(s) for s in SECURITY)
            )
        self.cfg = cfg
        if ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        self.ssl_context = ssl_context
        self.where = f"{cfg.host}:{cfg.port}"
        self._smtp: smtplib.SMTP | None = None

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise PermanentError(f"email {message_id} has no recipients")
        wire = _LINE_END.sub(b"\r\n", raw)
        try:
            refused = self._sendmail(sender, list(recipients), wire)
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients, accepted=()) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(
                exc.smtp_code,
                f"sender {exc.sender} refused by {self.where}: {exc.smtp_code} {_text(exc.smtp_error)}",
            ) from exc
        except smtplib.SMTPDataError as exc:
            raise _by_code(
                exc.smtp_code,
                f"message refused by {self.where}: {exc.smtp_code} {_text(exc.smtp_error)}",
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._discard()
            raise ServerUnreachable(f"{self.where} closed the connection: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{self.where} replied {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPException as exc:
            # What is left (no AUTH offered, no usable mechanism, SMTPUTF8 missing) is the
            # server's set-up, which a retry will not change.
            self._discard()
            raise PermanentError(f"{self.where}: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            self._discard()
            raise PermanentError(f"TLS certificate check failed for {self.where}: {exc.verify_message or exc}") from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS broken mid-way
            self._discard()
            raise ServerUnreachable(f"cannot reach {self.where}: {network_words(exc) or exc}") from exc
        if refused:
            accepted = [r for r in recipients if r not in refused]
            # Part of the mail went: a retry would send it twice to those who have it.
            raise self._refused(refused, accepted) from None
        log.info("email %s accepted by %s", message_id, self.where)

    def check(self) -> list[str]:
        """What ``check-config`` reports: connect, TLS, log in, NOOP; empty when the server is ready."""
        try:
            smtp = self._connect()
        except BotError as exc:
            return [f"SMTP: {exc}"]
        except smtplib.SMTPServerDisconnected as exc:
            return [f"SMTP: {self.where} closed the connection: {exc}"]
        except smtplib.SMTPResponseException as exc:
            return [f"SMTP: {self.where} replied {exc.smtp_code} {_text(exc.smtp_error)}"]
        except smtplib.SMTPException as exc:  # no AUTH offered, no usable mechanism
            return [f"SMTP: {self.where}: {exc}"]
        except OSError as exc:
            return [f"SMTP: cannot reach {self.where}: {network_words(exc) or exc}"]
        try:
            code, reply = smtp.noop()
            if code != 250:
                return [f"SMTP: {self.where} answered NOOP with {code} {_text(reply)}"]
            return []
        except (smtplib.SMTPException, OSError) as exc:
            return [f"SMTP: {self.where} dropped the connection: {exc}"]
        finally:
            smtp.close()

    def close(self) -> None:
        """Say QUIT and drop the connection; the next send opens a new one."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    # -- connection -------------------------------------------------------------------------

    def _sendmail(self, sender: str, recipients: list[str], wire: bytes) -> dict[str, tuple[int, bytes]]:
        """smtplib's ``sendmail`` in two steps: the envelope, which may be given again, then DATA, which may not."""
        try:
            connection = self._connection()
            failpoints.reach("during_send")  # the session open and logged in; the mail not yet given
            refused = _envelope(connection, sender, recipients, wire)
        except smtplib.SMTPServerDisconnected:
            # Servers close idle connections between our sends; nothing of this email was given
            # yet, so one fresh connection tells that apart from a server that is really gone.
            self._discard()
            log.info("SMTP connection to %s was closed; reconnecting", self.where)
            connection = self._connection()
            refused = _envelope(connection, sender, recipients, wire)
        # From DATA on, a lost connection may be an email the server has stored: it is not given
        # again on a new connection at once, but retried later with its Message-ID (at-least-once).
        code, reply = connection.data(wire)
        if code != 250:
            _end_transaction(connection, code)
            raise smtplib.SMTPDataError(code, reply)
        return refused

    def _connection(self) -> smtplib.SMTP:
        # smtplib sets ``sock`` to None when it closes the connection itself (e.g. on a 421).
        if self._smtp is not None and self._smtp.sock is not None:
            return self._smtp
        self._smtp = None
        self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        """A new connection, TLS set up and logged in; a failed TLS handshake as our error in words."""
        cfg = self.cfg
        timeout = cfg.timeout_seconds
        try:
            if cfg.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=self.ssl_context)
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        except smtplib.SMTPConnectError as exc:
            raise ServerUnreachable(f"cannot connect to {self.where}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except ssl.SSLError as exc:  # implicit TLS: the handshake is part of connecting
            raise self._tls_failed(exc) from exc
        try:
            if cfg.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise PermanentError(f"{self.where}: server does not offer STARTTLS; not sending in clear text")
                try:
                    smtp.starttls(context=self.ssl_context)
                except (ssl.SSLError, ConnectionError) as exc:
                    raise self._tls_failed(exc) from exc
                smtp.ehlo()
            if cfg.username:
                self._login(smtp, cfg.username)
        except BaseException:
            smtp.close()
            raise
        log.info("SMTP connection to %s opened (%s)", self.where, cfg.security)
        return smtp

    def _tls_failed(self, exc: OSError) -> BotError:
        """An untrusted certificate will not fix itself; any other broken handshake may."""
        if isinstance(exc, ssl.SSLCertVerificationError):
            return PermanentError(f"TLS certificate check failed for {self.where}: {exc.verify_message or exc}")
        return ServerUnreachable(f"TLS handshake with {self.where} failed: {_tls_text(exc)}")

    def _login(self, smtp: smtplib.SMTP, username: str) -> None:
        try:
            password = self.cfg.password()
        except ConfigError as exc:
            raise PermanentError(str(exc)) from exc
        if password is None:
            raise PermanentError(
                f"sender.smtp.username is set but sender.smtp.password_env is not; cannot log in to {self.where}"
            )
        try:
            smtp.login(username, password)
        except smtplib.SMTPAuthenticationError as exc:
            reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:  # e.g. 454: the server's password store is down
                raise ServerUnreachable(f"login for {username} failed for now at {self.where}: {reply}") from exc
            raise PermanentError(f"login refused for {username} by {self.where}: {reply}") from exc

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _refused(self, refused: Mapping[str, tuple[int, bytes]], accepted: Sequence[str]) -> BotError:
        details = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())
        if accepted:
            return PermanentError(f"{self.where} accepted the email for {', '.join(accepted)} but refused {details}")
        codes = [code for code, _ in refused.values()]
        what = f"{self.where} refused every recipient: {details}"
        return TransientError(what) if codes and all(400 <= c < 500 for c in codes) else PermanentError(what)


def _envelope(
    connection: smtplib.SMTP, sender: str, recipients: list[str], wire: bytes
) -> dict[str, tuple[int, bytes]]:
    """MAIL FROM and RCPT TO as ``sendmail`` gives them; the recipients refused, as ``sendmail`` returns them."""
    connection.ehlo_or_helo_if_needed()
    options = [f"size={len(wire)}"] if connection.does_esmtp and connection.has_extn("size") else []
    code, reply = connection.mail(sender, options)
    if code != 250:
        _end_transaction(connection, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
        if code == 421:
            connection.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _end_transaction(connection, 0)
        raise smtplib.SMTPRecipientsRefused(refused)
    return refused


def _end_transaction(connection: smtplib.SMTP, code: int) -> None:
    """After a refusal: a 421 closes the connection (the server is closing it); anything else is RSET."""
    if code == 421:
        connection.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()
