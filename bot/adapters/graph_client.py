"""Microsoft Graph over HTTPS: an app-only token from Entra ID (msal), and calls whose failures become ours.

Every call carries ``Prefer: IdType="ImmutableId"`` (a message keeps its id when it is moved,
so a key handed to the service stays good) and asks for London wall times and text bodies,
each preference in a ``Prefer`` header of its own as Microsoft's examples write them.
Throttling (429, 503, 504) is waited out in place while the waits of one call add up to no
more than ``graph.max_wait_seconds``; a call that is not safe to repeat (``once``: creating
or sending a message) is repeated only after a 429, which Graph answers without doing the
work: a 503, a 504 or a dropped connection is an ``AnswerLost`` for the caller to look into.
A longer ``Retry-After`` (seconds or an HTTP date) is a ``TransientError``, and the client
remembers it: until that time every call for that mailbox is a ``TransientError`` at once,
without a request, so a throttled tenant is not asked again by the next poll or the next
queued email. A 401 drops the cached token and the call is tried once more with a new one; a
second 401, and a 403, are not retried: they name the permission and the mailbox an
administrator has to look at. An answer the bot cannot read (not JSON, fields missing) is a
``TransientError`` naming what was being done.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from urllib3 import HTTPHeaderDict

from bot.adapters.graph_privilege import refuse_tenant_wide
from bot.config import GraphConfig
from bot.errors import BotError, PermanentError, TransientError
from bot.os_words import failure_words

log = logging.getLogger(__name__)

# The preferences sent on every call, each in a Prefer header of its own.
PREFER = ('IdType="ImmutableId"', 'outlook.timezone="Europe/London"', 'outlook.body-content-type="text"')
# Graph's answers that mean "slow down" or "busy for a moment".
THROTTLED = (429, 503, 504)
# 429 says the call was refused before any work was done; 503 and 504 may come after the work.
REFUSED_UNDONE = 429
# A throttled call is tried this many times in all before the round gives up for now.
MAX_ATTEMPTS = 5
# 404 codes that say the mailbox itself is missing, not the item asked for.
MAILBOX_MISSING = {"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "MailboxNotFound", "ResourceNotFound"}
# Entra ID sign-in errors an administrator meets, in plain words.
SIGN_IN_ERRORS = {
    "AADSTS7000215": "the client secret is wrong",
    "AADSTS7000222": "the client secret has expired",
    "AADSTS700016": "there is no app with this client id in the tenant",
    "AADSTS90002": "the tenant was not found",
    "AADSTS900023": "the tenant id is not valid",
    "AADSTS700027": "the certificate is not the one registered for the app (check graph.certificate_thumbprint)",
    "AADSTS7000112": "the app is disabled",
}


class AnswerLost(TransientError):
    """A call that is not safe to repeat may or may not have been carried out: its answer was lost."""


def segment(value: str) -> str:
    """One path segment of a Graph URL: mailbox addresses keep their @, ids are escaped whole."""
    return quote(value, safe="@")


def odata_string(value: str) -> str:
    """A string literal for an OData ``$filter``: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def graph_error(resp: requests.Response) -> tuple[str, str]:
    """Graph's error code and message from a failed answer, or the HTTP reason when the body says nothing."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or resp.status_code)
        message = " ".join(str(error.get("message") or "").split())
        return code, message[:300]
    return str(resp.status_code), resp.reason or ""


def retry_after(resp: requests.Response, attempt: int, now: datetime) -> float:
    """Seconds Graph asks us to wait: ``Retry-After`` as seconds or an HTTP date; else a short back-off."""
    value = resp.headers.get("Retry-After", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds())
    return float(2**attempt)


def body(resp: requests.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; anything else (a proxy's HTML page, a cut-off body) is a ``TransientError``."""
    try:
        value = resp.json()
    except ValueError as exc:  # requests' JSONDecodeError is a ValueError
        kind = resp.headers.get("Content-Type", "no content type").split(";")[0]
        raise TransientError(
            f"Microsoft Graph answered HTTP {resp.status_code} while {what} with something that is not JSON ({kind}); "
            "a proxy may be in the way; it will be tried again"
        ) from exc
    if not isinstance(value, dict):
        raise TransientError(
            f"Microsoft Graph answered while {what} with JSON that is not an object; it will be tried again"
        )
    return value


@contextmanager
def unexpected(what: str) -> Iterator[None]:
    """Any exception but our own inside becomes a ``TransientError`` naming Microsoft Graph and ``what``.

    Only the exception's type goes into the message and the log: its text may quote an answer.
    """
    try:
        yield
    except BotError:
        raise
    except Exception as exc:
        log.debug("unexpected failure while %s", what, exc_info=True)
        raise TransientError(
            f"something unexpected ({type(exc).__name__}) went wrong with Microsoft Graph while {what}; "
            "it will be tried again"
        ) from exc


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign_in_problem(description: str) -> str:
    for code, words in SIGN_IN_ERRORS.items():
        if code in description:
            return f"{words} ({code})"
    first = description.strip().splitlines()[0] if description.strip() else "no reason given"
    return first[:300]


class GraphClient:
    """One app registration talking to Graph: a token kept by msal until it expires, and one HTTP session.

    ``sleep`` is how throttling waits (tests pass a recorder); ``now`` dates a long wait's end.
    Graph throttles an app per mailbox, so the time it asked to be left alone is kept per mailbox.
    """

    def __init__(
        self,
        cfg: GraphConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = cfg
        self.session = session or requests.Session()
        self.sleep = sleep
        self.now = now
        parts = urlsplit(cfg.endpoint)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.scope = f"{self.origin}/.default"
        self._app: Any = None  # msal.ConfidentialClientApplication, built at the first call
        self._vetted: str | None = None  # the last token found free of tenant-wide permissions (graph_privilege)
        self._throttled_until: dict[str, datetime] = {}  # mailbox (lower case) -> when Graph said to come back

    # -- token -----------------------------------------------------------------------------

    def _credential(self) -> str | dict[str, str]:
        if self.cfg.certificate_path is not None:
            path = self.cfg.certificate_path
            try:
                pem = path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise PermanentError(f"graph.certificate_path: cannot read {str(path)!r}: {exc}") from exc
            key = re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", pem, re.S)
            if key is None:
                raise PermanentError(
                    f"graph.certificate_path: {str(path)!r} holds no private key; expected a PEM file "
                    "with the app's private key and its certificate"
                )
            credential = {"private_key": key.group(0), "thumbprint": self.cfg.certificate_thumbprint or ""}
            cert = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
            if cert is not None:
                credential["public_certificate"] = cert.group(0)
            return credential
        try:
            secret = self.cfg.client_secret()
        except ValueError as exc:  # ConfigError: the environment variable is not set
            raise PermanentError(str(exc)) from exc
        if not secret:
            raise PermanentError("graph.client_secret_env: the environment variable holds no client secret")
        return secret

    def _msal_app(self) -> Any:
        if self._app is None:
            import msal  # heavy and optional: only a Graph set-up needs it

            authority = f"{self.cfg.authority}/{self.cfg.tenant_id}"
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.cfg.client_id,
                    client_credential=self._credential(),
                    authority=authority,
                    http_client=self.session,
                    timeout=self.cfg.timeout_seconds,
                    instance_discovery=False,
                )
            except requests.RequestException as exc:
                raise TransientError(f"Entra ID at {self.cfg.authority} did not answer: {failure_words(exc)}") from exc
            except ValueError as exc:
                raise PermanentError(
                    f"Entra ID does not know the tenant {self.cfg.tenant_id!r} at {self.cfg.authority} "
                    "(check graph.tenant_id and graph.authority)"
                ) from exc
        return self._app

    def token(self) -> str:
        """An access token for Graph; msal keeps it and asks for a new one shortly before it expires."""
        app = self._msal_app()
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as exc:
            raise TransientError(f"Entra ID at {self.cfg.authority} did not answer: {failure_words(exc)}") from exc
        except ValueError as exc:  # a malformed key or certificate
            raise PermanentError(f"the app's credential could not be used: {exc}") from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if token:
            if token != self._vetted:  # a new token: no call is made with tenant-wide mailbox permissions
                refuse_tenant_wide(str(token), self.cfg)
                self._vetted = str(token)
            return str(token)
        error = str(result.get("error", "")) if isinstance(result, dict) else ""
        description = str(result.get("error_description", "")) if isinstance(result, dict) else ""
        words = (
            f"Entra ID refused a token to app {self.cfg.client_id} in tenant {self.cfg.tenant_id}: "
            f"{_sign_in_problem(description)}"
        )
        if error in ("temporarily_unavailable", "server_error") or not error:
            raise TransientError(words)
        raise PermanentError(words)

    # -- calls -----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute Graph URL: paths are taken below the configured endpoint, links from Graph as they are."""
        return path if path.startswith("https://") else f"{self.cfg.endpoint}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        need: str,
        mailbox: str,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        allow: Collection[int] = (),
        stream: bool = False,
        once: bool = False,
    ) -> requests.Response:
        """One Graph call; returns a 2xx answer or one of ``allow``, raises ``TransientError``/``PermanentError``.

        ``need`` is the application permission the call uses and ``what`` says in plain words
        what the bot was doing: both go into the error an administrator reads. With ``once``
        the call is never repeated after Graph may have carried it out (``AnswerLost``).
        """
        url = self.url(path)
        if not url.startswith(self.origin + "/"):
            raise PermanentError(f"refusing to send the Graph token to {urlsplit(url).netloc} while {what}")
        self._refuse_while_throttled(mailbox, what)
        waited = 0.0
        signed_in_again = False
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._send(method, url, params, json, data, content_type, stream)
            except requests.RequestException as exc:
                words = f"Microsoft Graph did not answer while {what} ({failure_words(exc)})"
                if once:
                    raise AnswerLost(f"{words}; it may have been done, and is looked for before trying again") from exc
                raise TransientError(f"{words}; it will be tried again") from exc
            status = resp.status_code
            if status == 401 and not signed_in_again:
                # An expired or revoked token msal still holds: forget it and sign in again, once.
                log.info("Graph answered 401 while %s; signing in again", what)
                resp.close()
                self._app, signed_in_again = None, True
                continue
            if status in THROTTLED:
                now = self.now()
                wait = retry_after(resp, attempt, now)
                resp.close()
                lost = once and status != REFUSED_UNDONE
                if lost or waited + wait > self.cfg.max_wait_seconds or attempt == MAX_ATTEMPTS:
                    until = now + timedelta(seconds=wait)
                    if not lost or waited + wait > self.cfg.max_wait_seconds:
                        self._throttled_until[mailbox.lower()] = until
                    words = f"Microsoft Graph is busy (HTTP {status}) while {what} and asks us to wait {wait:g} seconds"
                    if lost:
                        raise AnswerLost(f"{words}; it may have been done, and is looked for before trying again")
                    raise TransientError(f"{words}; no calls for mailbox {mailbox} until {utc_text(until)}")
                log.info("Graph answered %d while %s; waiting %g s as it asks", status, what, wait)
                self.sleep(wait)
                waited += wait
                continue
            if 200 <= status < 300 or (status in allow and not self._mailbox_missing(resp)):
                return resp
            raise self.failure(resp, need=need, mailbox=mailbox, what=what)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        content_type: str | None,
        stream: bool,
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        prepared = self.session.prepare_request(
            requests.Request(method, url, params=params, json=json, data=data, headers=headers)
        )
        # requests keeps one value per header name; urllib3's dict sends each Prefer on a line of its own.
        multi = HTTPHeaderDict(dict(prepared.headers))
        for preference in PREFER:
            multi.add("Prefer", preference)
        prepared.headers = multi  # type: ignore[assignment]
        settings = self.session.merge_environment_settings(prepared.url, {}, stream, None, None)
        return self.session.send(prepared, timeout=self.cfg.timeout_seconds, **settings)

    def throttled_until(self, mailbox: str) -> datetime | None:
        """When Graph said it may be called again for this mailbox, if that is still to come."""
        until = self._throttled_until.get(mailbox.lower())
        if until is not None and self.now() >= until:
            del self._throttled_until[mailbox.lower()]
            return None
        return until

    def _refuse_while_throttled(self, mailbox: str, what: str) -> None:
        until = self.throttled_until(mailbox)
        if until is not None:
            raise TransientError(
                f"Microsoft Graph asked the bot to leave mailbox {mailbox} alone until {utc_text(until)}; "
                f"not {what} before then"
            )

    @staticmethod
    def _mailbox_missing(resp: requests.Response) -> bool:
        return resp.status_code == 404 and graph_error(resp)[0] in MAILBOX_MISSING

    def failure(self, resp: requests.Response, *, need: str, mailbox: str, what: str) -> Exception:
        code, message = graph_error(resp)
        said = f"Graph said {code}: {message}" if message else f"Graph said {code}"
        status = resp.status_code
        if status == 401:  # a second one, with a token just issued
            return PermanentError(
                f"Microsoft Graph did not accept the app's sign-in while {what} in mailbox {mailbox} ({said}); "
                "check graph.tenant_id, graph.client_id and the app's credential"
            )
        if status == 403:
            return PermanentError(
                f"Microsoft Graph refused the app access while {what} in mailbox {mailbox}: the app needs the "
                f'{need} application permission for that mailbox (Exchange Online role "Application {need}" '
                f"scoped to it; see docs/outlook.md). {said}"
            )
        if self._mailbox_missing(resp):
            return PermanentError(
                f"the mailbox {mailbox} was not found in Exchange Online, or it is outside the app's scope, "
                f"while {what} ({said})"
            )
        if status >= 500:
            return TransientError(f"Microsoft Graph failed (HTTP {status}) while {what}; {said}")
        return PermanentError(f"Microsoft Graph refused the request (HTTP {status}) while {what}; {said}")

    def close(self) -> None:
        self.session.close()
