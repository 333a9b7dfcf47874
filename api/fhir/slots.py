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
from collections.abc import Callable, Mapping, Sequence
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
from sqlalchemy import DateTime, case, select, type_coerce
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

# One row per free slot, in the order the Bundle lists them; the columns after
# ``site_id`` are the slot template's key (see ``_slot_template``).
SlotFound = tuple[int, datetime, datetime, int, int, int, str, str | None, bool, int, int]


@dataclass
class SearchResult:
    slots: list[SlotFound]
    professionals: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    sites: dict[int, tuple[str, str, float, float]] = field(default_factory=dict)
    cpts: dict[int, str] = field(default_factory=dict)


# Read as plain timestamps: the instants are rendered in French time from whatever
# the driver gives (aware on PostgreSQL, naive UTC on SQLite), see ``_instant``.
_START = type_coerce(SlotRow.start_at, DateTime(timezone=True))
_END = type_coerce(SlotRow.end_at, DateTime(timezone=True))


def find_slots(
    session: Session, search: SlotSearch, departement: str | None, now: datetime
) -> SearchResult:
    """Free slots (a planned place left, not withdrawn, not started) of these
    professionals in the window, in the CPTS of the caller's département (every
    CPTS when ``departement`` is None).

    One query for the slots and their professional; the sites and CPTS names,
    asked for by some includes only, in one more query each.
    """
    if not search.rpps:
        return SearchResult([])
    columns: list[Any] = [
        SlotRow.id,
        _START,
        _END,
        SlotRow.professional_id,
        SlotRow.site_id,
        SlotRow.cpts_id,
        SlotRow.modality,
        ProfessionalRow.specialty,
        SlotRow.sas_reserved,
        SlotRow.capacity - SlotRow.taken,
        case((ProfessionalRow.accepts_surnumeraire, SlotRow.surnumeraire), else_=0),
    ]
    if search.include_actors:
        columns += [ProfessionalRow.rpps, ProfessionalRow.last_name, ProfessionalRow.first_name]
    query = (
        select(*columns)
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
    if departement is not None:
        query = query.where(
            SlotRow.cpts_id.in_(select(CptsRow.id).where(CptsRow.departement_code == departement))
        )
    # Core execution: the rows are plain tuples, no ORM loading on the way.
    rows = session.connection().execute(query).all()
    if not rows:
        return SearchResult([])
    result = SearchResult([])
    if search.include_actors:
        professionals = result.professionals
        slots = result.slots
        for row in rows:
            slots.append(row[:11])
            if row[3] not in professionals:
                professionals[row[3]] = (row[11], row[12], row[13])
        sites = session.connection().execute(
            select(SiteRow.id, SiteRow.name, SiteRow.address, SiteRow.lat, SiteRow.lon).where(
                SiteRow.id.in_({row[4] for row in rows})
            )
        )
        result.sites = {sid: (name, address, lat, lon) for sid, name, address, lat, lon in sites}
    else:
        result.slots = [tuple(row) for row in rows]
    if search.include_service:
        names = session.connection().execute(
            select(CptsRow.id, CptsRow.name).where(CptsRow.id.in_({row[5] for row in rows}))
        )
        result.cpts = {cpts_id: name for cpts_id, name in names}
    return result


# ----------------------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"zz[a-z]+zz|1901-01-01T00:00:0[12]Z|-?7\.123456789|-?8\.123456789")
START, END, LAT, LON = "1901-01-01T00:00:01Z", "1901-01-01T00:00:02Z", 7.123456789, 8.123456789


class Template:
    """A Bundle entry whose resource is serialised by fhir.resources with
    placeholders, compiled into a function: ``fill(*values)`` takes the values in
    the order of ``order`` (each already JSON text, or an int).

    The function is an f-string built from the serialised text, as ``dataclasses``
    builds its methods: it costs 0.4 µs per slot where ``str.format``, which parses
    its pattern at every call, costs 2.4 µs (4 ms for the worst case's 1,728 slots).
    Only this module's own constants and placeholder names go into the source.
    """

    def __init__(self, resource: Resource, mode: str, order: Sequence[str]) -> None:
        kind, rid = resource.get_resource_type(), resource.id
        text = (
            f'{{"fullUrl":"zzbasezz/{kind}/{rid}","resource":{resource.model_dump_json()},'
            f'"search":{{"mode":"{mode}"}}}}'
        )
        out: list[str] = []
        last = 0
        for found in _PLACEHOLDER.finditer(text):
            out.append(_braces(text[last : found.start()]))
            out.append(f"{{v{order.index(found.group(0))}}}")
            last = found.end()
        out.append(_braces(text[last:]))
        pattern = "".join(out)
        params = ", ".join(f"v{i}" for i in range(len(order)))
        self.fill: Callable[..., str] = eval(f"lambda {params}: f{pattern!r}", {})


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _text(value: str) -> str:
    """A value put inside a JSON string of a template."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


SLOT_ORDER = ("zzbasezz", "zzidzz", START, END, "zzprozz", "zzsitezz", "zzcptszz")


@lru_cache(maxsize=512)
def _slot_template(
    cpts: bool,
    modality: str,
    specialty: str | None,
    sas_reserved: bool,
    places_left: int,
    surnumeraire: int,
) -> Template:
    """Fill with ``SLOT_ORDER``: base, slot id, start, end, professional, site, CPTS."""
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
                        "valueReference": {"reference": "HealthcareService/cpts-zzcptszz"},
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
        "schedule": {"reference": "Schedule/pzzprozz-szzsitezz"},
        "status": "free",
        "start": START,
        "end": END,
        # The guide's "URL to book this slot": snp has no booking page per slot,
        # so it gives the slot's own address on this server.
        "comment": "zzbasezz/Slot/zzidzz",
    }
    if specialty:
        data["specialty"] = [{"coding": [{"system": SPECIALITE_ORDINALE, "code": specialty}]}]
    return Template(Slot.model_validate(data), "match", SLOT_ORDER)


@lru_cache(maxsize=1)
def _schedule_template() -> Template:
    """Fill with base, professional, site."""
    return Template(
        Schedule.model_validate(
            {
                "resourceType": "Schedule",
                "id": "pzzprozz-szzsitezz",
                "meta": {"profile": [PROFILE["schedule"]]},
                "actor": [
                    {"reference": "Practitioner/zzprozz"},
                    {"reference": "PractitionerRole/pzzprozz-szzsitezz"},
                ],
            }
        ),
        "include",
        ("zzbasezz", "zzprozz", "zzsitezz"),
    )


@lru_cache(maxsize=2)
def _practitioner_template(has_given: bool) -> Template:
    """Fill with base, professional, IDNPS, family name, given name."""
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
        ),
        "include",
        ("zzbasezz", "zzidzz", "zzidnpszz", "zzfamilyzz", "zzgivenzz"),
    )


@lru_cache(maxsize=2)
def _role_template(has_address: bool) -> Template:
    """Fill with base, professional, site, site name, address, latitude, longitude."""
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
                "id": "pzzprozz-szzsitezz",
                "meta": {"profile": [PROFILE["practitioner-role"]]},
                "contained": [location],
                "practitioner": {"reference": "Practitioner/zzprozz"},
                "location": [{"reference": "#site"}],
            }
        ),
        "include",
        ("zzbasezz", "zzprozz", "zzsitezz", "zznamezz", "zzaddresszz", str(LAT), str(LON)),
    )


@lru_cache(maxsize=1)
def _service_template() -> Template:
    """Fill with base, CPTS, CPTS name."""
    return Template(
        HealthcareService.model_validate(
            {
                "resourceType": "HealthcareService",
                "id": "cpts-zzcptszz",
                "meta": {"profile": [PROFILE["healthcare-service"]]},
                "providedBy": {"reference": "Organization/cpts-zzcptszz"},
                "type": [{"coding": [{"system": CATEGORIE_ETABLISSEMENT, "code": "604"}]}],
                "name": "zznamezz",
            }
        ),
        "include",
        ("zzbasezz", "zzcptszz", "zznamezz"),
    )


@lru_cache(maxsize=2)
def _organization_template(has_finess: bool) -> Template:
    """Fill with base, CPTS, CPTS name, FINESS."""
    identifier = (
        {
            "type": {"coding": [{"system": FR_LOCATION_ID_TYPE, "code": "IDNST"}]},
            "system": FINESS,
            # The guide writes the FINESS with a "1" prefix.
            "value": "1zzfinesszz",
        }
        if has_finess
        else {"system": SNP + "/cpts", "value": "cpts-zzcptszz"}
    )
    return Template(
        Organization.model_validate(
            {
                "resourceType": "Organization",
                "id": "cpts-zzcptszz",
                "meta": {"profile": [PROFILE["organization"]]},
                "identifier": [identifier],
                "name": "zznamezz",
            }
        ),
        "include",
        ("zzbasezz", "zzcptszz", "zznamezz", "zzfinesszz"),
    )


@lru_cache(maxsize=1)
def _bundle_template(cpts: bool) -> str:
    """The searchset envelope, a ``str.format`` pattern: id, total, self link."""
    text = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": "zzidzz",
            "meta": {"profile": [PROFILE["bundle-cpts" if cpts else "bundle"]]},
            "type": "searchset",
            "total": 919191919,
            "link": [{"relation": "self", "url": "zzselfzz"}],
        }
    ).model_dump_json()
    return (
        _braces(text)
        .replace("zzidzz", "{0}")
        .replace("919191919", "{1}")
        .replace("zzselfzz", "{2}")
    )


@lru_cache(maxsize=4096)
def _instant(value: datetime) -> str:
    """French local time with its offset, like the guide's examples (naive: UTC).

    Cached: slots start on a few hundred distinct quarter hours in 72 h."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS).isoformat()


# ----------------------------------------------------------------------------- bundle


def render_bundle(
    search: SlotSearch,
    result: SearchResult,
    *,
    base: str,
    self_url: str,
    finess: Mapping[int, str],
) -> bytes:
    """The searchset Bundle as UTF-8 JSON: slots (match), then the included resources."""
    cpts = search.cpts_flavour
    head = _bundle_template(cpts).format(uuid.uuid4(), len(result.slots), _text(self_url))
    if not result.slots:
        return head.encode()
    base = _text(base)
    instant = _instant
    slot_template = _slot_template
    fills: dict[tuple[Any, ...], Any] = {}
    entries: list[str] = []
    add = entries.append
    for s in result.slots:
        key = s[6:]
        fill = fills.get(key)
        if fill is None:
            fill = fills[key] = slot_template(cpts, *key).fill
        add(fill(base, s[0], instant(s[1]), instant(s[2]), s[3], s[4], s[5]))
    included: list[str] = []
    include = included.append
    if search.include_schedule:
        schedules = dict.fromkeys((s[3], s[4]) for s in result.slots)
        schedule = _schedule_template().fill
        for pro, site in schedules:
            include(schedule(base, pro, site))
        if search.include_actors:
            for pro in dict.fromkeys(p for p, _ in schedules):
                rpps, family, given = result.professionals[pro]
                include(
                    _practitioner_template(bool(given)).fill(
                        base, pro, idnps_of_rpps(rpps), _text(family), _text(given)
                    )
                )
            for pro, site in schedules:
                name, address, lat, lon = result.sites[site]
                include(
                    _role_template(bool(address)).fill(
                        base,
                        pro,
                        site,
                        _text(name),
                        _text(address),
                        repr(float(lat)),
                        repr(float(lon)),
                    )
                )
    if search.include_service:
        for cid in dict.fromkeys(s[5] for s in result.slots):
            name = _text(result.cpts[cid])
            include(_service_template().fill(base, cid, name))
            if search.include_organization:
                number = finess.get(cid)
                include(_organization_template(number is not None).fill(base, cid, name, number))
    # The envelope is a JSON object: add "entry" before its closing brace. The slots
    # are ASCII (encoding them is a copy); the included names may not be.
    parts = [f'{head[:-1]},"entry":['.encode(), ",".join(entries).encode()]
    if included:
        parts += [b",", ",".join(included).encode()]
    parts.append(b"]}")
    return b"".join(parts)
