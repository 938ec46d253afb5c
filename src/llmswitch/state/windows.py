"""Fixed counting windows: the minute, the UTC day, the UTC month (gateway key limits, provider usage)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["Period", "Window", "window"]

Period = Literal["minute", "day", "month"]


@dataclass(frozen=True, slots=True)
class Window:
    """One fixed counting window: its id (part of the counter's key) and when it ends."""

    key: str
    ends: float  # epoch seconds


def window(period: Period, now: float) -> Window:
    if period == "minute":
        start = int(now // 60)
        return Window(f"m{start}", (start + 1) * 60.0)
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    if period == "day":
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        return Window(f"d{day.isoformat()}", end.timestamp())
    first_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end = dt.datetime.combine(first_next, dt.time(), dt.UTC)
    return Window(f"M{day.year}-{day.month:02d}", end.timestamp())
