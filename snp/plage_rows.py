"""Plages to and from their table: one mapping for the importer, the API and
the slot publisher, so a new plage field cannot be forgotten in one of them."""

from __future__ import annotations

from snp.modalities import Modality
from snp.orm import PlageRow, ProfessionalRow
from snp.plages import Plage
from snp.professions import Profession


def plage_from_row(row: PlageRow, professional: ProfessionalRow) -> Plage:
    return Plage(
        professional_rpps=professional.rpps,
        profession=Profession(professional.profession),
        weekday=row.weekday,
        start=row.start_local,
        end=row.end_local,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        slot_minutes=row.slot_minutes,
        modality=Modality(row.modality),
        capacity=row.capacity,
        surnumeraire=row.surnumeraire,
        sas_reserved=row.sas_reserved,
    )


def plage_row(plage: Plage, professional_id: int, site_id: int | None) -> PlageRow:
    return PlageRow(
        professional_id=professional_id,
        site_id=site_id,
        weekday=plage.weekday,
        start_local=plage.start,
        end_local=plage.end,
        valid_from=plage.valid_from,
        valid_until=plage.valid_until,
        slot_minutes=plage.slot_minutes,
        modality=str(plage.modality),
        capacity=plage.capacity,
        surnumeraire=plage.surnumeraire,
        sas_reserved=plage.sas_reserved,
    )
