"""Platform administration: CPTS, mutualisation agreements, users, professionals."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from api.schemas.common import Input, Output
from snp.actors import Role


class CptsSettingsIn(Input):
    """Orientation knobs of a CPTS; omitted fields keep their defaults."""

    hold_minutes: int | None = Field(default=None, ge=1, le=60)
    radius_dense_km: float | None = Field(default=None, gt=0, le=200)
    radius_rural_km: float | None = Field(default=None, gt=0, le=200)
    auto_orient_sas: bool | None = None
    solver_weights: dict[str, int | list[int]] | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"hold_minutes": 5, "auto_orient_sas": True}]}
    )


class CptsCreate(Input):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    departement_code: str = Field(min_length=2, max_length=3)
    communes: list[str] = Field(default_factory=list, description="INSEE codes of the territory")
    settings: CptsSettingsIn = Field(default_factory=CptsSettingsIn)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "cpts-versailles",
                    "name": "CPTS du Grand Versailles",
                    "departement_code": "78",
                    "communes": ["78646", "78158"],
                    "settings": {"hold_minutes": 5},
                }
            ]
        }
    )


class CptsOut(Output):
    id: int
    code: str
    name: str
    departement_code: str
    timezone: str
    settings: dict[str, Any]


class AgreementIn(Input):
    cpts: str = Field(description="code of the CPTS whose requests may use the partner's slots")
    partner: str = Field(description="code of the CPTS opening its slots")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"cpts": "cpts-versailles", "partner": "cpts-plaisir"}]}
    )


class AgreementOut(Output):
    cpts: str
    partner: str


class UserCreate(Input):
    name: str = Field(min_length=1, max_length=120)
    role: Role
    cpts: str | None = Field(default=None, description="CPTS code; empty for admins")
    professional_rpps: str | None = Field(default=None, description="for the professional role")
    issue_token: bool = Field(default=True, description="return a local token (demo, systems)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Accueil SNP 1", "role": "operator", "cpts": "cpts-versailles"},
                {
                    "name": "Dr Anne Martin",
                    "role": "professional",
                    "cpts": "cpts-versailles",
                    "professional_rpps": "10000000009",
                },
            ]
        }
    )


class UserPatch(Input):
    active: bool

    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False}]})


class UserOut(Output):
    id: int
    name: str
    role: Role
    cpts_id: int | None
    professional_id: int | None
    active: bool
    token: str | None = None


class SiteIn(Input):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=300)
    insee_code: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ProfessionalCreate(Input):
    rpps: str = Field(description="11 digits (or 12 with the IDNPS prefix 8)")
    last_name: str = Field(min_length=1, max_length=120)
    first_name: str = Field(default="", max_length=120)
    profession: int | str = Field(description="ANS code (10) or name (medecin)")
    specialty: str | None = Field(default=None, max_length=10)
    accepts_surnumeraire: bool = False
    site: SiteIn
    cpts: str | None = Field(default=None, description="CPTS code; admins only")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rpps": "10000000009",
                    "last_name": "Martin",
                    "first_name": "Anne",
                    "profession": 10,
                    "specialty": "SM54",
                    "accepts_surnumeraire": True,
                    "site": {
                        "name": "Cabinet Martin",
                        "address": "1 rue de la Paroisse",
                        "insee_code": "78646",
                        "lat": 48.8049,
                        "lon": 2.1204,
                    },
                }
            ]
        }
    )


class ProfessionalPatch(Input):
    accepts_surnumeraire: bool | None = None
    last_name: str | None = Field(default=None, min_length=1, max_length=120)
    first_name: str | None = Field(default=None, max_length=120)

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepts_surnumeraire": True}]})


class ProfessionalOut(Output):
    id: int
    cpts_id: int
    rpps: str
    last_name: str
    first_name: str
    profession: int
    specialty: str | None
    accepts_surnumeraire: bool
    main_site_id: int | None
