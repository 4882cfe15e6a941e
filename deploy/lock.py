"""Print constraints.txt: every package strategy-bot needs at run time, pinned to the version installed here.

    python deploy/lock.py > constraints.txt

Walks the requirements of ``strategy-bot[graph,ews,postgresql]`` through the installed
distributions (no test tools, no build tools), so the file pins what this environment runs and
what the tests passed on. Install a deployment with ``pip install -c constraints.txt '.[...]'``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = "strategy-bot"
EXTRAS = ("graph", "ews", "postgresql")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _own_requirements(extras: tuple[str, ...]) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        for line in project["optional-dependencies"].get(extra, []):
            lines.append(f'{line} and extra == "{extra}"' if ";" in line else f'{line}; extra == "{extra}"')
    return lines


def closure() -> dict[str, str]:
    """Canonical name -> installed version of every runtime requirement, transitively."""
    pinned: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(ROOT, EXTRAS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if _key(name) == ROOT:  # from pyproject.toml, whatever the installed copy's metadata says
            lines = _own_requirements(extras)
        else:
            dist = metadata.distribution(name)
            pinned[_key(dist.metadata["Name"])] = dist.version
            lines = dist.requires or []
        for line in lines:
            req = Requirement(line)
            wanted = [extra for extra in extras if extra != "test"] or [""]
            if req.marker is not None and not any(
                req.marker.evaluate({**default_environment(), "extra": extra}) for extra in wanted
            ):
                continue
            if _key(req.name) == ROOT:
                todo.append((ROOT, tuple(sorted(e for e in req.extras if e != "test"))))
            else:
                todo.append((req.name, tuple(sorted(req.extras))))
    return pinned


def main() -> int:
    print("# Every package strategy-bot[graph,ews,postgresql] needs at run time, pinned to the versions the tests")
    print("# passed on. Regenerate in the environment the tests ran in with:  python deploy/lock.py > constraints.txt")
    print("# Install with:  pip install -c constraints.txt '.[graph]'   (or [ews], [postgresql], or none)")
    for name, version in sorted(closure().items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
