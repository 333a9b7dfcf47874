"""Regulator accounts of the SAS guide (INT_R02): create and conditional update.

Each account is a regulator user of the caller's CPTS; ``active=false``
deactivates the user, so its tokens stop working.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.practitioner import Practitioner
from pydantic import ValidationError

from api.fhir.common import (
    FR_V2_0203,
    IDNPS,
    PROFILE,
    SAS,
    bad_request,
    validation_diagnostics,
)
from snp.fhir_links import RegulatorAccount
from snp.orm import FhirRegulatorRow


def parse(data: dict[str, Any]) -> RegulatorAccount:
    try:
        practitioner = Practitioner.model_validate(data)
    except ValidationError as error:
        raise bad_request(validation_diagnostics(error)) from None
    identifiers = [
        (str(i.system), str(i.value))
        for i in practitioner.identifier or []
        if i.system in (IDNPS, SAS) and i.value
    ]
    if not identifiers:
        raise bad_request(
            f"identifier: give the regulator's SAS id ({SAS}) or national id ({IDNPS})",
            "Practitioner.identifier",
        )
    if practitioner.active is None:
        raise bad_request(
            "active is required: true enables the account, false disables it",
            "Practitioner.active",
        )
    names = practitioner.name or []
    family = str(names[0].family or "").strip() if names else ""
    given = " ".join(str(g) for g in (names[0].given or [])).strip() if names else ""
    if not family or not given:
        raise bad_request("name.family and name.given are required", "Practitioner.name")
    emails = [str(t.value) for t in practitioner.telecom or [] if t.system == "email" and t.value]
    return RegulatorAccount(
        identifiers=identifiers,
        family=family[:120],
        given=given[:120],
        email=emails[0][:200] if emails else None,
        active=bool(practitioner.active),
    )


def render(row: FhirRegulatorRow, identifiers: list[tuple[str, str]]) -> str:
    data: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(row.id),
        "meta": {"profile": [PROFILE["regulator"]], "lastUpdated": row.updated_at.isoformat()},
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": FR_V2_0203, "code": "IDNPS" if system == IDNPS else "INTRN"}
                    ]
                },
                "system": system,
                "value": value,
            }
            for system, value in identifiers
        ],
        "active": row.active,
        "name": [{"family": row.family, "given": [row.given]}],
    }
    if row.email:
        data["telecom"] = [{"system": "email", "value": row.email}]
    return Practitioner.model_validate(data).model_dump_json()
