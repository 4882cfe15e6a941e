"""A snippet run in a fresh interpreter that sees only this tree: what a command imports, unmixed with the tests'."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def fresh_python(cwd: Path, code: str, *args: str) -> Any:
    """Run ``code`` with ``args`` as its sys.argv[1:]; the JSON it printed on its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])
