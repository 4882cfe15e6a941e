"""A real Dovecot IMAP server on loopback for the tests: throw-away config, passwd file and TLS certificate.

Installed from apt by the README's test line (``dovecot-imapd``); every test that needs it
starts its own instance in a temporary folder, so nothing is shared and nothing is left.

Each instance greets with a ``login_greeting`` of its own, and is known by it: it is ready when
both its ports greet with it, and stopped when neither does, so another server that happens to
answer on one of its ports is never taken for it. Its ports come from the session's allocator
(``tests/support/ports.py``), which holds them until the session ends: once it stops, a
connection to them is refused, whoever else is busy on the machine.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from imapclient import IMAPClient

from tests.support.mail_servers import HOST, PASSWORD, Certificate
from tests.support.ports import PORTS, Ports

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
IMAP_USER = "referrals@police.example"
NOBODY = pwd.getpwnam("nobody")
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.test-access-token"

# What Dovecot 2.3 offers before and after login, less what a test wants missing.
_BASE_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE "
    "SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)


def _mail_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="strategy-bot-test-mail-"))
    folder.chmod(0o711)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def available() -> bool:
    return Path(DOVECOT).exists()


@dataclass
class Dovecot:
    """One running Dovecot; ``stop``/``start`` restart it on the same ports and mail."""

    root: Path
    cert: Certificate
    imaps_port: int
    imap_port: int
    without: tuple[str, ...] = ()
    # An OAuth 2.0 token introspection URL: logins are then XOAUTH2 with tokens it vouches for.
    introspection_url: str | None = None
    # The mail, which Dovecot reads as "nobody": outside pytest's temporary folders, since
    # every pytest session that starts makes those root's alone again (mode 0700).
    mail: Path = field(default_factory=_mail_folder)
    # What this instance, and no other, says after ``* OK``: how the tests know it is this one answering.
    greeting: str = field(default_factory=lambda: f"strategy-bot-test-dovecot-{uuid.uuid4().hex}")

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def write_config(self) -> None:
        for sub in ("run", "state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # Dovecot never delivers as root: the mail belongs to "nobody", who must reach it.
        for folder in (self.root, *self.root.parents):
            folder.chmod(folder.stat().st_mode | 0o011)
        os.chown(self.mail, NOBODY.pw_uid, NOBODY.pw_gid)
        (self.root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{PASSWORD}::::::\n")
        capabilities = " ".join(c for c in _BASE_CAPABILITIES.split() if c not in self.without)
        passdb = f"""passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}"""
        mechanisms = "plain login"
        if self.introspection_url:
            (self.root / "oauth2.conf").write_text(
                f"introspection_url = {self.introspection_url}\nintrospection_mode = post\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            )
            passdb = f"""passdb {{
  driver = oauth2
  args = {self.root}/oauth2.conf
}}"""
            mechanisms = "xoauth2 oauthbearer"
        self.config.write_text(
            f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = strategy-bot-test-{self.imaps_port}
log_path = {self.root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{self.cert.cert}
ssl_key = <{self.cert.key}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
first_valid_uid = {NOBODY.pw_uid}
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{self.mail}/%u
mailbox_list_index = no
imap_capability = {capabilities}
login_greeting = {self.greeting}
# Tests watch IDLE wake-ups; the server's own keep-alive is not what they test.
imap_idle_notify_interval = 2 mins
{passdb}
userdb {{
  driver = static
  args = uid={NOBODY.pw_uid} gid={NOBODY.pw_gid} home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
# The test's temporary folders are root's alone (mode 0700).
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
        )

    def start(self) -> None:
        # The daemon keeps inherited pipes open: its output goes to a file, never to a pipe.
        log = self.root / "start.log"
        with log.open("ab") as out:
            done = subprocess.run([DOVECOT, "-c", str(self.config)], check=False, stdout=out, stderr=out, timeout=120)
        if done.returncode != 0:
            said = log.read_text(errors="replace") + _read(self.root / "dovecot.log")
            if "Address already in use" in said:
                raise OSError(errno.EADDRINUSE, f"Dovecot could not listen on its ports; see {log}")
            raise RuntimeError(f"Dovecot did not start (exit {done.returncode}); see {log}:\n{said[-2000:]}")
        deadline = time.monotonic() + 120  # an overall bound only: a busy machine may be slow
        while time.monotonic() < deadline:
            if self.answering() == {self.imap_port, self.imaps_port}:
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"Dovecot did not greet as {self.greeting} on {HOST}:{self.imap_port} and {HOST}:{self.imaps_port}; "
            f"they say {self.greetings()}; see {self.root / 'dovecot.log'}"
        )

    def greetings(self) -> dict[int, str | None]:
        """What answers on each of this server's ports: the greeting line, or None when nothing does."""
        return {
            self.imap_port: imap_greeting(self.imap_port),
            self.imaps_port: imap_greeting(self.imaps_port, self.cert),
        }

    def answering(self) -> set[int]:
        """The ports on which this very server (by its greeting) answers now."""
        return {port for port, said in self.greetings().items() if said is not None and said.endswith(self.greeting)}

    def stop(self) -> None:
        """Stop the server and every session it serves, as a crash or a restart would."""
        pid_file = self.root / "run" / "master.pid"
        try:
            master = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        # The master's process group holds the login and imap processes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(master), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(master, signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-f", f"{self.root}/"], check=False)
        deadline = time.monotonic() + 120  # an overall bound only: a busy machine may be slow
        while self.answering():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dovecot {self.greeting} still answers after SIGKILL; see {self.root}")
            time.sleep(0.02)
        pid_file.unlink(missing_ok=True)

    def client(self) -> IMAPClient:
        """A mail client of the tests' own, over implicit TLS, logged in."""
        context = ssl.create_default_context(cafile=str(self.cert.cert))
        client = IMAPClient(HOST, port=self.imaps_port, ssl=True, ssl_context=context, timeout=120)
        if self.introspection_url:
            client.oauth2_login(IMAP_USER, ACCESS_TOKEN)
        else:
            client.login(IMAP_USER, PASSWORD)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.append(folder, raw)

    def message_ids(self, folder: str) -> list[str]:
        """The Message-IDs in ``folder``, in UID order ([] when the folder does not exist)."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
            ids = []
            for uid in sorted(fetched):
                header = fetched[uid][b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().strip()
                ids.append(header.split(":", 1)[1].strip() if ":" in header else "")
            return ids

    def set_uidvalidity(self, folder: str, value: int) -> None:
        subprocess.run(
            [
                DOVEADM,
                "-c",
                str(self.config),
                "mailbox",
                "update",
                "-u",
                IMAP_USER,
                "--uid-validity",
                str(value),
                folder,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def imap_greeting(port: int, cert: Certificate | None = None, timeout: float = 120.0) -> str | None:
    """The first line an IMAP server on ``port`` sends, over implicit TLS trusting ``cert`` when given.

    None when nothing answers there (refused, or no greeting in ``timeout`` seconds).
    """
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return None
    with contextlib.ExitStack() as stack:
        stack.enter_context(sock)
        try:
            if cert is not None:
                context = ssl.create_default_context(cafile=str(cert.cert))
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname=HOST))
            return sock.makefile("rb").readline().decode("ascii", "replace").rstrip("\r\n") or None
        except (OSError, ssl.SSLError):
            return None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def start_dovecot(
    root: Path,
    cert: Certificate,
    without: tuple[str, ...] = (),
    introspection_url: str | None = None,
    ports: Ports = PORTS,
) -> Dovecot:
    """A Dovecot of its own on two ports from ``ports``, started and greeting."""

    def start() -> Dovecot:
        server = Dovecot(root, cert, ports.take(), ports.take(), without, introspection_url)
        server.write_config()
        server.start()
        return server

    return ports.retrying(start)


REPO = Path(__file__).resolve().parents[2]
IMAP_PASSWORD_ENV = "TEST_IMAP_PASSWORD"


def bot_config(
    folder: Path,
    server: Dovecot,
    smtp_port: int,
    *,
    smtp_security: str = "none",
    smtp_login: tuple[str, str] | None = None,
    imap: dict[str, object] | None = None,
    inbox: dict[str, object] | None = None,
    smtp: dict[str, object] | None = None,
) -> Path:
    """The example config with the inbox on this Dovecot and the sender on an SMTP server on loopback.

    ``imap``, ``inbox`` and ``smtp`` add or override keys of ``[inbox.imap]``, ``[inbox]`` and
    ``[sender.smtp]``; ``smtp_login`` is (username, the variable holding the password).
    """
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', 'kind = "imap"')
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/sent"', 'kind = "smtp"')
    text = text.replace("retry_first_seconds = 30\n", "retry_first_seconds = 1\n")
    for key, value in (inbox or {}).items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {_toml(value)}", text, count=1)
    imap_keys = {
        "host": HOST,
        "port": server.imaps_port,
        "username": IMAP_USER,
        "password_env": IMAP_PASSWORD_ENV,
        "ca_file": str(server.cert.cert),
        **(imap or {}),
    }
    smtp_keys: dict[str, object] = {"host": HOST, "port": smtp_port, "security": smtp_security}
    if smtp_login:
        smtp_keys.update(username=smtp_login[0], password_env=smtp_login[1])
    smtp_keys.update(smtp or {})
    text += "\n[inbox.imap]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in imap_keys.items())
    text += "\n[sender.smtp]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in smtp_keys.items())
    path = folder / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Introspection:
    """An OAuth 2.0 token introspection endpoint (RFC 7662) on loopback, vouching for ``ACCESS_TOKEN`` only."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                active = form.get("token") == [ACCESS_TOKEN]
                body = json.dumps({"active": active, "username": IMAP_USER} if active else {"active": False})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = PORTS.retrying(lambda: ThreadingHTTPServer((HOST, PORTS.take()), Handler))
        self.url = f"http://{HOST}:{self.server.server_address[1]}/introspect"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
