"""Relational schema (SQLAlchemy 2.0 typed ORM). Times are stored in UTC.

Tables map the domain concepts one to one; the domain dataclasses stay free
of persistence and are built from these rows by the services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Accepts only aware datetimes; always returns aware UTC.

    SQLite has no time zone type: without this, an aware value would come back
    naive and comparisons with "now" would silently shift.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        converted = value.astimezone(UTC)
        return converted.replace(tzinfo=None) if dialect.name == "sqlite" else converted

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER


class CptsRow(Base):
    __tablename__ = "cpts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    departement_code: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CptsCommuneRow(Base):
    __tablename__ = "cpts_commune"
    cpts_id: Mapped[int] = mapped_column(
        ForeignKey("cpts.id", ondelete="CASCADE"), primary_key=True
    )
    insee_code: Mapped[str] = mapped_column(String(5), primary_key=True)


class AgreementRow(Base):
    """Mutualisation: requests of ``cpts_id`` may use slots of ``partner_id``."""

    __tablename__ = "agreement"
    cpts_id: Mapped[int] = mapped_column(
        ForeignKey("cpts.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("cpts.id", ondelete="CASCADE"), primary_key=True
    )


class ProfessionalRow(Base):
    __tablename__ = "professional"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    last_name: Mapped[str] = mapped_column(String(120))
    first_name: Mapped[str] = mapped_column(String(120))
    profession: Mapped[int] = mapped_column(Integer)
    specialty: Mapped[str | None] = mapped_column(String(10))
    accepts_surnumeraire: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the professional usually receives; plages without a site use it.
    main_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", name="fk_professional_main_site")
    )


class SiteRow(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    insee_code: Mapped[str] = mapped_column(String(5))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class PlageRow(Base):
    __tablename__ = "plage"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    start_local: Mapped[Any] = mapped_column(Time)
    end_local: Mapped[Any] = mapped_column(Time)
    valid_from: Mapped[Any] = mapped_column(Date)
    valid_until: Mapped[Any | None] = mapped_column(Date)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    modality: Mapped[str] = mapped_column(String(20))
    capacity: Mapped[int] = mapped_column(Integer)
    surnumeraire: Mapped[int] = mapped_column(Integer, default=0)
    sas_reserved: Mapped[bool] = mapped_column(Boolean, default=False)


class SlotRow(Base):
    """``taken`` counts the places held or booked; the booking path raises it
    with one conditional UPDATE so that a slot is never given twice."""

    __tablename__ = "slot"
    __table_args__ = (
        CheckConstraint("taken >= 0", name="slot_taken_nonnegative"),
        CheckConstraint("taken <= capacity + surnumeraire", name="slot_within_capacity"),
        CheckConstraint("end_at > start_at", name="slot_ends_after_start"),
        Index("ix_slot_window", "cpts_id", "profession", "start_at"),
        # The FHIR slot search: a range per professional (migration 0007).
        Index("ix_slot_professional_start", "professional_id", "start_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    plage_id: Mapped[int | None] = mapped_column(ForeignKey("plage.id"))
    profession: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    modality: Mapped[str] = mapped_column(String(20))
    capacity: Mapped[int] = mapped_column(Integer)
    surnumeraire: Mapped[int] = mapped_column(Integer, default=0)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    sas_reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class PatientContactRow(Base):
    """Kept apart from the request so it can be purged after the retention period."""

    __tablename__ = "patient_contact"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    purged_at: Mapped[datetime | None]


class CareRequestRow(Base):
    __tablename__ = "care_request"
    __table_args__ = (Index("ix_request_status", "cpts_id", "status", "deadline"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    origin: Mapped[str] = mapped_column(String(10))
    profession: Mapped[int] = mapped_column(Integer)
    modalities: Mapped[str] = mapped_column(String(60))  # comma-separated Modality values
    priority: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime]
    earliest: Mapped[datetime | None]
    deadline: Mapped[datetime]
    insee_code: Mapped[str | None] = mapped_column(String(5))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float)
    medecin_traitant_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient_contact.id"))
    status: Mapped[str] = mapped_column(String(20))
    unserved_reason: Mapped[str | None] = mapped_column(String(200))


class OrientationRow(Base):
    __tablename__ = "orientation"
    __table_args__ = (Index("ix_orientation_slot_status", "slot_id", "status"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("care_request.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    status: Mapped[str] = mapped_column(String(20))
    surnumeraire: Mapped[bool] = mapped_column(Boolean, default=False)
    surnumeraire_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    held_until: Mapped[datetime | None]
    booked_at: Mapped[datetime | None]
    cost: Mapped[int] = mapped_column(BigInteger)
    distance_km: Mapped[float | None] = mapped_column(Float)
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("orientation.id"))


class AuditEventRow(Base):
    """Append-only, hash-chained per CPTS. No code path updates or deletes it."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("cpts_id", "seq", name="audit_event_chain_position"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class UserRow(Base):
    """A person or system allowed to call the API, with one role in one CPTS."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    cpts_id: Mapped[int | None] = mapped_column(ForeignKey("cpts.id"), index=True)
    professional_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class IdempotencyKeyRow(Base):
    """The first answer given to an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("cpts_id", "key", name="idempotency_key_per_cpts"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    key: Mapped[str] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class AuditCheckpointRow(Base):
    """A signed statement of an audit chain's head, kept apart from the chain.

    A hash chain cannot show that its newest rows were deleted; a checkpoint
    (HMAC over CPTS, seq, head hash and time) can. Append-only like the chain.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (Index("ix_audit_checkpoint_chain", "cpts_id", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    signature: Mapped[str] = mapped_column(String(64))


# --------------------------------------------------------------------------- compensation ledger


class CompensationRuleVersionRow(Base):
    """One version of a CPTS's compensation rules (``rules`` is validated JSON,
    amounts in integer cents). A version applies from ``valid_from`` until the
    next one; a retroactive correction is a new version that ``replaces`` another."""

    __tablename__ = "compensation_rule_version"
    __table_args__ = (Index("ix_comp_rule_version_cpts", "cpts_id", "valid_from"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    valid_from: Mapped[Any] = mapped_column(Date)
    rules: Mapped[dict[str, Any]]
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("compensation_rule_version.id"), unique=True
    )
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class DutyShiftRow(Base):
    """A regulation or on-call shift a professional did for the CPTS."""

    __tablename__ = "duty_shift"
    __table_args__ = (CheckConstraint("end_at > start_at", name="duty_shift_ends_after_start"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class LedgerEntryRow(Base):
    """An integer-cent amount owed by a CPTS to a professional. Append-only:
    a correction is a new entry (``reverses_id`` points at the one it cancels)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_period", "cpts_id", "period", "professional_id"),
        Index("ix_ledger_entry_source", "source_kind", "source_ref"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"))
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM" in the CPTS's time zone
    kind: Mapped[str] = mapped_column(String(30))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    source_kind: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str] = mapped_column(String(60))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("compensation_rule_version.id"))
    rule_index: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    caused_by: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(300), default="")
    occurred_at: Mapped[datetime]
    posted_at: Mapped[datetime]


# --------------------------------------------------------------------------- FHIR SAS interface


class FhirAppointmentRow(Base):
    """An Appointment identifier of the SAS guide (INT_R03) and the orientation it is.

    The SAS platform names appointments with its own (system, value); snp keeps
    them apart from the orientation so that the service knows nothing of FHIR.
    ``operator_*`` is the regulator of the ``appointmentOperator`` extension.
    """

    __tablename__ = "fhir_appointment"
    __table_args__ = (
        UniqueConstraint("system", "value", name="fhir_appointment_identifier"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))
    orientation_id: Mapped[int] = mapped_column(ForeignKey("orientation.id"), unique=True)
    operator_system: Mapped[str] = mapped_column(String(200))
    operator_value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FhirRegulatorRow(Base):
    """A SAS regulator account (INT_R02), backed by a regulator user of one CPTS."""

    __tablename__ = "fhir_regulator"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cpts_id: Mapped[int] = mapped_column(ForeignKey("cpts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)
    family: Mapped[str] = mapped_column(String(120))
    given: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class FhirRegulatorIdentifierRow(Base):
    """Identifiers of a regulator: the SAS technical UUID, later the national one."""

    __tablename__ = "fhir_regulator_identifier"
    __table_args__ = (
        UniqueConstraint("system", "value", name="fhir_regulator_identifier_unique"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    regulator_id: Mapped[int] = mapped_column(
        ForeignKey("fhir_regulator.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))


class FhirCptsFinessRow(Base):
    """The FINESS a CPTS is registered under, for the guide's Organization."""

    __tablename__ = "fhir_cpts_finess"
    cpts_id: Mapped[int] = mapped_column(
        ForeignKey("cpts.id", ondelete="CASCADE"), primary_key=True
    )
    finess: Mapped[str] = mapped_column(String(9))
