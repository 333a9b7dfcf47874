"""Statements, exports and the national SAS list reconcile with the entries."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from snp.booking import change_status
from snp.compensation import (
    ConsultationRule,
    MonthlyCapRule,
    add_rule_version,
    ledger_balances,
    post_orientation_event,
)
from snp.orientation import OrientationStatus
from snp.statements import (
    accountant_export,
    cpts_totals,
    format_cents,
    professional_statement,
    sas_consultations,
    statement_csv,
    statement_html,
)
from tests.ledger.builders import add_cpts, add_orientation, add_professional, add_slot, paris

AT = paris("2026-03-31", 21)


def test_format_cents_is_exact() -> None:
    assert format_cents(123456) == "1234.56"
    assert format_cents(-5) == "-0.05"
    assert format_cents(123456789, french=True) == "1\u202f234\u202f567,89"


def _cents(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    units, cents = text.lstrip("-").replace("\u202f", "").split(",")
    return sign * (int(units) * 100 + int(cents))


def test_statement_totals_and_exports_reconcile(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        a, b = add_professional(s, cpts), add_professional(s, cpts)
        add_rule_version(
            s,
            cpts,
            date(2026, 3, 1),
            [ConsultationRule(amount_cents=3333), MonthlyCapRule(max_cents=7000)],
            at=AT,
        )
        for pro, hours in ((a, (9, 10, 11)), (b, (14,))):
            for hour in hours:
                oid = add_orientation(s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", hour)))
                change_status(s, oid, OrientationStatus.HONOURED, AT)
                post_orientation_event(s, oid, "honoured", AT)
        change_status(s, oid, OrientationStatus.NO_SHOW, AT)
        post_orientation_event(s, oid, "no_show", AT)

        statement = professional_statement(s, a, "2026-03")
        assert statement.total_cents == 7000 == sum(e.amount_cents for e in statement.entries)
        assert statement.by_kind_cents == {"cap_reduction": -2999, "consultation": 9999}
        totals = cpts_totals(s, cpts, "2026-03")
        assert totals.total_cents == sum(ledger_balances(s, cpts).values()) == 7000
        assert [p.total_cents for p in totals.professionals if p.professional.id == b] == [0]

        export = list(
            csv.DictReader(
                io.StringIO(accountant_export(s, cpts, "2026-03", french=True)), delimiter=";"
            )
        )
        assert len(export) == totals.entries == 6  # 4 consultations, 1 reversal, 1 cap
        assert sum(_cents(r["amount_eur"]) for r in export) == totals.total_cents
        assert any(r["reverses"] for r in export)
        lines = list(csv.DictReader(io.StringIO(statement_csv(statement))))
        assert sorted(r["amount_eur"] for r in lines) == ["-29.99", "33.33", "33.33", "33.33"]
        page = statement_html(statement)
        assert "70,00&nbsp;€" in page and "<script" not in page
        assert statement.model_dump(mode="json")["total_cents"] == 7000


def test_sas_list_applies_the_national_rules(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        gp = add_professional(s, cpts)
        psy = add_professional(s, cpts, specialty="SM42")
        nurse = add_professional(s, cpts, profession=60, specialty=None)
        cases: list[tuple[int, datetime, dict[str, Any]]] = [
            (gp, paris("2026-03-10", 10), {}),
            (gp, paris("2026-03-10", 11), {"medecin_traitant_id": gp}),
            (gp, paris("2026-03-10", 21), {}),  # after 20:00: PDSA
            (psy, paris("2026-03-10", 10), {}),
            (nurse, paris("2026-03-10", 10), {}),
            (gp, paris("2026-03-10", 12), {"origin": "cpts"}),  # not SAS: not listed
        ]
        for pro, start, extra in cases:
            kwargs: dict[str, Any] = {"origin": "sas"} | extra
            oid = add_orientation(s, cpts, add_slot(s, cpts, pro, start), **kwargs)
            change_status(s, oid, OrientationStatus.HONOURED, AT)
        for hour in range(24):  # 24 more the next Monday-Friday: only 20 a week qualify
            day = f"2026-03-{16 + hour % 5:02d}"
            oid = add_orientation(
                s, cpts, add_slot(s, cpts, gp, paris(day, 8 + hour // 5, 30)), origin="sas"
            )
            change_status(s, oid, OrientationStatus.HONOURED, AT)
        listed = sas_consultations(s, cpts, "2026-03")
        first_week = [c.reason for c in listed if c.iso_week == 202611]
        assert first_week == [
            "eligible",
            "psychiatry is excluded",
            "not a doctor",
            "the patient's médecin traitant",
            "during PDSA hours",
        ]
        second = [c for c in listed if c.iso_week == 202612]
        assert sum(c.eligible for c in second) == 20
        assert {c.reason for c in second if not c.eligible} == {"beyond 20 this week"}
        assert sum(c.amount_cents for c in listed) == 21 * 1500
