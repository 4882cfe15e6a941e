"""Faults in words: PostgreSQL's storage errors name the server without its password; socket errors never an errno.

The SQLite faults are proven on real files in tests/e2e/test_storage_faults.py and
test_real_disk_faults.py; here, the same wording for PostgreSQL's error classes (a real
server cannot be filled or corrupted in a test), and the words a refused or unknown host gives
through requests and smtplib, on real sockets.
"""

from __future__ import annotations

import smtplib

import psycopg.errors
import pytest
import requests

from bot.os_words import network_words, os_error_words
from bot.storage_faults import storage_fault
from tests.support.ports import Ports

URL = "postgresql+psycopg://strategy_bot:s3cret@db.council.example:5432/strategy_bot"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (psycopg.errors.DiskFull("could not extend file"), "the disk of the database server {} is full"),
        (psycopg.errors.ReadOnlySqlTransaction("read-only"), "the database {} is read-only (a standby?)"),
        (psycopg.errors.DataCorrupted("invalid page"), "the database {} reports corrupt data: restore from backup"),
    ],
)
def test_postgresql_storage_faults_name_the_server_never_its_password(error: Exception, said: str) -> None:
    line = storage_fault(error, URL)
    assert line is not None
    assert said.format("postgresql+psycopg://strategy_bot:***@db.council.example:5432/strategy_bot") in line
    assert "s3cret" not in line


def test_a_server_that_is_down_is_not_a_storage_fault() -> None:
    assert storage_fault(psycopg.errors.AdminShutdown("terminating connection"), URL) is None
    assert storage_fault(ConnectionRefusedError(111, "Connection refused"), URL) is None  # no file: the network


def test_a_refused_connection_is_said_in_words_through_every_library(ports: Ports) -> None:
    port = ports.take()  # held, listened on by nothing
    assert ports.refuses(port)
    with pytest.raises(requests.RequestException) as through_requests:
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert network_words(through_requests.value) == "connection refused"
    assert "Errno" in str(through_requests.value)  # what the library itself says
    with pytest.raises(OSError) as through_smtplib:
        smtplib.SMTP("127.0.0.1", port, timeout=5)
    assert network_words(through_smtplib.value) == "connection refused"
    assert os_error_words(PermissionError(13, "Permission denied", "/var/lib/strategy-bot")) == (
        "permission denied on /var/lib/strategy-bot"
    )
