"""Working days: Monday to Friday, not a bank holiday, not a configured closure day (domain.md "Words")."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from bot.config import ScheduleConfig


class WorkingDays:
    """Answers "is this a working day?" for England and Wales by default, with closure days on top."""

    def __init__(
        self, closure_days: frozenset[date] = frozenset(), country: str = "GB", subdivision: str = "ENG"
    ) -> None:
        self._closures = closure_days
        self._country = country
        self._subdivision = subdivision
        # Bank holidays by year, computed once: this is on the hot path of every booking.
        self._by_year: dict[int, frozenset[date]] = {}

    @classmethod
    def from_schedule(cls, schedule: ScheduleConfig) -> WorkingDays:
        return cls(schedule.closure_days, schedule.bank_holidays_country, schedule.bank_holidays_subdivision)

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
        return day.weekday() < 5 and day not in self._closures and not self.is_bank_holiday(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day + timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``th working day after ``day``; ``n == 0`` gives ``day`` itself."""
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_after(self, start: date, end: date) -> int:
        """How many working days fall in (start, end]."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count
