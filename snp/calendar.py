"""Calendar of a CPTS: time zones, public holidays, office hours, priority deadlines.

Everything here is pure (no database, no clock): callers pass the instants they
care about. The conventions every function follows:

* **Storage and arithmetic are in UTC.** Functions that take or return instants use
  aware ``datetime`` objects; a naive datetime is refused (`NaiveDatetimeError`),
  because guessing its zone is how deadlines end up one or two hours off.
* **Rules are written in local wall-clock time** of the CPTS (office hours, the
  20:00 closing, a weekly 09:00 plage), because that is how people state them. Each
  CPTS has its own zone, derived from its département (`zone_for_departement`).
* **Local → UTC resolution** (`local_to_utc`) is the single place where a local date
  and clock time become an instant. On the spring-forward day a *nonexistent* local
  time (02:30 in Europe/Paris) shifts forward to the first instant after the gap
  (03:00 local, 01:00 UTC), and on the fall-back day an *ambiguous* local time takes
  its first occurrence (``fold=0``, the summer-time one). So a window keeps exactly
  the instants the local clock shows inside it: 01:30–03:30 lasts one real hour on
  spring-forward night, and a window wholly inside the gap is empty that night.
* **Half-open intervals** ``[start, end)`` everywhere: a clock time named as a
  boundary (20:00 closing, 18:00 roll-over cutoff) is the first instant on the
  *other* side of that boundary.

Public holidays come from the ``holidays`` package, with the subdivision that the
département needs (the overseas départements have their own days, Moselle and
Alsace have Good Friday and Saint Stephen's day).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "DEFAULT_PRIORITY_POLICY",
    "DEPARTEMENT_TIME_ZONES",
    "FRENCH_HOLIDAYS",
    "CptsCalendar",
    "DeadlineRule",
    "DefaultPriority",
    "FrenchHolidays",
    "LocalWindow",
    "NaiveDatetimeError",
    "OfficeHours",
    "OutOfHoursError",
    "PriorityClass",
    "PriorityPolicy",
    "TimeZoneForDepartement",
    "UnknownDepartementError",
    "UnknownPriorityError",
    "is_office_time",
    "is_public_holiday",
    "local_date",
    "local_day_number",
    "local_iso_week",
    "local_to_utc",
    "normalize_departement",
    "office_windows",
    "to_utc",
    "weekly_occurrences",
    "zone_for_departement",
]


# --------------------------------------------------------------------------- errors


class NaiveDatetimeError(ValueError):
    """A datetime without time zone was given where an instant is required."""


class UnknownDepartementError(KeyError, ValueError):
    """The département code is not one snp knows a time zone and holidays for.

    It is a ``KeyError`` so that `TimeZoneForDepartement` behaves as a mapping
    (``in``, ``.get``), and a ``ValueError`` so that input validation catches it.
    """

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return str(self.args[0]) if self.args else "unknown département"


class OutOfHoursError(ValueError):
    """The request cannot be served as SNP at this time: it belongs to PDSA or the 15."""


class UnknownPriorityError(ValueError):
    """The priority class is not defined in the CPTS's policy."""


# ------------------------------------------------------------------ instants & zones

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=UTC) or ZoneInfo('Europe/Paris'))"
        )


def _require_naive_time(value: time, name: str) -> None:
    if value.tzinfo is not None:
        # A local rule time carrying its own offset would silently fight the CPTS zone
        # (and a fixed offset cannot follow DST anyway).
        raise ValueError(f"{name}={value.isoformat()} must be a local clock time without zone")


def to_utc(value: datetime) -> datetime:
    """The same instant expressed in UTC; refuses naive datetimes."""
    _require_aware(value, "datetime")
    return value.astimezone(UTC)


def local_to_utc(day: date, local_time: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``local_time`` on local date ``day`` in ``tz``.

    Nonexistent local times (spring-forward gap) shift forward to the transition
    instant, the first one after the gap; ambiguous ones (fall-back overlap) take
    the first occurrence. Any ``fold`` set on ``local_time`` is ignored so that
    every caller gets the same rule.
    """
    _require_naive_time(local_time, "local_time")
    if isinstance(day, datetime):
        raise TypeError("day must be a date, not a datetime")
    naive = datetime.combine(day, local_time.replace(fold=0))
    # fold=0 uses the offset in force before the transition: in an overlap that is
    # the first occurrence, in a gap it lands *past* the gap (02:30 → 03:30).
    first = naive.replace(tzinfo=tz).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # Nonexistent: fold=1 lands before the gap (02:30 → 01:30). The transition lies
    # between the two; find it to the second (zone transitions are whole seconds).
    before = int(naive.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    after = math.ceil(first.timestamp())
    offset_after = first.astimezone(tz).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of an aware instant in ``tz``."""
    _require_aware(instant, "instant")
    return instant.astimezone(tz).date()


def local_day_number(instant: datetime, tz: ZoneInfo) -> int:
    """Days since 1970-01-01 of the instant's local date (the solver's per-day key)."""
    return local_date(instant, tz).toordinal() - _EPOCH_ORDINAL


def local_iso_week(instant: datetime, tz: ZoneInfo) -> int:
    """``iso_year * 100 + iso_week`` of the instant's local date (per-week key).

    The ISO year is used, not the calendar year, so 2027-01-01 (a Friday) is week
    202053 and a week never splits across two keys.
    """
    iso = local_date(instant, tz).isocalendar()
    return iso.year * 100 + iso.week


# ------------------------------------------------------------------------ départements

_PARIS: Final = "Europe/Paris"

# Overseas codes: IANA zone and the `holidays` subdivision. 971–976 are the
# départements/régions d'outre-mer; 975, 977 and 978 are the collectivités that
# use the French health-insurance system and share its SNP organisation. The
# Pacific collectivités (986–988) have their own social-security systems and are
# deliberately absent.
_OVERSEAS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "971": ("America/Guadeloupe", "971"),
        "972": ("America/Martinique", "972"),
        "973": ("America/Cayenne", "973"),
        "974": ("Indian/Reunion", "974"),
        "975": ("America/Miquelon", "PM"),
        "976": ("Indian/Mayotte", "976"),
        "977": ("America/St_Barthelemy", "BL"),
        "978": ("America/Marigot", "MF"),
    }
)

# Alsace-Moselle keeps Good Friday and Saint Stephen's day (local law).
_METRO_SUBDIVISIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"57": "57", "67": "6AE", "68": "6AE"}
)

_METRO_CODES: Final[tuple[str, ...]] = (
    *(f"{n:02d}" for n in range(1, 20)),
    "2A",
    "2B",
    *(f"{n:02d}" for n in range(21, 96)),
)
_ALL_CODES: Final[tuple[str, ...]] = (*_METRO_CODES, *_OVERSEAS)
_KNOWN_CODES: Final[frozenset[str]] = frozenset(_ALL_CODES)


def normalize_departement(code: str) -> str:
    """Canonical département code ("1" → "01", "2a" → "2A"); rejects unknown codes."""
    if not isinstance(code, str):
        raise UnknownDepartementError(
            f"département code must be a string such as '75', '2A' or '974', got {code!r}"
        )
    text = code.strip().upper()
    if len(text) == 1 and text.isdigit():
        text = "0" + text
    if text not in _KNOWN_CODES:
        hint = " (Corsica is 2A or 2B)" if text == "20" else ""
        raise UnknownDepartementError(
            f"unknown département code {code!r}{hint}; expected 01–95, 2A, 2B, "
            f"or one of {', '.join(_OVERSEAS)}"
        )
    return text


class TimeZoneForDepartement(Mapping[str, ZoneInfo]):
    """Read-only mapping département code → IANA zone.

    Metropolitan France and Corsica are Europe/Paris; each overseas département has
    its own zone (none of them observes DST except Saint-Pierre-et-Miquelon).
    Look-ups accept non-canonical spellings ("1", "2a").
    """

    def __getitem__(self, code: str) -> ZoneInfo:
        canonical = normalize_departement(code)
        overseas = _OVERSEAS.get(canonical)
        return ZoneInfo(overseas[0] if overseas else _PARIS)

    def __iter__(self) -> Iterator[str]:
        return iter(_ALL_CODES)

    def __len__(self) -> int:
        return len(_ALL_CODES)

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        try:
            normalize_departement(code)
        except UnknownDepartementError:
            return False
        return True


DEPARTEMENT_TIME_ZONES: Final = TimeZoneForDepartement()


def zone_for_departement(code: str) -> ZoneInfo:
    """The IANA time zone of a département (raises `UnknownDepartementError`)."""
    return DEPARTEMENT_TIME_ZONES[code]


# ---------------------------------------------------------------------------- holidays


@functools.lru_cache(maxsize=1024)
def _holiday_table(subdivision: str | None, year: int) -> Mapping[date, str]:
    # One immutable snapshot per (subdivision, year): `holidays` objects grow lazily
    # when queried for a new year, which is not something to share across threads.
    table = holidays.country_holidays("FR", subdiv=subdivision, years=year, language="fr")
    return MappingProxyType({day: str(name) for day, name in table.items()})


class FrenchHolidays:
    """French public holidays for a département, from the ``holidays`` package.

    Instances are stateless; the per-(subdivision, year) tables are cached at
    module level, so creating several instances costs nothing.
    """

    @staticmethod
    def subdivision_for(departement_code: str) -> str | None:
        """The ``holidays.France`` subdivision of a département (None: national list)."""
        canonical = normalize_departement(departement_code)
        overseas = _OVERSEAS.get(canonical)
        if overseas:
            return overseas[1]
        return _METRO_SUBDIVISIONS.get(canonical)

    def holiday_name(self, local_day: date, departement_code: str) -> str | None:
        """The French name of the public holiday on that local date, or None."""
        if isinstance(local_day, datetime):
            # datetime is a date subclass but never equal to one: the look-up would
            # silently answer "not a holiday".
            raise TypeError("pass the local date (instant.astimezone(tz).date()), not a datetime")
        table = _holiday_table(self.subdivision_for(departement_code), local_day.year)
        return table.get(local_day)

    def is_public_holiday(self, local_day: date, departement_code: str) -> bool:
        """Whether the local date is a public holiday in that département."""
        return self.holiday_name(local_day, departement_code) is not None


FRENCH_HOLIDAYS: Final = FrenchHolidays()


def is_public_holiday(local_day: date, departement_code: str) -> bool:
    """Whether the local date is a public holiday in that département."""
    return FRENCH_HOLIDAYS.is_public_holiday(local_day, departement_code)


def _is_holiday(local_day: date, holidays_of: str | None) -> bool:
    return holidays_of is not None and FRENCH_HOLIDAYS.is_public_holiday(local_day, holidays_of)


# ------------------------------------------------------------------- weekly recurrence


def _check_weekday(weekday: int) -> None:
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be an integer 0 (Monday) … 6 (Sunday), got {weekday!r}")


def _check_window(start: time, end: time) -> None:
    _require_naive_time(start, "start")
    _require_naive_time(end, "end")
    if not start < end:
        # A window crossing midnight (20:00–02:00) is refused rather than guessed:
        # split it into two windows on consecutive days. Such hours are PDSA anyway.
        raise ValueError(
            f"window {start.isoformat('minutes')}–{end.isoformat('minutes')} must end after "
            "it starts on the same local day; split a window crossing midnight in two"
        )


def weekly_occurrences(
    weekday: int,
    local_start: time,
    local_end: time,
    tz: ZoneInfo,
    from_utc: datetime,
    to_utc: datetime,
    *,
    skip_holidays_of: str | None = None,
) -> list[tuple[datetime, datetime]]:
    """Concrete UTC intervals of a weekly local window that overlap ``[from_utc, to_utc)``.

    ``weekday`` is 0 = Monday … 6 = Sunday. Each occurrence keeps its local clock
    times whatever the UTC offset (a 09:00 plage is at 09:00 local both sides of a
    DST change), resolved by `local_to_utc`: a bound in the spring-forward gap
    moves to the end of the gap (so the occurrence keeps the part the clock
    shows), an ambiguous bound takes its first occurrence, and an occurrence that
    becomes empty that way (02:00–02:45 on spring-forward night) is dropped.
    Occurrences are returned whole (not clipped to the range), in order.
    With ``skip_holidays_of`` set to a département code, occurrences on that
    département's public holidays are skipped. A window must start and end on the
    same local day (``local_start < local_end``), otherwise ``ValueError``.
    """
    _check_weekday(weekday)
    _check_window(local_start, local_end)
    _require_aware(from_utc, "from_utc")
    _require_aware(to_utc, "to_utc")
    if skip_holidays_of is not None:
        normalize_departement(skip_holidays_of)  # fail on a bad code even if no holiday falls
    if to_utc <= from_utc:
        return []
    # An occurrence lies within one local date, so only the dates between the local
    # dates of the two bounds can hold an overlapping one.
    first_day = local_date(from_utc, tz)
    last_day = local_date(to_utc, tz)
    day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    occurrences: list[tuple[datetime, datetime]] = []
    while day <= last_day:
        if not _is_holiday(day, skip_holidays_of):
            start = local_to_utc(day, local_start, tz)
            end = local_to_utc(day, local_end, tz)
            if start < end and start < to_utc and end > from_utc:
                occurrences.append((start, end))
        day += timedelta(days=7)
    return occurrences


# ------------------------------------------------------------------------ office hours


class LocalWindow(BaseModel):
    """A window of local clock time within one day, ``[start, end)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _same_day(self) -> LocalWindow:
        _check_window(self.start, self.end)
        return self


def _window(start: int, end: int) -> tuple[LocalWindow, ...]:
    return (LocalWindow(start=time(start), end=time(end)),)


_WEEKDAY_FIELDS: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class OfficeHours(BaseModel):
    """Per-weekday office windows of a CPTS, in local time.

    The default is 08:00–20:00 Monday to Friday and 08:00–12:00 on Saturday;
    Sunday and public holidays are closed (PDSA). Several windows per day are
    allowed (e.g. a lunch break). Office hours only bound where *default* plages are
    generated and where a same-day request rolls over; a professional may publish
    a plage at any time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    monday: tuple[LocalWindow, ...] = _window(8, 20)
    tuesday: tuple[LocalWindow, ...] = _window(8, 20)
    wednesday: tuple[LocalWindow, ...] = _window(8, 20)
    thursday: tuple[LocalWindow, ...] = _window(8, 20)
    friday: tuple[LocalWindow, ...] = _window(8, 20)
    saturday: tuple[LocalWindow, ...] = _window(8, 12)
    sunday: tuple[LocalWindow, ...] = ()
    closed_on_public_holidays: bool = True

    @field_validator(*_WEEKDAY_FIELDS)
    @classmethod
    def _sorted_disjoint(cls, windows: tuple[LocalWindow, ...]) -> tuple[LocalWindow, ...]:
        ordered = tuple(sorted(windows, key=lambda window: window.start))
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(
                    f"office windows overlap: {before.start}–{before.end} and "
                    f"{after.start}–{after.end}"
                )
        return ordered

    def windows_for_weekday(self, weekday: int) -> tuple[LocalWindow, ...]:
        """The windows of a weekday (0 = Monday), ignoring holidays."""
        _check_weekday(weekday)
        windows: tuple[LocalWindow, ...] = getattr(self, _WEEKDAY_FIELDS[weekday])
        return windows

    def local_windows(self, day: date, *, holidays_of: str | None) -> tuple[LocalWindow, ...]:
        """The local windows open on ``day``; none on a holiday of ``holidays_of``.

        ``holidays_of=None`` means "ignore public holidays" and must be explicit.
        """
        if self.closed_on_public_holidays and _is_holiday(day, holidays_of):
            return ()
        return self.windows_for_weekday(day.weekday())

    def is_office_day(self, day: date, *, holidays_of: str | None) -> bool:
        """Whether any office window is open on that local date."""
        return bool(self.local_windows(day, holidays_of=holidays_of))

    def next_office_day(self, after: date, *, holidays_of: str | None) -> date | None:
        """The first office day strictly after ``after`` (None if none within 31 days)."""
        for offset in range(1, 32):
            day = after + timedelta(days=offset)
            if self.is_office_day(day, holidays_of=holidays_of):
                return day
        return None

    def office_windows(
        self, day: date, tz: ZoneInfo, *, holidays_of: str | None
    ) -> list[tuple[datetime, datetime]]:
        """The office windows of local date ``day`` as UTC intervals ``[start, end)``."""
        windows: list[tuple[datetime, datetime]] = []
        for window in self.local_windows(day, holidays_of=holidays_of):
            start = local_to_utc(day, window.start, tz)
            end = local_to_utc(day, window.end, tz)
            if start < end:
                windows.append((start, end))
        return windows

    def is_office_time(self, instant: datetime, tz: ZoneInfo, *, holidays_of: str | None) -> bool:
        """Whether an aware instant falls inside an office window (in ``tz``)."""
        _require_aware(instant, "instant")
        day = local_date(instant, tz)
        return any(
            start <= instant < end
            for start, end in self.office_windows(day, tz, holidays_of=holidays_of)
        )


DEFAULT_OFFICE_HOURS: Final = OfficeHours()


def is_office_time(
    instant: datetime,
    tz: ZoneInfo,
    *,
    holidays_of: str | None,
    hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> bool:
    """Whether an aware instant is within the (default) office hours."""
    return hours.is_office_time(instant, tz, holidays_of=holidays_of)


def office_windows(
    day: date,
    tz: ZoneInfo,
    *,
    holidays_of: str | None,
    hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> list[tuple[datetime, datetime]]:
    """The (default) office windows of a local date as UTC intervals."""
    return hours.office_windows(day, tz, holidays_of=holidays_of)


# -------------------------------------------------------------------------- priorities


class DefaultPriority(StrEnum):
    """Names of the priority classes snp ships (a CPTS may define others)."""

    URGENT_SAME_DAY = "urgent_same_day"
    SAME_DAY = "same_day"
    WITHIN_48H = "within_48h"


class DeadlineRule(BaseModel):
    """How a priority class turns the reception instant into a deadline.

    All clock times are local to the CPTS. Evaluation, for a request received at
    local time *t* on local date *D*:

    1. ``accepts_from``: if *t* is before it, the request is refused
       (`OutOfHoursError`: night hours are PDSA). ``office_days_only``: if *D* is
       not an office day (Sunday, public holiday…), refused likewise.
    2. ``rollover_after``/``rollover_to``: if *t* is at or after ``rollover_after``,
       the deadline is ``rollover_to`` on the next *office day* after *D* (so
       Saturday evening rolls to Monday, or Tuesday after a holiday Monday), or on
       *D* + 1 if the office hours have no open day at all.
    3. Otherwise the deadline is the earliest of *received + max_delay* (elapsed
       real time, so across a DST change 4 h stay 4 h) and ``closing_time`` on *D*.
    4. The policy's horizon (48 h) caps every deadline.

    A deadline that is not strictly after the reception (e.g. received after the
    closing time, without roll-over) raises `OutOfHoursError`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_delay: timedelta | None = None
    closing_time: time | None = None
    accepts_from: time | None = None
    office_days_only: bool = False
    rollover_after: time | None = None
    rollover_to: time | None = None

    @model_validator(mode="after")
    def _coherent(self) -> DeadlineRule:
        for name in ("closing_time", "accepts_from", "rollover_after", "rollover_to"):
            value = getattr(self, name)
            if value is not None:
                _require_naive_time(value, name)
        if self.max_delay is not None and self.max_delay <= timedelta(0):
            raise ValueError(f"max_delay must be positive, got {self.max_delay}")
        if (self.rollover_after is None) != (self.rollover_to is None):
            raise ValueError("rollover_after and rollover_to go together: set both or neither")
        if self.max_delay is None and self.closing_time is None and self.rollover_to is None:
            raise ValueError("a deadline rule needs max_delay, closing_time or a roll-over")
        return self


class PriorityClass(BaseModel):
    """A named priority class of a CPTS and its deadline rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    label: str = ""
    rule: DeadlineRule


_SNP_HORIZON: Final = timedelta(hours=48)


class PriorityPolicy(BaseModel):
    """The priority classes of one CPTS, with their deadline rules.

    ``horizon`` caps every deadline: SNP is care "the same day or within 48 hours",
    so even a roll-over across a long weekend never promises later than that.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    classes: tuple[PriorityClass, ...] = Field(min_length=1)
    horizon: timedelta = _SNP_HORIZON

    @field_validator("classes")
    @classmethod
    def _unique_names(cls, classes: tuple[PriorityClass, ...]) -> tuple[PriorityClass, ...]:
        names = [priority.name for priority in classes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"priority class names must be unique, repeated: {duplicates}")
        return classes

    @field_validator("horizon")
    @classmethod
    def _positive_horizon(cls, horizon: timedelta) -> timedelta:
        if horizon <= timedelta(0):
            raise ValueError(f"horizon must be positive, got {horizon}")
        return horizon

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the policy's order."""
        return tuple(priority.name for priority in self.classes)

    def get(self, name: str) -> PriorityClass:
        """The class called ``name`` (raises `UnknownPriorityError` listing the valid ones)."""
        for priority in self.classes:
            if priority.name == name:
                return priority
        raise UnknownPriorityError(
            f"unknown priority class {name!r}; valid classes: {', '.join(self.names)}"
        )

    def deadline(
        self,
        priority: str,
        received_at_utc: datetime,
        tz: ZoneInfo,
        *,
        holidays_of: str | None = None,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
    ) -> datetime:
        """The UTC deadline of a request of class ``priority`` received at that instant.

        ``holidays_of`` (a département code) is used to find the next office day on
        roll-over; None ignores public holidays (`CptsCalendar.deadline` always
        passes the CPTS's département). See `DeadlineRule` for the evaluation order.
        """
        rule = self.get(priority).rule
        received = to_utc(received_at_utc)
        local = received.astimezone(tz)
        day, clock = local.date(), local.time()

        def refuse(reason: str) -> OutOfHoursError:
            return OutOfHoursError(
                f"priority {priority!r} received at {local:%Y-%m-%d %H:%M} local ({tz.key}) "
                f"{reason}: the request belongs to the PDSA (permanence des soins) "
                "or the 15, not to SNP"
            )

        if rule.accepts_from is not None and clock < rule.accepts_from:
            raise refuse(f"is before {rule.accepts_from:%H:%M}")
        if rule.office_days_only and not office_hours.is_office_day(day, holidays_of=holidays_of):
            raise refuse("is on a day without office hours (Sunday or public holiday)")

        candidates = [received + self.horizon]
        if rule.max_delay is not None:
            candidates.append(received + rule.max_delay)
        if (
            rule.rollover_after is not None
            and rule.rollover_to is not None
            and clock >= rule.rollover_after
        ):
            target = office_hours.next_office_day(day, holidays_of=holidays_of)
            candidates.append(local_to_utc(target or day + timedelta(days=1), rule.rollover_to, tz))
        elif rule.closing_time is not None:
            closing = local_to_utc(day, rule.closing_time, tz)
            if closing <= received:
                raise refuse(f"is at or after the {rule.closing_time:%H:%M} closing")
            candidates.append(closing)

        result = min(candidates)
        if result <= received:  # defensive: every branch above yields a later instant
            raise refuse("leaves no time before the deadline")
        return result


DEFAULT_PRIORITY_POLICY: Final = PriorityPolicy(
    classes=(
        PriorityClass(
            name=DefaultPriority.URGENT_SAME_DAY.value,
            label="Urgent, dans la journée (≤ 4 h)",
            rule=DeadlineRule(
                max_delay=timedelta(hours=4), closing_time=time(20), accepts_from=time(8)
            ),
        ),
        PriorityClass(
            name=DefaultPriority.SAME_DAY.value,
            label="Dans la journée",
            rule=DeadlineRule(closing_time=time(20), rollover_after=time(18), rollover_to=time(12)),
        ),
        PriorityClass(
            name=DefaultPriority.WITHIN_48H.value,
            label="Sous 48 h",
            rule=DeadlineRule(max_delay=timedelta(hours=48)),
        ),
    )
)


# ----------------------------------------------------------------------- per-CPTS facade


class CptsCalendar(BaseModel):
    """The calendar settings of one CPTS: its département, office hours and priorities.

    The zone and the holiday list both follow from the département, so services
    cannot pair a Réunion CPTS with Paris time by mistake.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    departement_code: str
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    priorities: PriorityPolicy = DEFAULT_PRIORITY_POLICY

    @field_validator("departement_code")
    @classmethod
    def _known_departement(cls, code: str) -> str:
        try:
            return normalize_departement(code)
        except UnknownDepartementError as error:
            raise ValueError(str(error)) from None

    @property
    def tz(self) -> ZoneInfo:
        """The CPTS's IANA time zone."""
        return zone_for_departement(self.departement_code)

    def deadline(self, priority: str, received_at_utc: datetime) -> datetime:
        """The UTC deadline of a request (see `PriorityPolicy.deadline`)."""
        return self.priorities.deadline(
            priority,
            received_at_utc,
            self.tz,
            holidays_of=self.departement_code,
            office_hours=self.office_hours,
        )

    def is_public_holiday(self, local_day: date) -> bool:
        """Whether a local date is a public holiday for this CPTS."""
        return is_public_holiday(local_day, self.departement_code)

    def is_office_time(self, instant: datetime) -> bool:
        """Whether an aware instant is within this CPTS's office hours."""
        return self.office_hours.is_office_time(instant, self.tz, holidays_of=self.departement_code)

    def office_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """This CPTS's office windows of a local date, as UTC intervals."""
        return self.office_hours.office_windows(day, self.tz, holidays_of=self.departement_code)

    def weekly_occurrences(
        self,
        weekday: int,
        local_start: time,
        local_end: time,
        from_utc: datetime,
        to_utc: datetime,
        *,
        skip_holidays: bool = True,
    ) -> list[tuple[datetime, datetime]]:
        """`weekly_occurrences` in this CPTS's zone, skipping its holidays by default."""
        return weekly_occurrences(
            weekday,
            local_start,
            local_end,
            self.tz,
            from_utc,
            to_utc,
            skip_holidays_of=self.departement_code if skip_holidays else None,
        )
