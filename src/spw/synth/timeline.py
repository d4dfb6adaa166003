"""Calendar helpers: day numbers (days since 1970-01-01), month grid, ISO strings by lookup."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
# Earliest date the generator ever writes (registration of the oldest patients); the contract floor is 1900.
FIRST_DAY = date(1900, 1, 1)
NEVER = 10**7  # day number standing for "no date" (far beyond any real date)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def add_months(d: date, n: int) -> date:
    """Calendar-month arithmetic as Postgres `date + interval 'n months'` does it (day clipped)."""
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    day = min(d.day, calendar.monthrange(y, m + 1)[1])
    return date(y, m + 1, day)


def month_start(d: date) -> date:
    return d.replace(day=1)


def end_of_period(start: date, months: int, today: date) -> date:
    """Exclusive end: `months` after start, capped at the first day of the current month."""
    return min(add_months(start, months), month_start(today))


@dataclass
class Timeline:
    start: date
    end: date  # exclusive; always the first day of a month
    months: list[date] = field(init=False)
    bounds: np.ndarray = field(init=False)  # day numbers of month starts, len M + 1 (last = end)
    lengths: np.ndarray = field(init=False)  # days per month
    _iso: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.months = []
        d = self.start
        while d < self.end:
            self.months.append(d)
            d = add_months(d, 1)
        self.bounds = np.array([day_number(m) for m in [*self.months, self.end]], dtype=np.int64)
        self.lengths = np.diff(self.bounds)
        days = np.arange(np.datetime64(FIRST_DAY, "D"), np.datetime64(self.end, "D"))
        self._iso = days.astype(str).astype(object)

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def first_day(self) -> int:
        return int(self.bounds[0])

    @property
    def last_day(self) -> int:
        """Day number of the last day with data (the data cut-off)."""
        return int(self.bounds[-1]) - 1

    def iso(self, days: np.ndarray) -> np.ndarray:
        """Object array of `YYYY-MM-DD` strings for day numbers."""
        return self._iso[np.asarray(days, dtype=np.int64) - day_number(FIRST_DAY)]

    def month_of(self, days: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bounds, days, side="right") - 1

    def label(self, m: int) -> str:
        return self.months[m].strftime("%Y-%m")
