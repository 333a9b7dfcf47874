"""Appointments of the SAS guide (INT_R03): create, conditional update, read.

A SAS appointment is an snp orientation of a SAS request. The SAS sends no
patient data, so the request is recorded at the slot's site (distance 0) with
the earliest priority class whose deadline covers the slot; booking then goes
through the service's hold and book, the same conditional UPDATE as the JSON
API, so a slot is never given twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.fhir.common import (
    APPOINTMENT_OPERATOR,
    FR_V2_0203,
    IDNPS,
    PROFILE,
    SAS,
    bad_request,
    business_rule,
    idnps_of_rpps,
    validation_diagnostics,
)
from api.fhir.slots import PARIS
from snp import fhir_links, orienting
from snp.actors import Actor
from snp.calendar import OutOfHoursError
from snp.care_requests import PatientLocation
from snp.errors import NotFoundError
from snp.geo import CommuneDirectory
from snp.intake import IntakeForm, cpts_settings
from snp.modalities import Modality, Origin
from snp.orientation import OrientationStatus
from snp.orm import CptsRow, FhirAppointmentRow, OrientationRow, ProfessionalRow, SiteRow, SlotRow
from snp.professions import Profession

# The statuses the SAS platform uses, and the orientation states they are.
TARGET = {
    "booked": OrientationStatus.BOOKED,
    "fulfilled": OrientationStatus.HONOURED,
    "noshow": OrientationStatus.NO_SHOW,
    "cancelled": OrientationStatus.CANCELLED,
}
FHIR_STATUS = {
    OrientationStatus.HELD: "pending",
    OrientationStatus.BOOKED: "booked",
    OrientationStatus.HONOURED: "fulfilled",
    OrientationStatus.NO_SHOW: "noshow",
    OrientationStatus.CANCELLED: "cancelled",
    OrientationStatus.EXPIRED: "cancelled",
    OrientationStatus.REDIRECTED_15: "cancelled",
    OrientationStatus.REDIRECTED_ED: "cancelled",
}
# Valid FHIR codes the SAS platform does not use: a business refusal, not bad FHIR.
OTHER_FHIR_STATUSES = frozenset(
    {"proposed", "pending", "arrived", "entered-in-error", "checked-in", "waitlist"}
)


@dataclass(frozen=True, slots=True)
class SasAppointment:
    system: str
    value: str
    operator: tuple[str, str]
    status: str
    start: datetime
    end: datetime
    rpps: str


class _NoCommunes(CommuneDirectory):
    """The SAS request is located by coordinates only; this stops the service from
    loading the national commune table it would not use (an empty directory is
    falsy and the service would fall back on the national one)."""

    def __bool__(self) -> bool:
        return True


_NO_COMMUNES = _NoCommunes([])


def parse(data: dict[str, Any]) -> SasAppointment:
    """Validate with fhir.resources, then check what the FrAppointmentSAS profile requires."""
    status = data.get("status")
    if isinstance(status, str) and status in OTHER_FHIR_STATUSES:
        raise business_rule(
            f"status {status!r} is not used by the SAS; send booked, fulfilled, noshow or "
            "cancelled",
            "Appointment.status",
        )
    if isinstance(status, str) and status not in TARGET:
        raise bad_request(
            f"status {status!r} is not an AppointmentStatus code; send booked, fulfilled, "
            "noshow or cancelled",
            "Appointment.status",
        )
    try:
        appointment = Appointment.model_validate(data)
    except ValidationError as error:
        raise bad_request(validation_diagnostics(error)) from None
    if not appointment.identifier or len(appointment.identifier) != 1:
        raise bad_request("identifier: give exactly one (system, value)", "Appointment.identifier")
    ident = appointment.identifier[0]
    if not ident.system or not ident.value:
        raise bad_request(
            "identifier: both system and value are required", "Appointment.identifier"
        )
    operator = _operator(appointment)
    if appointment.start is None or appointment.end is None:
        raise bad_request("start and end are required", "Appointment.start")
    start, end = _aware(appointment.start), _aware(appointment.end)
    if end <= start:
        raise bad_request("end must be after start", "Appointment.end")
    return SasAppointment(
        system=str(ident.system),
        value=str(ident.value),
        operator=operator,
        status=str(appointment.status),
        start=start,
        end=end,
        rpps=_participant_rpps(appointment),
    )


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise bad_request("start/end need a time and a time zone offset", "Appointment.start")
    return value


def _operator(appointment: Appointment) -> tuple[str, str]:
    where = f"Appointment.extension('{APPOINTMENT_OPERATOR}')"
    for ext in appointment.extension or []:
        if ext.url != APPOINTMENT_OPERATOR:
            continue
        ref = ext.valueReference
        ident = ref.identifier if ref is not None else None
        if ident is None or not ident.system or not ident.value:
            raise bad_request(
                "appointmentOperator: valueReference.identifier needs system and value "
                f"(the regulator's IDNPS {IDNPS} or SAS id {SAS})",
                where,
            )
        return str(ident.system), str(ident.value)
    raise bad_request(
        f"the appointmentOperator extension ({APPOINTMENT_OPERATOR}) naming the regulator is "
        "required",
        where,
    )


def _participant_rpps(appointment: Appointment) -> str:
    where = "Appointment.participant.actor.identifier"
    found = [
        p
        for p in appointment.participant or []
        if p.actor is not None and p.actor.identifier is not None
    ]
    if len(found) != 1:
        raise bad_request(
            f"give exactly one participant whose actor.identifier is the professional's "
            f"IDNPS ({IDNPS}|8<RPPS>)",
            where,
        )
    ident = found[0].actor.identifier  # type: ignore[union-attr]
    assert ident is not None
    value = str(ident.value or "")
    if ident.system != IDNPS:
        raise bad_request(f"participant identifier system must be {IDNPS}", where)
    if not (len(value) == 12 and value.startswith("8") and value.isdigit()):
        raise business_rule(
            f"participant {value!r}: snp knows professionals by RPPS; send 8 followed by the "
            "11-digit RPPS (ADELI numbers are not held)",
            where,
        )
    if found[0].status not in (None, "accepted"):
        raise bad_request("participant.status is always 'accepted' in the SAS flow", where)
    return value[1:]


# ----------------------------------------------------------------------------- create


def create(
    session: Session, actor: Actor, sent: SasAppointment, departement: str | None, now: datetime
) -> FhirAppointmentRow:
    if sent.status != "booked":
        raise business_rule(
            f"a new appointment must be booked, not {sent.status}; create it booked first",
            "Appointment.status",
        )
    slot = _slot_for(session, sent, departement)
    cpts = session.get(CptsRow, slot.cpts_id)
    site = session.get(SiteRow, slot.site_id)
    assert cpts is not None and site is not None
    delegate = fhir_links.acting_for(actor, cpts.id)
    form = IntakeForm(
        cpts_code=cpts.code,
        origin=Origin.SAS,
        profession=Profession(slot.profession),
        priority=_priority(cpts, slot, now),
        location=PatientLocation(None, site.lat, site.lon),
        modalities=frozenset({Modality(slot.modality)}),
        radius_km=1.0,
    )
    request = orienting.receive_request(session, delegate, form, None, now, _NO_COMMUNES)
    held = orienting.hold_slot(session, delegate, request.id, slot.id, now)
    booked = orienting.book(session, delegate, held.id, now)
    return fhir_links.link_appointment(
        session,
        cpts_id=cpts.id,
        system=sent.system,
        value=sent.value,
        orientation_id=booked.id,
        operator=sent.operator,
        now=now,
    )


def _slot_for(session: Session, sent: SasAppointment, departement: str | None) -> SlotRow:
    """The professional's slot that starts when the appointment does."""
    found = session.execute(
        select(SlotRow, CptsRow.departement_code)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .join(CptsRow, SlotRow.cpts_id == CptsRow.id)
        .where(
            ProfessionalRow.rpps == sent.rpps,
            SlotRow.start_at == sent.start,
            SlotRow.cancelled.is_(False),
        )
    ).first()
    if found is None or (departement is not None and found[1] != departement):
        raise business_rule(
            f"no open slot of the professional {idnps_of_rpps(sent.rpps)} starts at "
            f"{sent.start.isoformat()} in your département; search free slots (GET /fhir/Slot) "
            "and book one of them with its exact start",
            "Appointment.start",
        )
    slot: SlotRow = found[0]
    if slot.end_at != sent.end:
        raise business_rule(
            f"the slot starting then ends at {slot.end_at.astimezone(PARIS).isoformat()}; "
            "send that end",
            "Appointment.end",
        )
    return slot


def _priority(cpts: CptsRow, slot: SlotRow, now: datetime) -> str:
    """The most urgent priority class of the CPTS whose deadline still covers the slot."""
    calendar = cpts_settings(cpts).calendar
    for name in calendar.priorities.names:
        try:
            if calendar.deadline(name, now) >= slot.start_at:
                return name
        except OutOfHoursError:
            continue
    raise business_rule(
        "the slot starts beyond every priority deadline of its CPTS (SNP is care within 48 h); "
        "choose an earlier slot",
        "Appointment.start",
    )


# ----------------------------------------------------------------------------- update


def update(
    session: Session,
    actor: Actor,
    link: FhirAppointmentRow,
    sent: SasAppointment,
    departement: str | None,
    now: datetime,
) -> bool:
    """Apply the sent status; True when something changed. Sending the same update
    twice changes nothing the second time."""
    cpts = session.get(CptsRow, link.cpts_id)
    assert cpts is not None
    if departement is not None and cpts.departement_code != departement:
        raise business_rule(
            "this appointment identifier belongs to another département's SAS",
            "Appointment.identifier",
        )
    orientation = session.get(OrientationRow, link.orientation_id)
    assert orientation is not None
    slot, rpps = session.execute(
        select(SlotRow, ProfessionalRow.rpps)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(SlotRow.id == orientation.slot_id)
    ).one()
    if (rpps, slot.start_at) != (sent.rpps, sent.start):
        raise business_rule(
            "an appointment cannot move to another professional or time; cancel it and "
            "create a new one with a new identifier",
            "Appointment.start",
        )
    changed = False
    if (link.operator_system, link.operator_value) != sent.operator:
        link.operator_system, link.operator_value = sent.operator
        changed = True
    current = OrientationStatus(orientation.status)
    target = TARGET[sent.status]
    if FHIR_STATUS[current] != sent.status:
        delegate = fhir_links.acting_for(actor, link.cpts_id)
        if target is OrientationStatus.CANCELLED:
            # The SAS keeps the patient: the request closes rather than waiting again.
            orienting.cancel(
                session, delegate, orientation.id, now, "cancelled by the SAS", close_request=True
            )
        elif target is OrientationStatus.BOOKED:
            raise business_rule(
                f"a {FHIR_STATUS[current]} appointment cannot be booked again; create a new one",
                "Appointment.status",
            )
        else:
            orienting.record_outcome(session, delegate, orientation.id, target, now)
        changed = True
    if changed:
        link.updated_at = now
        session.flush()
    return changed


# ----------------------------------------------------------------------------- reading


def find_visible(
    session: Session, appointment_id: int, departement: str | None
) -> FhirAppointmentRow:
    link = session.get(FhirAppointmentRow, appointment_id)
    if link is not None and departement is not None:
        code = session.scalar(select(CptsRow.departement_code).where(CptsRow.id == link.cpts_id))
        if code != departement:
            link = None
    if link is None:
        raise NotFoundError("Appointment", appointment_id)
    return link


def render(session: Session, link: FhirAppointmentRow) -> str:
    orientation = session.get(OrientationRow, link.orientation_id)
    assert orientation is not None
    slot, rpps = session.execute(
        select(SlotRow, ProfessionalRow.rpps)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(SlotRow.id == orientation.slot_id)
    ).one()
    national = link.operator_system == IDNPS
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(link.id),
        "meta": {"profile": [PROFILE["appointment"]], "lastUpdated": link.updated_at.isoformat()},
        "identifier": [{"system": link.system, "value": link.value}],
        "extension": [
            {
                "url": APPOINTMENT_OPERATOR,
                "valueReference": {
                    "identifier": {
                        "type": {
                            "coding": [
                                {"system": FR_V2_0203, "code": "IDNPS" if national else "INTRN"}
                            ]
                        },
                        "system": link.operator_system,
                        "value": link.operator_value,
                    }
                },
            }
        ],
        "status": FHIR_STATUS[OrientationStatus(orientation.status)],
        "start": slot.start_at.astimezone(PARIS).isoformat(),
        "end": slot.end_at.astimezone(PARIS).isoformat(),
        "participant": [
            {
                "actor": {
                    "identifier": {
                        "type": {"coding": [{"system": FR_V2_0203, "code": "IDNPS"}]},
                        "system": IDNPS,
                        "value": idnps_of_rpps(rpps),
                    }
                },
                "status": "accepted",
            }
        ],
    }
    if orientation.booked_at is not None:
        data["created"] = orientation.booked_at.isoformat()
    if orientation.status in (OrientationStatus.REDIRECTED_15, OrientationStatus.REDIRECTED_ED):
        data["cancelationReason"] = {"text": f"snp: {orientation.status}"}
    return Appointment.model_validate(data).model_dump_json()
