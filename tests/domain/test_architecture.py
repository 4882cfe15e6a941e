"""The domain stays pure: it imports no adapter, no service, no I/O library."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
FORBIDDEN = (
    "bot.adapters",
    "bot.service",
    "bot.wiring",
    "bot.daemon",
    "bot.cli",
    "sqlalchemy",
    "smtplib",
    "imaplib",
    "socket",
    "logging",
)


def test_domain_modules_import_nothing_with_side_effects() -> None:
    offenders = []
    for path in sorted(DOMAIN.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
    assert len(list(DOMAIN.glob("*.py"))) > 3


def test_case_states_allow_only_the_procedure_s_moves() -> None:
    import pytest

    from bot.domain.case_states import IllegalTransition, can_move, check_transition
    from bot.domain.model import CaseState as S

    assert can_move(S.AWAITING_INFORMATION, S.BOOKED)
    assert can_move(S.AWAITING_CONTACT, S.CONTACTED)
    assert not can_move(S.CANCELLED, S.BOOKED)
    with pytest.raises(IllegalTransition, match="cancelled cannot become booked"):
        check_transition(S.CANCELLED, S.BOOKED)
