"""Real mail servers for the tests, on loopback: a throw-away CA, a recording aiosmtpd server, and a
scripted line server for the misbehaviour real servers will not show on cue.

Loaded as a pytest plugin by ``tests/conftest.py``. Every server takes its port from the session's
allocator (``tests/support/ports.py``), and a test that uses these fixtures is marked ``servers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.ports import HOST, PORTS, Ports, free_port

__all__ = ["HOST", "free_port"]  # re-exported for bench/latency.py

USER = "strategy-bot"
PASSWORD = "correct horse battery staple"


# -- a throw-away certificate authority ----------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed(folder: Path, name: str) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / f"{name}.crt", folder / f"{name}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="session")
def ports() -> Ports:
    """The session's port allocator; a test that asks for it is marked ``servers``."""
    return PORTS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    """The servers' throw-away certificates; a test that asks for them is marked ``servers``."""
    folder = tmp_path_factory.mktemp("certs")
    return {"server": self_signed(folder, "test-smtp"), "stranger": self_signed(folder, "stranger")}


def server_context(cert: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context


def trusting(cert: Certificate) -> ssl.SSLContext:
    """A client context that trusts only ``cert``, with hostname checks on as in production."""
    return ssl.create_default_context(cafile=str(cert.cert))


# -- a recording SMTP server -----------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: Any  # the client's (host, port): the same for mail sent over one connection
    login: bytes | None


@dataclass
class RecordingHandler:
    """Keeps what arrives; ``refuse`` and ``data_reply`` make the server say no."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    connections: list[Any] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if server not in self.connections:
            self.connections.append(server)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply is not None:
            return self.data_reply
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.peer, login)
        )
        return "250 OK queued"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd then sends the standard 535 reply itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def smtp_greeting(port: int, implicit_tls: bool = False, timeout: float = 120.0) -> str | None:
    """The first line a server on ``port`` sends (None if nothing answers there)."""
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return None
    with contextlib.ExitStack() as stack:
        stack.enter_context(sock)
        if implicit_tls:
            # Only the greeting is read: whose it is, not whether its certificate is trusted.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = stack.enter_context(context.wrap_socket(sock))
        try:
            return sock.makefile("rb").readline().decode("ascii", "replace").rstrip("\r\n")
        except OSError:
            return None


@dataclass
class SmtpServer:
    handler: RecordingHandler
    controller: Controller
    port: int
    # The name the server gives in its greeting (``220 <name> ...``), unique to this server.
    name: str = ""
    implicit_tls: bool = False

    def greets(self) -> bool:
        """Whether this very server answers on its port (not merely something)."""
        greeting = smtp_greeting(self.port, self.implicit_tls)
        return greeting is not None and greeting.startswith(f"220 {self.name} ")

    def drop_connections(self) -> None:
        """Close every client connection from the server side, as an idle timeout does."""

        async def close_all() -> None:
            for server in self.handler.connections:
                if server.transport is not None:
                    server.transport.close()
            self.handler.connections.clear()

        asyncio.run_coroutine_threadsafe(close_all(), self.controller.loop).result(timeout=120)


@pytest.fixture
def start_server(ports: Ports) -> Iterator[Callable[..., SmtpServer]]:
    running: list[Controller] = []

    def start(**smtp_options: Any) -> SmtpServer:
        handler = RecordingHandler()
        name = f"smtp-{uuid.uuid4().hex[:12]}.strategy-bot.test"

        def bind() -> SmtpServer:
            port = ports.take()
            options = {"ready_timeout": 120.0, **smtp_options}  # aiosmtpd's 5 s is too short on a busy machine
            controller = Controller(handler, hostname=HOST, port=port, server_hostname=name, **options)
            controller.start()
            running.append(controller)
            return SmtpServer(handler, controller, port, name, implicit_tls="ssl_context" in smtp_options)

        server = ports.retrying(bind)
        if not server.greets():
            raise RuntimeError(f"the SMTP server {name} does not answer on {HOST}:{server.port}")
        return server

    yield start
    for controller in running:
        if controller._thread is not None:  # stopped already by the test
            controller.stop()


@pytest.fixture
def submission_options(certs: dict[str, Certificate]) -> dict[str, Any]:
    """aiosmtpd options for a submission server as the bot meets it: STARTTLS required, then AUTH."""
    return {
        "tls_context": server_context(certs["server"]),
        "require_starttls": True,
        "auth_required": True,
        "auth_require_tls": True,
        "authenticator": authenticator,
    }


@pytest.fixture
def smtps_options(certs: dict[str, Certificate]) -> dict[str, Any]:
    """aiosmtpd options for implicit TLS (port 465 style) with AUTH required.

    aiosmtpd counts only STARTTLS as TLS, so ``auth_require_tls`` is off: this whole
    connection is TLS from the start (it warns about that; the tests filter the warning).
    """
    return {
        "ssl_context": server_context(certs["server"]),
        "auth_required": True,
        "auth_require_tls": False,
        "authenticator": authenticator,
    }


# -- a scripted line server ------------------------------------------------------------------


class LineServer:
    """A TCP server on loopback that sends ``greeting`` and answers each line with ``answer(line)``.

    ``answer`` returns the bytes to send and whether to keep the connection open; for a server
    that turns clients away, or accepts STARTTLS and then hangs up, as real ones do on a bad day.
    """

    def __init__(
        self, greeting: bytes, answer: Callable[[bytes], tuple[bytes, bool]] | None = None, ports: Ports = PORTS
    ) -> None:
        self.greeting = greeting
        self.answer = answer or (lambda line: (b"", False))
        self.connections = 0
        self._stop = threading.Event()
        self._listener = ports.retrying(lambda: socket.create_server((HOST, ports.take())))
        self._listener.settimeout(0.1)  # to notice ``close``
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                conn.settimeout(10)
                conn.sendall(self.greeting)
                lines = conn.makefile("rb")
                for line in lines:
                    reply, keep_open = self.answer(line)
                    conn.sendall(reply)
                    if not keep_open:
                        break
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        self._listener.close()


@pytest.fixture
def line_server(ports: Ports) -> Iterator[Callable[..., LineServer]]:
    running: list[LineServer] = []

    def start(greeting: bytes, answer: Callable[[bytes], tuple[bytes, bool]] | None = None) -> LineServer:
        server = LineServer(greeting, answer, ports)
        running.append(server)
        return server

    yield start
    for server in running:
        server.close()
