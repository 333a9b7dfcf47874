"""Indicators, territorial diagnosis and SVG plots on small, hand-checked worlds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from snp.booking import change_status, hold, release_expired_holds
from snp.diagnosis import diagnose, unmet_demand_map
from snp.indicators import compute_indicators, gini, indicators_csv
from snp.orientation import OrientationStatus
from snp.orm import CareRequestRow, CptsCommuneRow
from snp.svg import bar_chart, commune_map, histogram
from tests.ledger.builders import add_cpts, add_orientation, add_professional, add_slot, paris

DAY = "2026-03-10"


def _request(s: Session, cpts: int, hour: int, **extra: object) -> int:
    received = paris(DAY, hour)
    row = CareRequestRow(
        cpts_id=cpts,
        origin="cpts",
        profession=10,
        modalities="in_person",
        priority="same_day",
        received_at=received,
        earliest=None,
        deadline=paris(DAY, 20),
        insee_code="78646",
        lat=48.8049,
        lon=2.1204,
        radius_km=10.0,
        status="pending",
        **extra,
    )
    s.add(row)
    s.flush()
    return row.id


def test_indicators_of_a_small_day(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        a, b = add_professional(s, cpts), add_professional(s, cpts)
        ok = add_orientation(s, cpts, add_slot(s, cpts, a, paris(DAY, 10)))
        noshow = add_orientation(s, cpts, add_slot(s, cpts, a, paris(DAY, 11)), origin="sas")
        late = add_orientation(s, cpts, add_slot(s, cpts, a, paris(DAY, 12)), late=True)
        add_slot(s, cpts, b, paris(DAY, 15))  # b published but got nobody
        for oid, status in ((ok, "honoured"), (noshow, "no_show"), (late, "honoured")):
            change_status(s, oid, OrientationStatus(status), paris(DAY, 21))
        unserved = _request(s, cpts, 9, unserved_reason="no slot within reach")
        spare = add_slot(s, cpts, b, paris(DAY, 16))
        hold(
            s,
            cpts_id=cpts,
            request_id=unserved,
            slot_id=spare,
            now=paris(DAY, 9),
            hold_for=timedelta(minutes=5),
            cost=0,
            distance_km=None,
        )
        release_expired_holds(s, paris(DAY, 10))

        report = compute_indicators(s, [cpts], date(2026, 3, 1), date(2026, 4, 1))
        o = report.overall
        assert (o.requests, o.appointments, o.honoured, o.no_shows, o.unserved) == (4, 3, 2, 1, 1)
        assert o.within_deadline == 2 and o.within_deadline_share == 0.5
        assert report.consultations_registered == 2
        assert (report.sas_requests, report.sas_requests_with_appointment, report.sas_doctors) == (
            1,
            1,
            1,
        )
        assert report.unserved_by_cause == {"no slot within reach": 1}
        assert report.expired_holds == 1
        assert o.median_wait_min == 180.0  # every orientation was booked 3 h ahead
        assert report.load_gini == gini([3, 0]) == 0.5
        assert report.load_max_over_mean == 2.0
        assert [r.key for r in report.by_commune] == ["78646"]
        text = indicators_csv(report, french=True)
        assert "overall;all;4;3;2;1;2;0,5;" in text


def test_gini() -> None:
    assert gini([2, 2, 2]) == 0.0
    assert gini([]) is None
    assert gini([0, 0, 9]) == round(2 / 3, 4)


def test_diagnosis_names_the_gap_and_the_what_if_closes_it(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)  # a cabinet in Versailles
        add_slot(s, cpts, pro, paris(DAY, 10))
        for hour in (8, 8, 9):
            _request(s, cpts, hour)
        result = diagnose(s, [cpts], date(2026, 3, 9), date(2026, 3, 16))
        assert result.demand_source == "recorded"
        assert (result.before.requests, result.before.served, result.before.unserved) == (3, 1, 2)
        assert [(g.commune_name, g.profession, g.half_day, g.unserved) for g in result.gaps] == [
            ("Versailles", "médecin", f"{DAY} AM", 2)
        ]
        assert sum(p.places for p in result.suggestions) == 2
        assert result.suggested_hours_by_profession == {"médecin": 1.0}  # 2 × 20 min, in half-hours
        assert result.after.unserved == 0
        svg = unmet_demand_map(result)
        ET.fromstring(svg)
        assert "Versailles: 2" in svg


def test_population_model_without_history(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        s.add(CptsCommuneRow(cpts_id=cpts, insee_code="78646"))  # ~85,000 inhabitants
        s.flush()
        result = diagnose(s, [cpts], date(2026, 3, 9), date(2026, 3, 14))
        assert result.demand_source == "population model"
        assert result.before.requests > 50 and result.before.served == 0  # no plage at all
        assert result.after.unserved == 0


def test_svg_plots_are_well_formed_and_escaped() -> None:
    for svg in (
        bar_chart("a < b", ["x & y", "z"], [1.0, 2.5], unit=" %"),
        histogram("waits", [1.0, 2.0, 2.0, 50.0], bins=5),
        histogram("empty", []),
        commune_map("map", [("Saint-Cyr <l'École>", 48.8, 2.06, 3.0)], [(48.9, 2.1)]),
    ):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    assert "x &amp; y" in bar_chart("t", ["x & y"], [1.0])
