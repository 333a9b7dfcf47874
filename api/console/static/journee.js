// Journée: today's and tomorrow's orientations (confirm, cancel, re-orient,
// outcome), the waiting list and the batch plan.
import {
  OUTCOMES, PRIORITIES, PROFESSIONS, STATUSES,
  announce, api, clearError, communeName, el, fmtDay, fmtDateTime, fmtTime, loadCommunes,
  localDay, requireLogin, serverNow, showError,
} from "./console.js";

const me = await requireLogin(["operator", "regulator", "coordinator"]);
// Every role that reaches this page (operator, regulator, coordinator) may record
// an outcome; professionals record theirs from "Mes disponibilités".
const canRecordOutcome = true;

function statusBadge(status) {
  return el("span", { class: `statut statut-${status}` }, STATUSES[status] || status);
}

/** A button that asks for a second click before acting (no blocking dialog). */
function twoStep(label, confirmLabel, action, cls = "danger") {
  const button = el("button", { type: "button", class: `${cls} petit` }, label);
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      announce(`${confirmLabel} Cliquez à nouveau pour confirmer.`);
      return;
    }
    button.disabled = true;
    await action();
  });
  button.addEventListener("blur", () => { if (armed && !button.disabled) { armed = false; button.textContent = label; } });
  return button;
}

async function act(method, path, body, done) {
  clearError();
  const res = await api(method, path, body);
  if (!res.ok) { showError(res.data); await refresh(); return; }
  announce(done);
  await refresh();
}

function actions(o) {
  const cell = el("div", { class: "ligne-actions" });
  if (o.status === "held") {
    cell.append(el("button", { type: "button", class: "petit", onclick: () => act("POST", `/orientations/${o.id}/booking`, undefined, `Orientation n° ${o.id} confirmée.`) }, "Confirmer"));
  }
  if (o.status === "held" || o.status === "booked") {
    cell.append(
      el("a", { class: "bouton secondaire petit", href: `/console/reserver?demande=${o.request_id}&reorienter=${o.id}` }, "Ré-orienter"),
      twoStep("Annuler", "Confirmer l’annulation ?", () => act("POST", `/orientations/${o.id}/cancellation`, { reason: "annulé depuis la console", close_request: false }, `Orientation n° ${o.id} annulée : la demande retourne en liste d’attente.`)),
    );
  }
  if (o.status === "booked") {
    if (canRecordOutcome) {
      const id = `resultat-${o.id}`;
      const select = el("select", { id }, ...OUTCOMES.map((v) => el("option", { value: v }, STATUSES[v])));
      cell.append(
        el("label", { for: id, class: "visuellement-cache" }, `Résultat de l’orientation n° ${o.id}`),
        select,
        el("button", { type: "button", class: "secondaire petit", onclick: () => act("POST", `/orientations/${o.id}/outcome`, { outcome: select.value }, `Résultat enregistré : ${STATUSES[select.value]}.`) }, "Enregistrer le résultat"));
    }
  }
  return cell;
}

async function orientationsTable(holder, day, label) {
  const res = await api("GET", `/orientations?day=${day}`);
  holder.textContent = "";
  if (!res.ok) { showError(res.data); return; }
  const rows = res.data.filter((o) => o.status !== "expired");
  if (!rows.length) { holder.append(el("p", {}, `Aucune orientation ${label}.`)); return; }
  await loadCommunes(rows.map((o) => o.insee_code));
  const body = el("tbody");
  for (const o of rows) {
    body.append(el("tr", { "data-orientation": o.id, "data-statut": o.status },
      el("td", { class: "heure" }, fmtTime(o.start)),
      el("td", {}, o.professional_name),
      el("td", {}, o.site_name, ", ", await communeName(o.insee_code)),
      el("td", {}, el("a", { href: `/console/reserver?demande=${o.request_id}` }, `n° ${o.request_id}`)),
      el("td", {}, statusBadge(o.status), o.surnumeraire ? el("span", { class: "etiquette" }, " surnuméraire") : null),
      el("td", {}, actions(o))));
  }
  holder.append(el("table", {},
    el("caption", {}, `${rows.length} orientation${rows.length > 1 ? "s" : ""} ${label}`),
    el("thead", {}, el("tr", {}, ...["Heure", "Professionnel", "Lieu", "Demande", "Statut", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
    body));
}

async function pendingTable() {
  const holder = document.getElementById("attente");
  const res = await api("GET", "/requests?status=pending");
  holder.textContent = "";
  if (!res.ok) { showError(res.data); return; }
  if (!res.data.length) { holder.append(el("p", {}, "Aucune demande en attente.")); return; }
  await loadCommunes(res.data.map((r) => r.insee_code));
  const body = el("tbody");
  for (const r of res.data) {
    body.append(el("tr", { "data-demande": r.id },
      el("td", {}, `n° ${r.id}`),
      el("td", {}, fmtDateTime(r.received_at)),
      el("td", {}, PROFESSIONS[r.profession] || r.profession),
      el("td", {}, PRIORITIES[r.priority] || r.priority),
      el("td", {}, fmtDateTime(r.deadline)),
      el("td", {}, await communeName(r.insee_code)),
      el("td", {}, r.origin === "sas" ? "SAS" : "CPTS"),
      el("td", {}, el("a", { class: "bouton petit", href: `/console/reserver?demande=${r.id}` }, "Orienter"))));
  }
  holder.append(el("table", {},
    el("caption", {}, `${res.data.length} demande${res.data.length > 1 ? "s" : ""} en attente`),
    el("thead", {}, el("tr", {}, ...["Demande", "Reçue", "Profession", "Priorité", "Échéance", "Commune", "Origine", ""].map((h) => el("th", { scope: "col" }, h)))),
    body));
}

async function refresh() {
  const now = serverNow();
  const today = localDay(now);
  const tomorrow = localDay(now + 24 * 3600 * 1000);
  document.getElementById("titre-aujourdhui").textContent = `Aujourd’hui — ${fmtDay(now)}`;
  document.getElementById("titre-demain").textContent = `Demain — ${fmtDay(now + 24 * 3600 * 1000)}`;
  document.getElementById("titre-apres-demain").textContent = `Après-demain — ${fmtDay(now + 48 * 3600 * 1000)}`;
  await Promise.all([
    pendingTable(),
    orientationsTable(document.getElementById("aujourdhui"), today, "aujourd’hui"),
    orientationsTable(document.getElementById("demain"), tomorrow, "demain"),
    orientationsTable(document.getElementById("apres-demain"), localDay(now + 48 * 3600 * 1000), "après-demain"),
  ]);
}

document.getElementById("actualiser").addEventListener("click", async () => { await refresh(); announce("Journée actualisée."); });
document.getElementById("planifier").addEventListener("click", async () => {
  clearError();
  const button = document.getElementById("planifier");
  button.disabled = true;
  const res = await api("POST", "/plan");
  button.disabled = false;
  const out = document.getElementById("plan-resultat");
  out.textContent = "";
  if (!res.ok) { showError(res.data); return; }
  const unserved = Object.keys(res.data.unserved).length;
  out.append(el("p", { class: "annonce" },
    `Planification faite : ${res.data.held.length} demande${res.data.held.length > 1 ? "s" : ""} orientée${res.data.held.length > 1 ? "s" : ""} (réservations provisoires à confirmer ci-dessous)`,
    unserved ? `, ${unserved} sans solution pour l’instant.` : "."));
  await refresh();
});

await refresh();
