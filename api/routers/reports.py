"""Coordinator reports: indicators, compensation statements, SAS-eligible acts.

Everything is read-only and scoped to the coordinator's own CPTS (and, on
request, the CPTS it has mutualisation agreements with).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select

from api.auth import roles
from api.deps import DbSession
from api.problems import ProblemRoute, invalid, not_found, problem_responses
from api.schemas.common import day_query
from snp import svg
from snp.actors import Actor, Role
from snp.indicators import IndicatorReport, compute_indicators, indicators_csv
from snp.orm import AgreementRow, ProfessionalRow
from snp.statements import (
    CptsTotals,
    SasConsultation,
    Statement,
    accountant_export,
    cpts_totals,
    professional_statement,
    sas_consultations,
    statement_csv,
    statement_html,
)

# Every operation here needs a token and a role, and names what it acts on.
ERRORS = problem_responses(401, 403, 404, 422)
router = APIRouter(prefix="/reports", tags=["reports"], responses=ERRORS, route_class=ProblemRoute)
Coordinator = Annotated[Actor, roles(Role.COORDINATOR)]
# Text answers (format=csv, format=html, plots) as the OpenAPI document shows them.
TEXT = {"schema": {"type": "string"}}
CSV_TOO: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": TEXT}}}
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PeriodQuery = Annotated[str, Query(description="Month, YYYY-MM", examples=["2026-11"])]
Format = Literal["json", "csv", "html"]


def _own_cpts(actor: Actor) -> int:
    assert actor.cpts_id is not None  # coordinators always belong to a CPTS
    return actor.cpts_id


def _period(value: str) -> str:
    if not PERIOD.match(value):
        raise invalid("period", f"{value!r} is not a month", "Give the month as YYYY-MM.")
    return value


def _window(date_from: date, date_to: date) -> tuple[date, date]:
    if date_to <= date_from:
        raise invalid("to", "the period ends before it starts", "Give `to` after `from`.")
    if (date_to - date_from).days > 366:
        raise invalid("to", "more than a year", "Ask for at most 366 days at a time.")
    return date_from, date_to


def _scope(session: DbSession, actor: Actor, with_partners: bool) -> list[int]:
    own = _own_cpts(actor)
    if not with_partners:
        return [own]
    partners = session.scalars(select(AgreementRow.partner_id).where(AgreementRow.cpts_id == own))
    return [own, *sorted(set(partners) - {own})]


@router.get("/indicators", response_model=IndicatorReport, responses=CSV_TOO)
def indicators(
    session: DbSession,
    actor: Coordinator,
    date_from: Annotated[date, day_query("First local day", alias="from")],
    date_to: Annotated[date, day_query("Day after the last one", alias="to")],
    with_partners: bool = False,
    format: Literal["json", "csv"] = "json",
) -> IndicatorReport | Response:
    """The SNP mission's indicators for requests received in [from, to)."""
    start, end = _window(date_from, date_to)
    report = compute_indicators(session, _scope(session, actor, with_partners), start, end)
    if format == "csv":
        return PlainTextResponse(indicators_csv(report), media_type="text/csv")
    return report


@router.get(
    "/indicators/plots/{name}",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": TEXT}, "description": "The plot (SVG)"}},
)
def indicator_plot(
    name: Literal["within-deadline", "time-to-appointment"],
    session: DbSession,
    actor: Coordinator,
    date_from: Annotated[date, day_query("First local day", alias="from")],
    date_to: Annotated[date, day_query("Day after the last one", alias="to")],
) -> Response:
    """An SVG plot of the indicators, drawn here (no network, no script)."""
    start, end = _window(date_from, date_to)
    report = compute_indicators(session, [_own_cpts(actor)], start, end)
    if name == "within-deadline":
        shares = report.within_deadline_by_priority
        labels = sorted(shares)
        values = [100 * (shares[k] or 0.0) for k in labels]
        image = svg.bar_chart("Orientées dans le délai", labels, values, "%")
    else:
        image = svg.histogram("Délai jusqu'au rendez-vous", report.waits_min, unit="min")
    return Response(image, media_type="image/svg+xml")


@router.get("/totals", response_model=CptsTotals)
def totals(session: DbSession, actor: Coordinator, period: PeriodQuery) -> CptsTotals:
    """What the CPTS owes each professional for the month, reconciled with the entries."""
    return cpts_totals(session, _own_cpts(actor), _period(period))


@router.get(
    "/accounting-export",
    response_class=Response,
    responses={200: {"content": {"text/csv": TEXT}, "description": "The entries (CSV)"}},
)
def accounting_export(
    session: DbSession, actor: Coordinator, period: PeriodQuery, french: bool = False
) -> PlainTextResponse:
    """One CSV line per ledger entry, for the CPTS's accountant."""
    text = accountant_export(session, _own_cpts(actor), _period(period), french=french)
    return PlainTextResponse(text, media_type="text/csv")


@router.get(
    "/statements/{professional_id}",
    response_model=Statement,
    responses={200: {"content": {"text/csv": TEXT, "text/html": TEXT}}},
)
def statement(
    professional_id: int,
    session: DbSession,
    actor: Coordinator,
    period: PeriodQuery,
    format: Format = "json",
    french: bool = False,
) -> Statement | Response:
    """A professional's compensation statement: JSON, CSV or a printable page."""
    pro = session.get(ProfessionalRow, professional_id)
    if pro is None or pro.cpts_id != actor.cpts_id:
        raise not_found("professional", professional_id)
    result = professional_statement(session, professional_id, _period(period))
    if format == "csv":
        return PlainTextResponse(statement_csv(result, french=french), media_type="text/csv")
    if format == "html":
        return HTMLResponse(statement_html(result))
    return result


@router.get("/sas-consultations", response_model=list[SasConsultation])
def sas_list(
    session: DbSession,
    actor: Coordinator,
    period: PeriodQuery,
    professional_id: int | None = None,
) -> list[SasConsultation]:
    """Honoured SAS consultations, each flagged for the national SAS majoration
    (paid by the Assurance Maladie: the professional bills them)."""
    return sas_consultations(session, _own_cpts(actor), _period(period), professional_id)
