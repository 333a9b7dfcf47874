"""Slot search of the SAS guide: INT_R01 (professionals) and INT_R04 (CPTS).

Rendering: every resource shape is built and validated by ``fhir.resources``,
then serialised once with placeholder values; each search fills those templates
with the rows' values. Building and dumping a ``fhir.resources`` model costs
about 0.5 ms per resource, which alone would put a 25-professional, 72 h search
(≈ 260 resources on the L scenario) far beyond the guide's budget; filling a
template costs microseconds and gives the same bytes, which the tests check by
re-validating every Bundle with ``fhir.resources``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.fhir.common import (
    ACT_CODE,
    APPOINTMENT_REASON,
    CATEGORIE_ETABLISSEMENT,
    FINESS,
    FR_LOCATION_ID_TYPE,
    FR_V2_0203,
    IDNPS,
    PROFILE,
    SLOT_SERVICE_TYPE_R5,
    SNP,
    SPECIALITE_ORDINALE,
    TYPE_CRENEAU,
    bad_request,
    idnps_of_rpps,
    split_token,
)
from snp.modalities import Modality
from snp.orm import CptsRow, ProfessionalRow, SiteRow, SlotRow

PARIS = ZoneInfo("Europe/Paris")
MAX_PRACTITIONERS = 25
PRACTITIONER_PARAM = "schedule.actor:Practitioner.identifier"
INCLUDES = frozenset({"Slot:schedule", "Slot:service-type-reference"})
ITERATES = frozenset({"Schedule:actor", "HealthcareService:organization"})
# Accepted and ignored: paging is not needed (a 72 h search is small) and JSON is the only format.
IGNORED = frozenset({"_count", "_format"})
CONSULTATION = {
    Modality.IN_PERSON: "AMB",
    Modality.HOME_VISIT: "HH",
    Modality.TELECONSULTATION: "VR",
}
PLACES_LEFT = SNP + "/StructureDefinition/slot-places-left"
SURNUMERAIRE = SNP + "/StructureDefinition/slot-surnumeraire"


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class SlotSearch:
    start_ge: datetime
    start_le: datetime
    rpps: tuple[str, ...]  # 11-digit RPPS; identifiers of other systems match nothing
    include_schedule: bool
    include_actors: bool
    include_service: bool
    include_organization: bool

    @property
    def cpts_flavour(self) -> bool:
        """INT_R04: the CPTS includes ask for the CPTS profiles and slot types."""
        return self.include_service


_DATE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


def parse_date(text: str, *, upper: bool) -> datetime:
    """A FHIR date search value; '+' decoded as a space by a form decoder is put back.

    Without an offset (the guide's own examples have none) the time is French
    local time. A bare date covers the whole local day.
    """
    value = text.strip().replace(" ", "+")
    found = _DATE.match(value)
    if found is None:
        raise bad_request(
            f"start: {text!r} is not a FHIR date; use e.g. ge2026-11-26T09:00:00+01:00", "start"
        )
    try:
        day = date.fromisoformat(found["date"])
        if found["time"] is None:
            local = datetime.combine(day + timedelta(days=1) if upper else day, time(0), PARIS)
            return local - timedelta(microseconds=1) if upper else local
        clock = time.fromisoformat(found["time"][:15])
        tz_text = found["tz"]
        if tz_text is None:
            return datetime.combine(day, clock, PARIS)
        if tz_text == "Z":
            return datetime.combine(day, clock, UTC)
        sign = 1 if tz_text[0] == "+" else -1
        digits = tz_text[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return datetime.combine(day, clock, _fixed(sign * offset))
    except ValueError as error:
        raise bad_request(f"start: {text!r}: {error}", "start") from None


def _fixed(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


def parse_search(params: Sequence[tuple[str, str]]) -> SlotSearch:
    ge: datetime | None = None
    le: datetime | None = None
    identifiers: list[str] = []
    includes: set[str] = set()
    iterates: set[str] = set()
    statuses: list[str] = []
    for name, value in params:
        if name == "start":
            prefix, rest = value[:2], value[2:]
            if prefix == "ge" and ge is None:
                ge = parse_date(rest, upper=False)
            elif prefix == "le" and le is None:
                le = parse_date(rest, upper=True)
            else:
                raise bad_request(
                    "start: give exactly one start=ge<date> and one start=le<date>", "start"
                )
        elif name == PRACTITIONER_PARAM:
            identifiers.extend(v for v in value.split(",") if v.strip())
        elif name == "status":
            statuses.extend(v.strip() for v in value.split(","))
        elif name == "_include":
            includes.add(value.strip())
        elif name == "_include:iterate":
            iterates.add(value.strip())
        elif name in IGNORED:
            continue
        else:
            raise bad_request(
                f"unsupported search parameter {name!r}; snp supports start, status, "
                f"{PRACTITIONER_PARAM}, _include and _include:iterate",
                name,
            )
    if ge is None or le is None:
        raise bad_request("start: both start=ge<date> and start=le<date> are required", "start")
    if le < ge:
        raise bad_request("start: the le bound is before the ge bound", "start")
    if statuses != ["free"]:
        raise bad_request("status: the SAS searches free slots only; send status=free", "status")
    if not 1 <= len(identifiers) <= MAX_PRACTITIONERS:
        raise bad_request(
            f"{PRACTITIONER_PARAM}: give 1 to {MAX_PRACTITIONERS} identifiers "
            f"({IDNPS}|8<RPPS>), comma-separated; got {len(identifiers)}",
            PRACTITIONER_PARAM,
        )
    unknown = (includes - INCLUDES) | (iterates - ITERATES)
    if unknown:
        raise bad_request(
            f"unsupported _include {sorted(unknown)}; supported: "
            f"{sorted(INCLUDES)} and _include:iterate {sorted(ITERATES)}",
            "_include",
        )
    rpps = tuple(dict.fromkeys(r for r in (_rpps(i) for i in identifiers) if r is not None))
    return SlotSearch(
        start_ge=ge,
        start_le=le,
        rpps=rpps,
        include_schedule="Slot:schedule" in includes,
        include_actors="Slot:schedule" in includes and "Schedule:actor" in iterates,
        include_service="Slot:service-type-reference" in includes,
        include_organization="Slot:service-type-reference" in includes
        and "HealthcareService:organization" in iterates,
    )


def _rpps(token: str) -> str | None:
    """The RPPS of an IDNPS token; None for identifiers snp cannot hold (ADELI "0…",
    other systems): they match nothing, as FHIR token search does."""
    system, value = split_token(token, PRACTITIONER_PARAM)
    if system not in ("", IDNPS):
        return None
    if len(value) == 12 and value.startswith("8") and value[1:].isdigit():
        return value[1:]
    if len(value) == 11 and value.isdigit():
        return value  # lenient: the bare RPPS
    if len(value) == 12 and value.isdigit():
        return None  # an ADELI ("0" prefix) or another national id: not in snp
    raise bad_request(
        f"{PRACTITIONER_PARAM}: {value!r} is not an IDNPS; give 8 followed by the 11-digit RPPS",
        PRACTITIONER_PARAM,
    )


# ----------------------------------------------------------------------------- query


@dataclass(frozen=True, slots=True)
class FoundSlot:
    slot_id: int
    start: datetime
    end: datetime
    modality: str
    places_left: int
    surnumeraire: int
    sas_reserved: bool
    cpts_id: int
    professional_id: int
    site_id: int


@dataclass
class SearchResult:
    slots: list[FoundSlot]
    professionals: dict[int, tuple[str, str, str, str | None]] = field(default_factory=dict)
    sites: dict[int, tuple[str, str, float, float]] = field(default_factory=dict)
    cpts: dict[int, str] = field(default_factory=dict)


def find_slots(
    session: Session, search: SlotSearch, cpts_ids: Sequence[int] | None, now: datetime
) -> SearchResult:
    """Free slots (a planned place left, not withdrawn, not started) of these
    professionals in the window, among the CPTS the caller may see."""
    if not search.rpps or (cpts_ids is not None and not cpts_ids):
        return SearchResult([])
    query = (
        select(
            SlotRow.id,
            SlotRow.start_at,
            SlotRow.end_at,
            SlotRow.modality,
            SlotRow.capacity - SlotRow.taken,
            SlotRow.surnumeraire,
            SlotRow.sas_reserved,
            SlotRow.cpts_id,
            SlotRow.professional_id,
            SlotRow.site_id,
            ProfessionalRow.accepts_surnumeraire,
        )
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(
            ProfessionalRow.rpps.in_(search.rpps),
            SlotRow.start_at >= max(search.start_ge, now),
            SlotRow.start_at <= search.start_le,
            SlotRow.cancelled.is_(False),
            SlotRow.taken < SlotRow.capacity,
        )
        .order_by(SlotRow.start_at, SlotRow.id)
    )
    if cpts_ids is not None:
        query = query.where(SlotRow.cpts_id.in_(list(cpts_ids)))
    slots = [
        FoundSlot(r[0], r[1], r[2], r[3], r[4], r[5] if r[10] else 0, r[6], r[7], r[8], r[9])
        for r in session.execute(query)
    ]
    result = SearchResult(slots)
    if not slots:
        return result
    pro_ids = {s.professional_id for s in slots}
    for pid, rpps, family, given, specialty in session.execute(
        select(
            ProfessionalRow.id,
            ProfessionalRow.rpps,
            ProfessionalRow.last_name,
            ProfessionalRow.first_name,
            ProfessionalRow.specialty,
        ).where(ProfessionalRow.id.in_(pro_ids))
    ):
        result.professionals[pid] = (rpps, family, given, specialty)
    site_ids = {s.site_id for s in slots}
    for sid, name, address, lat, lon in session.execute(
        select(SiteRow.id, SiteRow.name, SiteRow.address, SiteRow.lat, SiteRow.lon).where(
            SiteRow.id.in_(site_ids)
        )
    ):
        result.sites[sid] = (name, address, lat, lon)
    if search.include_service:
        for cid, name in session.execute(
            select(CptsRow.id, CptsRow.name).where(CptsRow.id.in_({s.cpts_id for s in slots}))
        ):
            result.cpts[cid] = name
    return result


# ----------------------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"zz[a-z]+zz|1901-01-01T00:00:0[12]Z|-?7\.123456789|-?8\.123456789")
START, END, LAT, LON = "1901-01-01T00:00:01Z", "1901-01-01T00:00:02Z", 7.123456789, 8.123456789


class Template:
    """A resource serialised by fhir.resources with placeholders, filled per row."""

    def __init__(self, resource: Resource) -> None:
        text = resource.model_dump_json()
        self.parts: list[str] = []
        self.names: list[str] = []
        last = 0
        for found in _PLACEHOLDER.finditer(text):
            self.parts.append(text[last : found.start()])
            self.names.append(found.group(0))
            last = found.end()
        self.parts.append(text[last:])

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.parts[0]]
        for name, part in zip(self.names, self.parts[1:], strict=True):
            out.append(values[name])
            out.append(part)
        return "".join(out)


def _text(value: str) -> str:
    """A value put inside a JSON string of a template."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


@lru_cache(maxsize=512)
def _slot_template(
    cpts: bool,
    modality: str,
    specialty: str | None,
    sas_reserved: bool,
    places_left: int,
    surnumeraire: int,
) -> Template:
    security = ["SNP"]
    if cpts and not sas_reserved:
        # Open to the CPTS's own orientation line as well as to the SAS.
        security.append("CPTS")
    service_type: list[dict[str, Any]] = [
        {"coding": [{"system": ACT_CODE, "code": CONSULTATION[Modality(modality)]}]}
    ]
    if cpts:
        service_type.append(
            {
                "coding": [{"system": CATEGORIE_ETABLISSEMENT, "code": "604"}],
                "extension": [
                    {
                        "url": SLOT_SERVICE_TYPE_R5,
                        "valueReference": {"reference": "HealthcareService/zzhszz"},
                    }
                ],
            }
        )
    extension: list[dict[str, Any]] = [{"url": PLACES_LEFT, "valueInteger": places_left}]
    if surnumeraire:
        extension.append({"url": SURNUMERAIRE, "valueInteger": surnumeraire})
    data: dict[str, Any] = {
        "resourceType": "Slot",
        "id": "zzidzz",
        "meta": {
            "profile": [PROFILE["slot-cpts" if cpts else "slot"]],
            "security": [{"system": TYPE_CRENEAU, "code": code} for code in security],
        },
        "extension": extension,
        "serviceType": service_type,
        "appointmentType": {"coding": [{"system": APPOINTMENT_REASON, "code": "ROUTINE"}]},
        "schedule": {"reference": "Schedule/zzschedulezz"},
        "status": "free",
        "start": START,
        "end": END,
        "comment": "zzcommentzz",
    }
    if specialty:
        data["specialty"] = [{"coding": [{"system": SPECIALITE_ORDINALE, "code": specialty}]}]
    return Template(Slot.model_validate(data))


@lru_cache(maxsize=1)
def _schedule_template() -> Template:
    return Template(
        Schedule.model_validate(
            {
                "resourceType": "Schedule",
                "id": "zzidzz",
                "meta": {"profile": [PROFILE["schedule"]]},
                "actor": [
                    {"reference": "Practitioner/zzpractitionerzz"},
                    {"reference": "PractitionerRole/zzidzz"},
                ],
            }
        )
    )


@lru_cache(maxsize=2)
def _practitioner_template(has_given: bool) -> Template:
    name: dict[str, Any] = {"family": "zzfamilyzz"}
    if has_given:
        name["given"] = ["zzgivenzz"]
    return Template(
        Practitioner.model_validate(
            {
                "resourceType": "Practitioner",
                "id": "zzidzz",
                "meta": {"profile": [PROFILE["practitioner"]]},
                "identifier": [
                    {
                        "type": {"coding": [{"system": FR_V2_0203, "code": "IDNPS"}]},
                        "system": IDNPS,
                        "value": "zzidnpszz",
                    }
                ],
                "name": [name],
            }
        )
    )


@lru_cache(maxsize=2)
def _role_template(has_address: bool) -> Template:
    location: dict[str, Any] = {
        "resourceType": "Location",
        "id": "site",
        "meta": {"profile": [PROFILE["location"]]},
        "identifier": [
            {
                "type": {"coding": [{"system": FR_LOCATION_ID_TYPE, "code": "INTRN"}]},
                "system": SNP + "/site",
                "value": "zzsitezz",
            }
        ],
        "name": "zznamezz",
        "position": {"latitude": LAT, "longitude": LON},
    }
    if has_address:
        location["address"] = {"line": ["zzaddresszz"]}
    return Template(
        PractitionerRole.model_validate(
            {
                "resourceType": "PractitionerRole",
                "id": "zzidzz",
                "meta": {"profile": [PROFILE["practitioner-role"]]},
                "contained": [location],
                "practitioner": {"reference": "Practitioner/zzpractitionerzz"},
                "location": [{"reference": "#site"}],
            }
        )
    )


@lru_cache(maxsize=1)
def _service_template() -> Template:
    return Template(
        HealthcareService.model_validate(
            {
                "resourceType": "HealthcareService",
                "id": "zzidzz",
                "meta": {"profile": [PROFILE["healthcare-service"]]},
                "providedBy": {"reference": "Organization/zzidzz"},
                "type": [{"coding": [{"system": CATEGORIE_ETABLISSEMENT, "code": "604"}]}],
                "name": "zznamezz",
            }
        )
    )


@lru_cache(maxsize=2)
def _organization_template(has_finess: bool) -> Template:
    identifier = (
        {
            "type": {"coding": [{"system": FR_LOCATION_ID_TYPE, "code": "IDNST"}]},
            "system": FINESS,
            "value": "zzfinesszz",
        }
        if has_finess
        else {"system": SNP + "/cpts", "value": "zzidzz"}
    )
    return Template(
        Organization.model_validate(
            {
                "resourceType": "Organization",
                "id": "zzidzz",
                "meta": {"profile": [PROFILE["organization"]]},
                "identifier": [identifier],
                "name": "zznamezz",
            }
        )
    )


def _instant(value: datetime) -> str:
    """French local time with its offset, like the guide's examples."""
    return value.astimezone(PARIS).isoformat()


# ----------------------------------------------------------------------------- bundle


def render_bundle(
    search: SlotSearch,
    result: SearchResult,
    *,
    base: str,
    self_url: str,
    finess: Mapping[int, str],
) -> str:
    entries: list[str] = []

    def entry(kind: str, rid: str, resource: str, mode: str) -> None:
        entries.append(
            f'{{"fullUrl":"{base}/{kind}/{rid}","resource":{resource},'
            f'"search":{{"mode":"{mode}"}}}}'
        )

    cpts = search.cpts_flavour
    schedules: dict[str, tuple[int, int]] = {}
    for s in result.slots:
        schedule = f"p{s.professional_id}-s{s.site_id}"
        schedules.setdefault(schedule, (s.professional_id, s.site_id))
        specialty = result.professionals[s.professional_id][3]
        template = _slot_template(
            cpts, s.modality, specialty, s.sas_reserved, s.places_left, s.surnumeraire
        )
        rid = str(s.slot_id)
        entry(
            "Slot",
            rid,
            template.fill(
                {
                    "zzidzz": rid,
                    START: _instant(s.start),
                    END: _instant(s.end),
                    "zzschedulezz": schedule,
                    # The guide's "URL to book this slot": snp has no booking page per
                    # slot, so it gives the slot's own address on this server.
                    "zzcommentzz": _text(f"{base}/Slot/{rid}"),
                    "zzhszz": f"cpts-{s.cpts_id}",
                }
            ),
            "match",
        )
    if search.include_schedule:
        for schedule, (pro, _site) in schedules.items():
            entry(
                "Schedule",
                schedule,
                _schedule_template().fill({"zzidzz": schedule, "zzpractitionerzz": str(pro)}),
                "include",
            )
    if search.include_actors:
        for pro in dict.fromkeys(p for p, _ in schedules.values()):
            rpps, family, given, _specialty = result.professionals[pro]
            entry(
                "Practitioner",
                str(pro),
                _practitioner_template(bool(given)).fill(
                    {
                        "zzidzz": str(pro),
                        "zzidnpszz": idnps_of_rpps(rpps),
                        "zzfamilyzz": _text(family),
                        "zzgivenzz": _text(given),
                    }
                ),
                "include",
            )
        for role, (pro, site) in schedules.items():
            name, address, lat, lon = result.sites[site]
            entry(
                "PractitionerRole",
                role,
                _role_template(bool(address)).fill(
                    {
                        "zzidzz": role,
                        "zzpractitionerzz": str(pro),
                        "zzsitezz": str(site),
                        "zznamezz": _text(name),
                        "zzaddresszz": _text(address),
                        str(LAT): repr(float(lat)),
                        str(LON): repr(float(lon)),
                    }
                ),
                "include",
            )
    if search.include_service:
        for cid in dict.fromkeys(s.cpts_id for s in result.slots):
            rid = f"cpts-{cid}"
            name = _text(result.cpts[cid])
            entry(
                "HealthcareService",
                rid,
                _service_template().fill({"zzidzz": rid, "zznamezz": name}),
                "include",
            )
            if search.include_organization:
                number = finess.get(cid)
                entry(
                    "Organization",
                    rid,
                    _organization_template(number is not None).fill(
                        {
                            "zzidzz": rid,
                            "zznamezz": name,
                            # The guide writes the FINESS with a "1" prefix.
                            "zzfinesszz": "1" + (number or ""),
                        }
                    ),
                    "include",
                )
    envelope = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"profile": [PROFILE["bundle-cpts" if cpts else "bundle"]]},
            "type": "searchset",
            "total": len(result.slots),
            "link": [{"relation": "self", "url": self_url}],
        }
    ).model_dump_json()
    if not entries:
        return envelope
    # The envelope is a JSON object: add "entry" before its closing brace.
    return envelope[:-1] + ',"entry":[' + ",".join(entries) + "]}"
