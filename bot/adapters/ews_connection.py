"""One Exchange mailbox over EWS (exchangelib): the account made on first use, bounded retries, errors in words.

Shared by the EWS inbox, sender and calendar (``bot.adapters.ews``). exchangelib runs with
``FailFast`` so it never sleeps or retries on its own; this module honours an
``ErrorServerBusy`` back-off in place, through an injectable ``sleep``, while the waits of
one call add up to no more than ``ews.max_wait_seconds``. Otherwise it gives up with a
``TransientError`` and remembers the back-off: until it has passed, every call on that
mailbox is a ``TransientError`` at once, without a request, so a busy server is not asked
again by the next poll or the next queued email. Bad credentials and refused access are
``PermanentError`` at once: retrying a wrong password only locks the service account out.
Anything else that goes wrong, an answer that is not EWS included, is a ``TransientError``
naming Exchange and what was being done.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from exchangelib import (
    DELEGATE,
    IMPERSONATION,
    Account,
    Build,
    Configuration,
    Credentials,
    FailFast,
    Version,
)
from exchangelib.errors import (
    CASError,
    ErrorAccessDenied,
    ErrorFolderNotFound,
    ErrorImpersonateUserDenied,
    ErrorImpersonationDenied,
    ErrorImpersonationFailed,
    ErrorInternalServerTransientError,
    ErrorInvalidRecipients,
    ErrorInvalidSmtpAddress,
    ErrorMailboxLogonFailed,
    ErrorMessageSizeExceeded,
    ErrorMimeContentConversionFailed,
    ErrorMimeContentInvalid,
    ErrorNonExistentMailbox,
    ErrorQuotaExceeded,
    ErrorSendAsDenied,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    MalformedResponseError,
    RateLimitError,
    RedirectError,
    SOAPError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.ewsdatetime import EWSTimeZone
from exchangelib.protocol import BaseProtocol

from bot.config import ConfigError, EwsConfig
from bot.errors import BotError, PermanentError, TransientError
from bot.os_words import network_words

log = logging.getLogger(__name__)

T = TypeVar("T")

# The Exchange 2016 schema, spoken by Exchange 2016, 2019 and Subscription Edition. Giving it
# saves the version probe; an older server answers ErrorInvalidServerVersion and exchangelib
# steps down to the schema it accepts.
EXCHANGE_BUILD = Build(15, 1, 2507, 6)
LONDON = ZoneInfo("Europe/London")
# How many times one call is tried in all while the server asks us to back off.
MAX_ATTEMPTS = 4
# A busy server that names no back-off gets this many seconds (exchangelib's own default).
DEFAULT_BACK_OFF = 10.0

_IMPERSONATION_REFUSED = (ErrorImpersonateUserDenied, ErrorImpersonationDenied, ErrorImpersonationFailed)
_ACCESS_REFUSED = (ErrorAccessDenied, ErrorMailboxLogonFailed, *_IMPERSONATION_REFUSED)
_MAIL_REFUSED = (
    ErrorInvalidRecipients,
    ErrorInvalidSmtpAddress,
    ErrorMessageSizeExceeded,
    ErrorMimeContentConversionFailed,
    ErrorMimeContentInvalid,
    ErrorQuotaExceeded,
    ErrorSendAsDenied,
)


def _words(exc: BaseException) -> str:
    """An exception's message on one line, never the SOAP it may quote at length; a socket's error in words."""
    if (words := network_words(exc)) is not None:
        return words  # "connection refused", not urllib3's text with "[Errno 111]" inside
    text = " ".join(str(exc.args[0] if exc.args else exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class CaFileAdapter(requests.adapters.HTTPAdapter):
    """Trusts a council's own CA for the EWS hosts configured with ``ews.ca_file``; the system's for the rest.

    exchangelib makes its HTTP sessions itself, so its documented hook is the class attribute
    ``BaseProtocol.HTTP_ADAPTER_CLS``; this adapter is installed there once, and only changes
    anything for the hosts registered in ``CA_FILES``. Certificates are always checked.
    """

    CA_FILES: ClassVar[dict[str, str]] = {}

    def _verify(self, url: str, verify: Any) -> Any:
        if verify is True:
            return self.CA_FILES.get((urlsplit(url).hostname or "").lower(), True)
        return verify

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, self._verify(url, verify), cert)  # type: ignore[no-untyped-call]

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None, cert: Any = None) -> Any:
        return super().get_connection_with_tls_context(request, self._verify(request.url, verify), proxies, cert)

    @classmethod
    def trust(cls, endpoint: str, ca_file: Path) -> None:
        if not ca_file.is_file():
            raise ConfigError(f"ews.ca_file: {str(ca_file)!r} is not a file; expected the CA certificate (PEM)")
        cls.CA_FILES[(urlsplit(endpoint).hostname or "").lower()] = str(ca_file)
        if not issubclass(BaseProtocol.HTTP_ADAPTER_CLS, CaFileAdapter):
            BaseProtocol.HTTP_ADAPTER_CLS = CaFileAdapter


class _NoSoapInLogs(logging.Filter):
    """exchangelib logs whole SOAP requests and answers (message bodies, names) on failures and at debug level.

    The record is kept, so a failure still shows in the log, but its text is replaced.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is exchangelib's bug, not a reason to crash
            text = str(record.msg)
        if "<?xml" in text or "Envelope" in text or "XML:" in text:
            first = text.split("\n", 1)[0][:200]
            record.msg, record.args = "%s [SOAP withheld from the log: it may carry personal data]", (first,)
        return True


def quiet_exchangelib() -> None:
    """Withhold the SOAP in exchangelib's log records; idempotent."""
    for name in ("exchangelib.util", "exchangelib.util.xml", "exchangelib.services.common"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoSoapInLogs) for f in logger.filters):
            logger.addFilter(_NoSoapInLogs())


class EwsMailbox:
    """One mailbox on the Exchange server, reached with the service account.

    Access is tried as ApplicationImpersonation first and, if the server refuses to let the
    service account impersonate, as a delegate with FullAccess: the administrator grants
    either (docs/outlook.md, "Exchange Server on premises").
    """

    def __init__(
        self,
        cfg: EwsConfig,
        address: str,
        role: str,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = cfg
        self.address = address
        self.role = role  # "referral mailbox", "strategy calendar": who we are, in the errors
        self.sleep = sleep
        self.now = now
        self._busy_until: datetime | None = None  # when the server said it may be asked again
        self._account: Any = None
        self._lock = threading.RLock()
        if cfg.ca_file is not None:
            CaFileAdapter.trust(cfg.endpoint, cfg.ca_file)
        quiet_exchangelib()

    # -- the account ------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"the server Autodiscover finds for {self.address}" if self.cfg.autodiscover else self.cfg.endpoint

    def account(self) -> Any:
        """The exchangelib ``Account``, made and proved (one GetFolder) on first use."""
        with self._lock:
            if self._account is None:
                self._account = self._open()
            return self._account

    def _open(self) -> Any:
        try:
            password = self.cfg.password()
        except ConfigError as exc:
            raise PermanentError(str(exc)) from exc
        credentials = Credentials(self.cfg.username, password)
        auth_type = "NTLM" if self.cfg.auth_type.upper() == "NTLM" else "basic"
        refused: EWSError | None = None
        for access_type in (IMPERSONATION, DELEGATE):
            config = Configuration(
                service_endpoint=None if self.cfg.autodiscover else self.cfg.endpoint,
                credentials=credentials,
                auth_type=auth_type,
                version=Version(build=EXCHANGE_BUILD),
                retry_policy=FailFast(),
            )
            account = self._attempt(
                "connecting",
                partial(
                    Account,
                    primary_smtp_address=self.address,
                    config=config,
                    autodiscover=self.cfg.autodiscover,
                    access_type=access_type,
                    default_timezone=EWSTimeZone.from_timezone(LONDON),
                ),
            )
            account.protocol.TIMEOUT = self.cfg.timeout_seconds
            try:
                # The first request: proves the login and the access to the mailbox.
                self._attempt("opening the mailbox", partial(getattr, account, "root"))
            except _IMPERSONATION_REFUSED as exc:
                log.info("impersonation of the %s refused; trying delegate (FullAccess) access", self.role)
                refused = exc
                continue
            log.info("opened the %s on %s with %s access", self.role, self.where, access_type)
            return account
        raise self._permanent(refused or ErrorAccessDenied("access denied"), "opening the mailbox")

    # -- calls --------------------------------------------------------------------------------

    def call(self, what: str, fn: Callable[[Any], T]) -> T:
        """``fn(account)``, with ErrorServerBusy waited out in place; every failure as our own error, in words."""
        self._refuse_while_busy(what)
        try:
            account = self.account()
            return self._attempt(what, lambda: fn(account))
        except BotError:  # ours already, SlotTaken included
            raise
        except UnauthorizedError as exc:
            raise self._permanent(exc, what) from exc
        except _ACCESS_REFUSED + (ErrorNonExistentMailbox,) as exc:
            raise self._permanent(exc, what) from exc
        except _MAIL_REFUSED as exc:
            raise PermanentError(f"Exchange refused {what} for the {self.role}: {_words(exc)}") from exc
        except RedirectError as exc:
            raise PermanentError(
                f"{self.cfg.endpoint} redirects elsewhere ({_words(exc)}); set ews.endpoint to the EWS URL itself"
            ) from exc
        except ErrorTimeoutExpired as exc:
            raise TransientError(f"cannot reach Exchange at {self.where} while {what}: {_words(exc)}") from exc
        except TransportError as exc:
            if _is_tls_failure(exc):
                raise PermanentError(
                    f"TLS certificate check failed for {self.where}: {_words(exc)}; "
                    "set ews.ca_file to the CA that signed the server's certificate"
                ) from exc
            other = _not_ews(exc)
            if other is not None:
                raise TransientError(
                    f"Exchange at {self.where} answered {other} while {what} (a proxy or a sign-in page in the way?); "
                    "it will be tried again"
                ) from exc
            raise TransientError(f"Exchange at {self.where} failed while {what}: {_words(exc)}") from exc
        except (CASError, EWSError) as exc:
            raise TransientError(f"Exchange at {self.where} failed while {what}: {_words(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"cannot reach Exchange at {self.where} while {what}: {_words(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - an answer exchangelib or we could not use: never a traceback
            raise self._unexpected(exc, what) from exc

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """For work on what the server answered done outside ``call``: a surprise becomes a ``TransientError``."""
        try:
            yield
        except BotError:
            raise
        except Exception as exc:  # noqa: BLE001 - the same promise as call(): never a traceback
            raise self._unexpected(exc, what) from exc

    def _unexpected(self, exc: BaseException, what: str) -> TransientError:
        # Only the type: the text of an exception may quote what the server answered.
        log.debug("unexpected failure while %s", what, exc_info=True)
        return TransientError(
            f"something unexpected ({type(exc).__name__}) went wrong with Exchange at {self.where} while {what}; "
            "it will be tried again"
        )

    def busy_until(self) -> datetime | None:
        """When the server said it may be asked again, if that is still to come."""
        if self._busy_until is not None and self.now() >= self._busy_until:
            self._busy_until = None
        return self._busy_until

    def _refuse_while_busy(self, what: str) -> None:
        until = self.busy_until()
        if until is not None:
            raise TransientError(
                f"Exchange at {self.where} asked the bot to wait until {_utc_text(until)}; not {what} before then"
            )

    def _attempt(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, waiting out a busy server's back-off up to ``max_wait_seconds`` in all."""
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return fn()
            except (ErrorServerBusy, RateLimitError, ErrorInternalServerTransientError) as exc:
                back_off = float(getattr(exc, "back_off", None) or getattr(exc, "wait", None) or DEFAULT_BACK_OFF)
                if attempt == MAX_ATTEMPTS or waited + back_off > self.cfg.max_wait_seconds:
                    until = self.now() + timedelta(seconds=back_off)
                    self._busy_until = until
                    raise TransientError(
                        f"Exchange at {self.where} is busy while {what} and asks us to wait {back_off:g} s; "
                        f"no calls to it for the {self.role} until {_utc_text(until)}"
                    ) from exc
                log.warning("Exchange is busy while %s; waiting %g s as it asks", what, back_off)
                self.sleep(back_off)
                waited += back_off
        raise AssertionError("unreachable")  # pragma: no cover

    def _permanent(self, exc: BaseException, what: str) -> PermanentError:
        if isinstance(exc, UnauthorizedError):
            return PermanentError(
                f"login for user {self.cfg.username!r} refused at {self.where} while {what}: "
                "check the user name, the password in the environment variable "
                f"{self.cfg.password_env} and ews.auth_type ({self.cfg.auth_type})"
            )
        if isinstance(exc, ErrorNonExistentMailbox):
            return PermanentError(f"the {self.role} {self.address} does not exist on {self.where}")
        return PermanentError(
            f"access to the {self.role} {self.address} denied for {self.cfg.username!r} while {what} "
            f"({type(exc).__name__}): the service account needs ApplicationImpersonation or FullAccess on it"
        )

    # -- folders --------------------------------------------------------------------------------

    def problems(self, probe: Callable[[Any], object], what: str) -> list[str]:
        """What stops this mailbox working, in words: empty when ``probe(account)`` succeeds."""
        try:
            self.call(what, probe)
        except (PermanentError, TransientError) as exc:
            return [str(exc)]
        return []

    def close(self) -> None:
        with self._lock:
            if self._account is not None:
                self._account.protocol.close()
                self._account = None


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_ews(exc: BaseException) -> str | None:
    """What came back instead of EWS's SOAP (a proxy's page, a sign-in form), in words; None for a real EWS error."""
    text = str(exc.args[0] if exc.args else "")
    status = re.match(r"Unknown failure in response\. Code: (\d+)", text)
    if status:
        return f"HTTP {status.group(1)} with something that is not an EWS answer"
    if isinstance(exc, MalformedResponseError) or (
        isinstance(exc, SOAPError) and text.startswith(("Bad SOAP response", "Unknown SOAP response"))
    ):
        return "something that is not an EWS answer"
    return None


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_gone(exc: BaseException) -> bool:
    """An item or folder the server no longer has (moved, deleted): for the callers to whom that is fine."""
    from exchangelib.errors import ErrorInvalidIdMalformed, ErrorItemNotFound

    return isinstance(exc, ErrorItemNotFound | ErrorInvalidIdMalformed | ErrorFolderNotFound)
