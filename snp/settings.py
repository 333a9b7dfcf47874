"""Deployment settings, read from the environment (prefix ``SNP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/snp.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SNP_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Keys the trace uses to refer to patients without naming them; set a real
    # secret in production (``SNP_PATIENT_KEY``).
    patient_key: str = "dev-only-patient-key"
    fixtures_dir: Path = Path(__file__).resolve().parent.parent / "fixtures"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
