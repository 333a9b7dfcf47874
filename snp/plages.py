"""Plages SNP: recurring weekly windows a professional opens for SNP patients.

A plage is published once ("every Tuesday 09:00–12:00, 20-minute slots") and
expanded into concrete :class:`~snp.slots.Slot` objects over a horizon. The
local wall-clock time is what the professional means, so expansion happens in
the CPTS time zone and stays at 09:00 local on both sides of a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from snp.calendar import weekly_occurrences
from snp.errors import DomainError
from snp.modalities import Modality
from snp.professions import Profession
from snp.slots import Slot

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(value: str | int) -> int:
    """0 = Monday … 6 = Sunday; accepts the number or the English/French name."""
    text = str(value).strip().lower()
    french = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for names in (WEEKDAYS, french):
        if text in names:
            return names.index(text)
    raise DomainError("weekday", f"{value!r} is not a weekday", "Use 0-6 (Monday=0) or a day name.")


@dataclass(frozen=True, slots=True)
class Plage:
    professional_rpps: str
    profession: Profession
    weekday: int
    start: time
    end: time
    valid_from: date
    valid_until: date | None = None
    slot_minutes: int = 20
    modality: Modality = Modality.IN_PERSON
    capacity: int = 1
    surnumeraire: int = 0
    sas_reserved: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise DomainError("weekday", f"{self.weekday} is not a weekday", "Use 0-6, Monday=0.")
        if self.end <= self.start:
            raise DomainError(
                "end",
                f"the plage ends ({self.end}) before it starts ({self.start})",
                "Give an end time after the start time, within one day.",
            )
        if not 5 <= self.slot_minutes <= 240:
            raise DomainError(
                "slot_minutes", f"{self.slot_minutes} min per slot", "Use 5 to 240 minutes."
            )
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise DomainError(
                "valid_until", "the plage stops before it starts", "Give valid_until ≥ valid_from."
            )
        if self.capacity < 0 or self.surnumeraire < 0 or self.capacity + self.surnumeraire == 0:
            raise DomainError("capacity", "a plage needs at least one place", "Give capacity ≥ 1.")

    def check_not_in_past(self, today: date) -> None:
        if self.valid_until is not None and self.valid_until < today:
            raise DomainError(
                "valid_until",
                f"the plage ended on {self.valid_until}, in the past",
                "Publish plages that are still valid today or later.",
            )

    def overlaps(self, other: Plage) -> bool:
        if self.professional_rpps != other.professional_rpps or self.weekday != other.weekday:
            return False
        far = date.max
        periods_meet = self.valid_from <= (other.valid_until or far) and other.valid_from <= (
            self.valid_until or far
        )
        return periods_meet and self.start < other.end and other.start < self.end

    def expand(
        self, tz: ZoneInfo, from_utc: datetime, to_utc: datetime, departement: str | None = None
    ) -> list[Slot]:
        """Concrete slots of this plage starting in [from_utc, to_utc)."""
        slots: list[Slot] = []
        step = timedelta(minutes=self.slot_minutes)
        for window_start, window_end in weekly_occurrences(
            self.weekday, self.start, self.end, tz, from_utc, to_utc, skip_holidays_of=departement
        ):
            if not self._valid_on(window_start.astimezone(tz).date()):
                continue
            start = window_start
            while start + step <= window_end:
                if from_utc <= start < to_utc:
                    slots.append(self._slot_at(start, start + step))
                start += step
        return slots

    def _valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def _slot_at(self, start: datetime, end: datetime) -> Slot:
        return Slot(
            professional_rpps=self.professional_rpps,
            profession=self.profession,
            start=start,
            end=end,
            modality=self.modality,
            capacity=self.capacity,
            surnumeraire=self.surnumeraire,
            sas_reserved=self.sas_reserved,
        )


def find_overlap(plages: Iterable[Plage]) -> tuple[Plage, Plage] | None:
    """The first pair of plages of one professional that overlap, if any."""
    seen: dict[tuple[str, int], list[Plage]] = {}
    for plage in plages:
        bucket = seen.setdefault((plage.professional_rpps, plage.weekday), [])
        for earlier in bucket:
            if plage.overlaps(earlier):
                return earlier, plage
        bucket.append(plage)
    return None
