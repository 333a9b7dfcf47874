"""The CapabilityStatement at /fhir/metadata: what snp's SAS interface does."""

from __future__ import annotations

from functools import lru_cache

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from api.fhir.common import PROFILE
from api.fhir.slots import PRACTITIONER_PARAM

SAS_IG = "https://interop.esante.gouv.fr/ig/fhir/sas"


@lru_cache(maxsize=1)
def capability_statement() -> str:
    def resource(kind: str, profile: str, *interactions: str, **extra: object) -> dict[str, object]:
        return {
            "type": kind,
            "profile": profile,
            "interaction": [{"code": code} for code in interactions],
            **extra,
        }

    data = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "publisher": "snp",
        "kind": "instance",
        "software": {"name": "snp", "version": "0.1.0"},
        "implementation": {"description": "snp: SAS editor interface (INT_R01-R04)"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "implementationGuide": [SAS_IG],
        "rest": [
            {
                "mode": "server",
                "documentation": "Agenda manager of the SAS guide; see docs/fhir-sas.md",
                "security": {
                    "cors": False,
                    "description": "Authorization: Bearer <JWT> of a regulator account; "
                    "a regulator sees the SNP slots of the CPTS of its département.",
                },
                "resource": [
                    resource(
                        "Slot",
                        PROFILE["slot-cpts"],
                        "search-type",
                        supportedProfile=[PROFILE["slot"]],
                        searchInclude=[
                            "Slot:schedule",
                            "Schedule:actor",
                            "Slot:service-type-reference",
                            "HealthcareService:organization",
                        ],
                        searchParam=[
                            {"name": "start", "type": "date", "documentation": "ge and le"},
                            {"name": "status", "type": "token", "documentation": "free"},
                            {
                                "name": PRACTITIONER_PARAM,
                                "type": "token",
                                "documentation": "1 to 25 IDNPS (8 + RPPS)",
                            },
                        ],
                    ),
                    resource("Schedule", PROFILE["schedule"]),
                    resource(
                        "Practitioner",
                        PROFILE["regulator"],
                        "create",
                        "update",
                        conditionalUpdate=True,
                        supportedProfile=[PROFILE["practitioner"]],
                    ),
                    resource("PractitionerRole", PROFILE["practitioner-role"]),
                    resource("HealthcareService", PROFILE["healthcare-service"]),
                    resource("Organization", PROFILE["organization"]),
                    resource(
                        "Appointment",
                        PROFILE["appointment"],
                        "create",
                        "update",
                        "read",
                        conditionalUpdate=True,
                        conditionalCreate=False,
                    ),
                ],
            }
        ],
    }
    return CapabilityStatement.model_validate(data).model_dump_json()
