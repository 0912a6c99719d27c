"""Business days: weekdays that are not weekend days nor holidays, in the MSP's time zone.

"No response after eight business days" is counted on the MSP's calendar, so the
date of an instant is taken in the configured zone (a Friday-evening change in New
York is already Saturday in UTC). Holidays are explicit dates, plus a country's (and
region's) public holidays from the ``holidays`` package when one is configured.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "public_holidays"]


def public_holidays(country: str | None, subdivision: str | None = None) -> Container[date]:
    """The public holidays of ``country`` (and ``subdivision``), any year; none without a country."""
    if not country:
        return frozenset()
    import holidays  # only where a country is configured: the package is large

    return holidays.country_holidays(country, subdiv=subdivision)


class BusinessCalendar:
    """Which days count, and instants a number of business days later."""

    def __init__(
        self,
        holidays: Iterable[date] = (),
        weekend: Iterable[int] = (5, 6),
        zone: str | tzinfo = "UTC",
        public: Container[date] = frozenset(),
    ):
        self.holidays = frozenset(holidays)
        self.public = public
        self.weekend = frozenset(weekend)
        self.zone: tzinfo = ZoneInfo(zone) if isinstance(zone, str) else zone

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays and day not in self.public

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The instant ``days`` business days after ``start``, at the same local time of day.

        Counting starts on the day after ``start``: a change on Friday at 10:00 with
        ``days=1`` is due on Monday at 10:00, and so is one made on Saturday at 10:00.
        """
        local = start.astimezone(self.zone)
        day = local.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        naive = datetime.combine(day, local.time().replace(tzinfo=None))
        return naive.replace(tzinfo=self.zone).astimezone(UTC)
