"""The shape of bot/, as allow-lists read from the source with ``ast``.

Every module under bot/ is parsed, and every import in it counts: at the top, inside functions,
under ``if TYPE_CHECKING:``. ``from package import name`` counts as importing the module
``package.name`` when there is one, else ``package``; relative imports are resolved.

- The domain imports only the standard library (less I/O), ``holidays`` and ``bot.domain``.
- The service (``bot.service``) imports only the domain, the ports, mail formatting, pure
  configuration values, errors, itself, the standard library and jinja2.
- Only wiring, the entry points and the adapters themselves import ``bot.adapters``.
- No import cycle anywhere in bot/.
- No module over 400 lines.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
MAX_LINES = 400

DOMAIN_MAY_IMPORT = ("bot.domain", "holidays")
# Standard library, but I/O or side effects: the domain takes what it needs as values.
DOMAIN_MAY_NOT_IMPORT = (
    "logging",
    "socket",
    "ssl",
    "smtplib",
    "imaplib",
    "poplib",
    "http",
    "urllib.request",
    "sqlite3",
    "subprocess",
    "multiprocessing",
    "threading",
    "asyncio",
    "shutil",
    "tempfile",
)
SERVICE = "bot.service"
SERVICE_MAY_IMPORT = (
    "bot.domain",
    "bot.ports",
    "bot.mail",
    "bot.config.schema",
    "bot.errors",
    "bot.service",
    "jinja2",
    # The compliance report's charts and CSV for the weekly email (issue 14): pure rendering.
    "bot.report",
)
ADAPTERS = "bot.adapters"
MAY_IMPORT_ADAPTERS = (
    "bot.wiring",
    "bot.cli",
    "bot.daemon",
    "bot.replay",
    "bot.demo",
    "bot.status",
    "bot.metrics",
    "bot.leadership",
    "bot.lease_status",
    "bot.store_opening",
    "bot.__main__",
    "bot.adapters",
)


@dataclass(frozen=True)
class Import:
    module: str  # the module imported, resolved
    line: int
    text: str  # the statement as written

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}"


def within(module: str, prefixes: tuple[str, ...] | str) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them."""
    if isinstance(prefixes, str):
        prefixes = (prefixes,)
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module in bot/, by dotted name."""
    found = {module_name(path): path for path in sorted(BOT.rglob("*.py"))}
    assert len(found) > 20 and "bot.domain" in found
    return found


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        text = " ".join((ast.get_source_segment(source, node) or "").split())
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno, text) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                found.append(Import(submodule if submodule in modules() else origin, node.lineno, text))
    return tuple(sorted(set(found), key=lambda i: (i.line, i.module)))


def stdlib(module: str) -> bool:
    return module.partition(".")[0] in sys.stdlib_module_names


def violations(applies: Callable[[str], bool], allowed: Callable[[str], bool]) -> Iterator[str]:
    """For each import that ``allowed`` refuses, in the modules the rule ``applies`` to:
    '<module> imports <name> (<file>, line n: <statement>)'."""
    for module in sorted(modules()):
        if applies(module):
            where = modules()[module].relative_to(BOT.parent)
            for imported in imports_of(module):
                if not allowed(imported.module):
                    yield f"{module} imports {imported.module} ({where}, {imported})"


def test_the_domain_imports_only_the_standard_library_holidays_and_itself() -> None:
    def allowed(name: str) -> bool:
        if within(name, DOMAIN_MAY_IMPORT):
            return True
        return stdlib(name) and not within(name, DOMAIN_MAY_NOT_IMPORT)

    offenders = list(violations(lambda m: within(m, "bot.domain"), allowed))
    assert offenders == [], "the domain may import only the standard library (no I/O), holidays and bot.domain:\n" + (
        "\n".join(offenders)
    )


def test_the_service_imports_only_the_domain_ports_mail_formatting_and_config_values() -> None:
    assert SERVICE in modules(), "bot/service/ is the service layer"

    def allowed(name: str) -> bool:
        return stdlib(name) or within(name, SERVICE_MAY_IMPORT)

    offenders = list(violations(lambda m: within(m, SERVICE), allowed))
    assert offenders == [], (
        "the service may import only " + ", ".join(SERVICE_MAY_IMPORT) + " and the standard library:\n"
    ) + "\n".join(offenders)


def test_only_wiring_the_entry_points_and_the_adapters_import_adapters() -> None:
    offenders = list(violations(lambda m: not within(m, MAY_IMPORT_ADAPTERS), lambda name: not within(name, ADAPTERS)))
    assert offenders == [], (
        "only " + ", ".join(MAY_IMPORT_ADAPTERS) + " may import bot.adapters:\n" + "\n".join(offenders)
    )


def import_graph() -> dict[str, dict[str, Import]]:
    """bot's modules and, for each, the bot modules it imports (with the first import of each)."""
    graph: dict[str, dict[str, Import]] = {}
    for module in modules():
        edges: dict[str, Import] = {}
        for imported in imports_of(module):
            if imported.module in modules() and imported.module != module:
                edges.setdefault(imported.module, imported)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) through each group of modules that import each other."""
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return [shortest_cycle(graph, group) for group in groups]


def shortest_cycle(graph: dict[str, dict[str, Import]], group: list[str]) -> list[str]:
    """The shortest path from the group's first module back to itself, within the group."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {group}")


def test_no_import_cycle_in_bot() -> None:
    graph = import_graph()
    found = cycles(graph)
    report = []
    for cycle in found:
        steps = [
            f"  {a} -> {b} ({modules()[a].relative_to(BOT.parent)}, {graph[a][b]})"
            for a, b in itertools.pairwise(cycle)
        ]
        report.append(" -> ".join(cycle) + "\n" + "\n".join(steps))
    assert found == [], "import cycles in bot/ (imports inside functions and TYPE_CHECKING count):\n" + "\n".join(
        report
    )


def test_the_cycle_finder_finds_a_cycle_and_names_its_path() -> None:
    """The cycle test can fail: a graph with a cycle gives its path, one without gives nothing."""
    edge = Import("x", 1, "import x")
    graph = {"a": {"b": edge}, "b": {"c": edge}, "c": {"a": edge, "d": edge}, "d": {}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b": edge}, "b": {}}) == []


def test_no_module_in_bot_is_over_400_lines() -> None:
    lengths = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    over = [
        f"{m} ({modules()[m].relative_to(BOT.parent)}): {n} lines" for m, n in sorted(lengths.items()) if n > MAX_LINES
    ]
    assert over == [], f"modules over {MAX_LINES} lines:\n" + "\n".join(over)


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("bot.domain.slots", "bot.domain.working_days", True),
        ("bot.domain.slots", "holidays", True),
        ("bot.domain.slots", "zoneinfo", True),
        ("bot.domain.slots", "bot.config", False),
        ("bot.domain.slots", "logging", False),
        ("bot.domain.slots", "sqlalchemy", False),
    ],
)
def test_the_domain_rule_can_refuse(module: str, name: str, expected: bool) -> None:
    allowed = within(name, DOMAIN_MAY_IMPORT) or (stdlib(name) and not within(name, DOMAIN_MAY_NOT_IMPORT))
    assert allowed is expected


def test_relative_and_from_imports_resolve_to_modules() -> None:
    """``from bot.domain import model`` is the module bot.domain.model; the walk sees imports in functions."""
    some_domain = [m for m in modules() if within(m, "bot.domain") and m != "bot.domain"]
    assert some_domain
    resolved = {i.module for m in modules() for i in imports_of(m)}
    assert "bot.domain.model" in resolved
    assert not any(name.startswith(".") for name in resolved)


def test_case_states_allow_only_the_procedure_s_moves() -> None:
    from bot.domain.case_states import IllegalTransition, can_move, check_transition
    from bot.domain.model import CaseState as S

    assert can_move(S.AWAITING_INFORMATION, S.BOOKED)
    assert can_move(S.AWAITING_CONTACT, S.CONTACTED)
    assert not can_move(S.CANCELLED, S.BOOKED)
    with pytest.raises(IllegalTransition, match="cancelled cannot become booked"):
        check_transition(S.CANCELLED, S.BOOKED)
