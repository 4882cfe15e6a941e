"""The board's Starlette application: the page, its fragment (fetched by board.js), the charts, the files.

Read-only. ``now`` comes from a clock passed in (the system clock in the daemon, a fixed one in
tests); every answer is computed from the store at that ``now``. No inline script: the page
loads /static/board.js, which fetches /fragment every ``refresh_seconds`` and counts down.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.board.access import Access, Guard
from bot.domain.compliance_figures import TIMESCALES, TITLES
from bot.ports import Clock
from bot.service.board import Board, board
from bot.service.compliance import compliance_figures
from bot.service.setup import Setup

CHARTS = (*TIMESCALES, "callback_minutes")
CHART_TITLES = {**TITLES, "callback_minutes": "Police call-back: minutes from the request"}


def _left(seconds: float) -> str:
    """The countdown as the page first shows it (board.js keeps it going): "25:30 left", "1:02:00 overdue"."""
    whole = int(abs(seconds))
    hours, minutes, secs = whole // 3600, whole % 3600 // 60, whole % 60
    shown = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{shown} left" if seconds > 0 else f"{shown} overdue"


class BoardApp:
    """The routes over one store; charts drawn once per minute of ``now`` and kept."""

    def __init__(self, setup: Setup, clock: Clock, refresh_seconds: int) -> None:
        self.setup = setup
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.tz = setup.tz
        env = Environment(loader=PackageLoader("bot.board", "templates"), autoescape=select_autoescape(["j2"]))
        env.filters["hhmm"] = lambda m: f"{m.astimezone(self.tz):%H:%M}"
        env.filters["when"] = lambda m: f"{m.astimezone(self.tz):%a %d %b %H:%M}"
        env.filters["day"] = lambda d: f"{d:%A %d %B %Y}"
        env.globals["left"] = _left
        self.env = env
        self._charts: tuple[str, dict[str, bytes]] | None = None
        self._lock = threading.Lock()

    def _board(self) -> Board:
        return board(self.setup, self.clock.now())

    def _render(self, name: str, view: Board) -> str:
        stamp = f"{view.now:%Y%m%d%H%M}"
        context = {"b": view, "charts": [(c, CHART_TITLES[c]) for c in CHARTS], "stamp": stamp}
        return self.env.get_template(name).render(**context, refresh=self.refresh_seconds)

    async def page(self, request: Request) -> Response:
        return HTMLResponse(self._render("board.html.j2", self._board()))

    async def fragment(self, request: Request) -> Response:
        return HTMLResponse(self._render("_fragment.html.j2", self._board()))

    async def chart(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in CHARTS:
            return PlainTextResponse("no such chart\n", status_code=404)
        return Response(self.charts(self.clock.now())[name], media_type="image/png")

    def charts(self, now: datetime) -> dict[str, bytes]:
        """This week's charts (Monday to Sunday of ``now``), drawn at most once a minute."""
        from bot.report.charts import all_charts  # matplotlib: loaded when the first chart is asked for

        key = f"{now:%Y%m%d%H%M}"
        with self._lock:
            if self._charts is None or self._charts[0] != key:
                today = now.astimezone(self.tz).date()
                monday = today - timedelta(days=today.weekday())
                sunday = monday + timedelta(days=6)
                figures = compliance_figures(self.setup.store, self.setup.policy, monday, sunday, now)
                self._charts = (key, all_charts(figures))
            return self._charts[1]


def create_app(setup: Setup, clock: Clock, access: Access, refresh_seconds: int = 30) -> Guard:
    """The board as an ASGI application, every request through ``access`` first."""
    routes = BoardApp(setup, clock, refresh_seconds)
    app = Starlette(
        routes=[
            Route("/", routes.page),
            Route("/fragment", routes.fragment),
            Route("/chart/{name}.png", routes.chart),
            Mount("/static", StaticFiles(packages=[("bot.board", "static")]), name="static"),
        ]
    )
    return Guard(app, access)
