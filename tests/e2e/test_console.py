"""The web console in a real browser (Debian's Chromium through Playwright), over
the demo data: an operator's call from start to finish, a lost booking race, a
professional publishing a plage, a coordinator reading the dashboard."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LiveServer, Shots, log_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=10_000)
    return playwright_expect


def ask_for_slots(page: Page, expect: Any, commune_text: str, commune_name: str) -> None:
    """Fill the intake form with the keyboard and submit it."""
    commune = page.get_by_role("combobox", name=re.compile("Commune du patient"))
    commune.press_sequentially(commune_text)
    expect(page.get_by_role("option", name=re.compile(commune_name)).first).to_be_visible()
    commune.press("Enter")
    expect(page.locator("#commune-choisie")).to_contain_text(commune_name)
    page.get_by_label("Sous 48 h").check()
    page.get_by_role("button", name="Chercher des créneaux").click()
    expect(page.locator("li.proposition").first).to_be_visible()


def test_operator_orients_a_call_from_start_to_finish(
    live_server: LiveServer, new_page: Any, shots: Shots, expect: Any
) -> None:
    started = time.monotonic()
    page = new_page()
    page.goto(live_server.url + "/")  # the URL `snp serve` prints leads to the console
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", name="Connexion", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Comptes de démonstration")).to_be_visible()
    shots.take(page, "connexion", for_docs=True)

    page.get_by_role("button", name=re.compile("Opératrice démo")).click()
    page.wait_for_url("**/console/demande")
    expect(page.get_by_role("heading", name="Nouvelle demande")).to_be_visible()
    expect(page.get_by_role("link", name="Nouvelle demande")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_label("Nom à afficher").fill("M. D.")
    page.get_by_label("Téléphone").fill("06 12 34 56 78")
    ask_for_slots(page, expect, "versai", "Versailles")

    # The ranked proposals, each with its reason, and the territory map.
    proposals = page.locator("li.proposition")
    count = proposals.count()
    assert 1 <= count <= 5
    expect(proposals.first).to_contain_text("Pourquoi ce rang")
    expect(proposals.first).to_contain_text("En tête")
    expect(page.locator("#annonce")).to_contain_text("propositions")
    svg = page.locator("#carte svg")
    expect(svg).to_be_visible()
    expect(svg.locator("g.patient")).to_have_count(1)
    expect(svg.locator("g.proposition")).to_have_count(count)
    assert "Patient à Versailles" in (svg.locator("desc").text_content() or "")
    shots.take(page, "demande", for_docs=True)

    # Hold: a visible countdown of the hold, which runs.
    chosen = proposals.filter(has_not_text="surnuméraire").first
    who = chosen.locator("h3").inner_text().split(". ", 1)[1].strip(" ,")
    chosen.get_by_role("button", name="Réserver ce créneau").click()
    expect(page.get_by_role("heading", name="Créneau réservé provisoirement")).to_be_visible()
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"^[45]:[0-5]\d$"))
    before = timer.inner_text()
    expect(timer).not_to_have_text(before, timeout=3000)
    expect(page.locator("#rebours-annonce")).to_contain_text("Il reste")
    shots.take(page, "reserver", for_docs=True)

    # Book: what to tell the patient.
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.get_by_role("heading", name="Rendez-vous confirmé")).to_be_visible()
    tell = page.locator("#a-dire")
    for word in ("Où", "Quand", "Avec qui", who):
        expect(tell).to_contain_text(word)
    found = re.search(r"Orientation n° (\d+)", tell.inner_text())
    assert found is not None
    orientation_id = found.group(1)
    shots.take(page, "confirmation")
    assert time.monotonic() - started < 60, "a call must take well under a minute"

    # Outcome: recorded by the same operator from the Journée.
    page.goto(f"{live_server.url}/console/journee")
    row = page.locator(f'tr[data-orientation="{orientation_id}"]')
    expect(row).to_contain_text("Rendez-vous confirmé")
    shots.take(page, "journee", for_docs=True)
    row.get_by_label(re.compile("Résultat de l’orientation")).select_option("honoured")
    row.get_by_role("button", name="Enregistrer le résultat").click()
    expect(page.locator("#annonce")).to_contain_text("Résultat enregistré : Honoré")
    expect(page.locator(f'tr[data-orientation="{orientation_id}"]')).to_contain_text("Honoré")
    shots.take(page, "journee-resultat")


def test_lost_booking_race_offers_the_next_proposals(
    live_server: LiveServer, new_page: Any, shots: Shots, expect: Any
) -> None:
    page = new_page()
    log_in(page, live_server, "Opératrice démo")
    ask_for_slots(page, expect, "78000", "Versailles")  # by postal code
    target = page.locator("li.proposition").filter(has_not_text="surnuméraire").first
    slot_id = int(target.get_attribute("data-slot") or "0")

    # Meanwhile a SAS regulator fills that very slot through the API.
    with live_server.api("Régulateur SAS démo") as rival:
        for _ in range(10):
            intake = rival.post(
                "/requests",
                json={
                    "profession": 10,
                    "priority": "within_48h",
                    "location": {"insee_code": "78646"},
                },
            )
            assert intake.status_code == 201, intake.text
            held = rival.post(
                f"/requests/{intake.json()['request']['id']}/holds", json={"slot_id": slot_id}
            )
            if held.status_code == 409:
                break
            assert held.status_code == 201, held.text
        else:
            pytest.fail(f"slot {slot_id} never filled up")

    target.get_by_role("button", name="Réserver ce créneau").click()
    expect(page.locator("#avis-course")).to_contain_text("vient d’être pris")
    expect(page.locator("#annonce")).to_contain_text("Voici les créneaux suivants")
    expect(page.locator("#erreur")).to_be_hidden()
    expect(page.locator(f'li.proposition[data-slot="{slot_id}"]')).to_have_count(0)
    expect(page.locator("li.proposition").first).to_be_visible()
    expect(page.locator("#carte svg g.proposition").first).to_be_visible()
    page.locator("#titre-propositions").scroll_into_view_if_needed()
    shots.take(page, "course-perdue", for_docs=True)

    # The next proposal can be held at once.
    page.locator("li.proposition").first.get_by_role("button", name="Réserver ce créneau").click()
    expect(page.get_by_role("timer")).to_be_visible()


def test_professional_publishes_a_plage(
    live_server: LiveServer, new_page: Any, shots: Shots, expect: Any
) -> None:
    page = new_page()
    log_in(page, live_server, "Dr ")
    expect(page).to_have_url(re.compile(r"/console/disponibilites$"))
    expect(page.get_by_role("heading", name="Mes disponibilités")).to_be_visible()
    tomorrow = (datetime.now(UTC).astimezone(PARIS) + timedelta(days=1)).weekday()
    page.get_by_label("Jour de la semaine").select_option(str(tomorrow))
    page.get_by_label("Début").fill("21:00")
    page.locator("#fin").fill("22:00")
    page.get_by_label("Places surnuméraires", exact=True).fill("1")
    page.get_by_role("button", name="Publier la plage").click()
    expect(page.locator("#annonce")).to_contain_text("Plage publiée")
    expect(page.locator("#annonce")).to_contain_text("3 créneaux ouverts")
    expect(page.locator("#plages tbody tr")).to_have_count(1)
    expect(page.locator("#plages")).to_contain_text("21:00–22:00")
    expect(page.locator("#plages")).to_contain_text("+ 1 surn.")

    # Edit one of its slots: reserve it for SAS requests.
    slot = page.locator("#creneaux tbody tr", has_text="21 h 00").first
    slot.get_by_role("checkbox").check()
    slot.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#annonce")).to_contain_text("enregistré")
    page.reload()
    expect(
        page.locator("#creneaux tbody tr", has_text="21 h 00").first.get_by_role("checkbox")
    ).to_be_checked()
    page.evaluate("window.scrollTo(0, 0)")
    shots.take(page, "disponibilites", for_docs=True)


def test_coordinator_reads_the_dashboard(
    live_server: LiveServer, new_page: Any, shots: Shots, expect: Any, tmp_path: Path
) -> None:
    page = new_page()
    log_in(page, live_server, "Coordination démo")
    page.get_by_role("link", name="Tableau de bord").click()
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    figures = page.locator("#chiffres")
    expect(figures).to_contain_text("Demandes reçues")
    expect(figures).to_contain_text("Orientées dans le délai")
    expect(figures).to_contain_text("Demandes SAS suivies d’un rendez-vous")
    for name in ("Demandes par jour", "Part orientée dans le délai, par jour"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    expect(page.locator("#graphique-jours svg rect.barre").first).to_be_visible()
    expect(page.locator("#graphique-charge svg rect.barre").first).to_be_visible()
    requests = int(figures.locator(".chiffre .valeur").first.inner_text())
    assert requests > 0
    shots.take(page, "tableau-de-bord", for_docs=True)

    # A compensation statement to download.
    page.get_by_role("heading", name="Relevés de compensation").scroll_into_view_if_needed()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Télécharger (CSV)").click()
    download = download_info.value
    assert re.fullmatch(r"releve-\d{11}-\d{4}-\d{2}\.csv", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8").strip()
    shots.take(page, "tableau-de-bord-releves")
