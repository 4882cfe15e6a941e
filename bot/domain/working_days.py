"""Working days: Monday to Friday, not a bank holiday, not a configured closure day (domain.md "Words")."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
from holidays.registry import COUNTRIES

from bot.domain.rota import Schedule

_SATURDAY = 5


def _country_class(country: str) -> Any:
    """The holidays class for ``country`` (a code or alias, as ``country_holidays`` takes), its module alone imported.

    ``holidays.country_holidays`` imports ``holidays.countries``, whose ``__init__`` imports all
    250 countries (about 0.07 s, paid by every command at config load). The registry names the
    module of each code, so the one module is loaded from its file; a module that imports a
    sibling country brings in the package as usual, and the package's own copy is kept then.
    A NotImplementedError, as ``country_holidays`` raises, for a code the registry does not know.
    """
    module_name = next((module for module, names in COUNTRIES.items() if country in names), None)
    if module_name is None:
        raise NotImplementedError(f"Country {country} not available")
    full_name = f"holidays.countries.{module_name}"
    module = sys.modules.get(full_name)
    if module is None:
        path = Path(holidays.__file__).parent / "countries" / f"{module_name}.py"
        spec = importlib.util.spec_from_file_location(full_name, path)
        if spec is None or spec.loader is None:  # not a plain source file: the package's own way
            return getattr(holidays, country)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        module = sys.modules.setdefault(full_name, loaded)
    return getattr(module, country)


class WorkingDays:
    """Answers "is this a working day?" (domain.md "Words"): England and Wales by default, closure days on top."""

    def __init__(
        self, closure_days: frozenset[date] = frozenset(), country: str = "GB", subdivision: str = "ENG"
    ) -> None:
        try:
            # Built once here so an unknown country or subdivision fails at start-up, not on
            # the first request that needs a bank holiday.
            _country_class(country)(subdiv=subdivision)
        except NotImplementedError as exc:
            raise ValueError(f"bank holidays: {exc}") from None
        self._closures = frozenset(closure_days)
        self._country = country
        self._subdivision = subdivision
        # Bank holidays by year, computed once: every booking and timer asks, 300 requests/s.
        self._by_year: dict[int, frozenset[date]] = {}

    @classmethod
    def from_schedule(cls, schedule: Schedule) -> WorkingDays:
        """The working days ``schedule`` describes; a ValueError names the schedule keys when its region is unknown."""
        try:
            return cls(schedule.closure_days, schedule.bank_holidays_country, schedule.bank_holidays_subdivision)
        except ValueError:
            # Worded for the administrator: the config loader passes it on as a ConfigError.
            raise ValueError(
                f"schedule.bank_holidays_country / schedule.bank_holidays_subdivision: got "
                f"{schedule.bank_holidays_country!r} / {schedule.bank_holidays_subdivision!r}; expected a country "
                'and subdivision the holidays package knows, such as "GB" / "ENG"'
            ) from None

    def _bank_holidays(self, year: int) -> frozenset[date]:
        found = self._by_year.get(year)
        if found is None:
            table = holidays.country_holidays(self._country, subdiv=self._subdivision, years=year)
            found = frozenset(table.keys())
            self._by_year[year] = found
        return found

    def is_bank_holiday(self, day: date) -> bool:
        return day in self._bank_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        """domain.md "Words": Monday to Friday, not a bank holiday, not a closure day."""
        # Cheapest tests first: most days are settled by the weekday alone.
        return day.weekday() < _SATURDAY and day not in self._closures and not self.is_bank_holiday(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day + timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``th working day after ``day``; ``n == 0`` gives ``day`` itself, working day or not."""
        if n < 0:
            raise ValueError(f"add_working_days: got n={n}; expected 0 or more")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_after(self, start: date, end: date) -> int:
        """How many working days fall in (start, end]; 0 when ``end`` is not after ``start``."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count
