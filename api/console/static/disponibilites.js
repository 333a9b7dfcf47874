// Mes disponibilités: publish and withdraw SNP plages, edit the next slots
// (places, surnuméraire, SAS reservation), and report the outcome of my orientations.
import {
  MODALITIES, OUTCOMES, STATUSES,
  announce, api, clearError, el, fmtDateTime, fmtTime, fmtDay, localDay, requireLogin, serverNow, showError,
} from "./console.js";

const me = await requireLogin(["professional", "coordinator"]);
const DAYS = ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"];
let professionalId = me.professional ? me.professional.id : null;

function forWhom(path) {
  if (me.role !== "coordinator" || !professionalId) return path;
  return path + (path.includes("?") ? "&" : "?") + "professional_id=" + professionalId;
}

// ----------------------------------------------------------------------------- form

const day = document.getElementById("jour");
DAYS.forEach((name, i) => day.append(el("option", { value: i }, name)));
const tomorrow = serverNow() + 24 * 3600 * 1000;
// Monday = 0, as the API counts.
day.value = String((new Date(localDay(tomorrow) + "T12:00:00").getDay() + 6) % 7);
document.getElementById("depuis").value = localDay(serverNow());
const modality = document.getElementById("modalite");
for (const [value, label] of Object.entries(MODALITIES)) modality.append(el("option", { value }, label));

document.getElementById("form-plage").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const body = {
    weekday: Number(day.value),
    start: document.getElementById("debut").value,
    end: document.getElementById("fin").value,
    valid_from: document.getElementById("depuis").value,
    slot_minutes: Number(document.getElementById("duree").value),
    modality: modality.value,
    capacity: Number(document.getElementById("places").value),
    surnumeraire: Number(document.getElementById("surnumeraire").value || 0),
    sas_reserved: document.getElementById("sas").checked,
  };
  const until = document.getElementById("jusqua").value;
  if (until) body.valid_until = until;
  if (me.role === "coordinator") body.professional_id = professionalId;
  if (!body.start || !body.end || body.end <= body.start) {
    showError("L’heure de fin doit suivre l’heure de début.");
    document.getElementById("fin").focus();
    return;
  }
  const res = await api("POST", "/plages", body);
  if (!res.ok) { showError(res.data); return; }
  announce(`Plage publiée le ${DAYS[res.data.weekday].toLowerCase()} de ${res.data.start.slice(0, 5)} à ${res.data.end.slice(0, 5)} : ${res.data.slots_published} créneau${res.data.slots_published > 1 ? "x" : ""} ouvert${res.data.slots_published > 1 ? "s" : ""} sur les 48 prochaines heures.`);
  await refresh();
});

// ----------------------------------------------------------------------------- lists

function table(caption, headers, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}

async function plages() {
  const holder = document.getElementById("plages");
  const res = await api("GET", forWhom("/plages"));
  holder.textContent = "";
  if (!res.ok) { showError(res.data); return; }
  if (!res.data.length) { holder.append(el("p", {}, "Aucune plage publiée.")); return; }
  holder.append(table(`${res.data.length} plage${res.data.length > 1 ? "s" : ""}`,
    ["Jour", "Horaires", "Modalité", "Places", "", ""],
    res.data.map((p) => el("tr", { "data-plage": p.id },
      el("td", {}, DAYS[p.weekday]),
      el("td", {}, `${p.start.slice(0, 5)}–${p.end.slice(0, 5)} (${p.slot_minutes} min)`),
      el("td", {}, MODALITIES[p.modality] || p.modality),
      el("td", {}, `${p.capacity}${p.surnumeraire ? ` + ${p.surnumeraire} surn.` : ""}`),
      el("td", {}, p.sas_reserved ? el("span", { class: "etiquette sas" }, "SAS") : ""),
      el("td", {}, el("button", { type: "button", class: "danger petit", "aria-label": `Retirer la plage du ${DAYS[p.weekday].toLowerCase()} ${p.start.slice(0, 5)}`, onclick: async () => {
        clearError();
        const del = await api("DELETE", `/plages/${p.id}`);
        if (!del.ok) { showError(del.data); return; }
        announce("Plage retirée : ses créneaux libres sont retirés, ceux avec un patient restent.");
        await refresh();
      } }, "Retirer"))))));
}

async function slots() {
  const holder = document.getElementById("creneaux");
  const res = await api("GET", forWhom("/slots"));
  holder.textContent = "";
  if (!res.ok) { showError(res.data); return; }
  if (!res.data.length) { holder.append(el("p", {}, "Aucun créneau dans les 48 prochaines heures.")); return; }
  const rows = res.data.slice(0, 60).map((s) => {
    const id = `creneau-${s.id}`;
    const capacity = el("input", { type: "number", min: "0", max: "50", value: s.capacity, id: `${id}-places`, class: "petit" });
    const extra = el("input", { type: "number", min: "0", max: "50", value: s.surnumeraire, id: `${id}-surn`, class: "petit" });
    const sas = el("input", { type: "checkbox", id: `${id}-sas`, checked: s.sas_reserved });
    const label = `${fmtDay(s.start)} ${fmtTime(s.start)}`;
    return el("tr", { "data-creneau": s.id },
      el("td", {}, label),
      el("td", {}, MODALITIES[s.modality] || s.modality),
      el("td", {}, el("label", { class: "visuellement-cache", for: capacity.id }, `Places du créneau ${label}`), capacity),
      el("td", {}, el("label", { class: "visuellement-cache", for: extra.id }, `Places surnuméraires du créneau ${label}`), extra),
      el("td", {}, el("label", { class: "visuellement-cache", for: sas.id }, `Créneau ${label} réservé au SAS`), sas),
      el("td", {}, String(s.taken)),
      el("td", {}, el("div", { class: "ligne-actions" },
        el("button", { type: "button", class: "secondaire petit", onclick: async () => {
          clearError();
          const r = await api("PATCH", `/slots/${s.id}`, { capacity: Number(capacity.value), surnumeraire: Number(extra.value), sas_reserved: sas.checked });
          if (!r.ok) { showError(r.data); return; }
          announce(`Créneau du ${label} enregistré.`);
        } }, "Enregistrer"),
        s.taken === 0 ? el("button", { type: "button", class: "danger petit", onclick: async () => {
          clearError();
          const r = await api("DELETE", `/slots/${s.id}`);
          if (!r.ok) { showError(r.data); return; }
          announce(`Créneau du ${label} retiré.`);
          await slots();
        } }, "Retirer") : null)));
  });
  holder.append(table(`${res.data.length} créneau${res.data.length > 1 ? "x" : ""}`,
    ["Créneau", "Modalité", "Places", "Surnuméraires", "Réservé SAS", "Patients", ""], rows));
}

async function orientations() {
  const holder = document.getElementById("mes-orientations");
  holder.textContent = "";
  if (me.role === "coordinator") { holder.append(el("p", {}, "Les orientations de la CPTS sont dans la Journée.")); return; }
  const res = await api("GET", "/orientations");
  if (!res.ok) { showError(res.data); return; }
  const since = serverNow() - 3 * 24 * 3600 * 1000;
  const list = res.data.filter((o) => new Date(o.start).getTime() >= since && o.status !== "expired");
  if (!list.length) { holder.append(el("p", {}, "Aucune orientation récente.")); return; }
  holder.append(table(`${list.length} orientation${list.length > 1 ? "s" : ""}`,
    ["Rendez-vous", "Lieu", "Statut", "Résultat"],
    list.map((o) => {
      let outcome = "";
      if (o.status === "booked") {
        const select = el("select", { id: `resultat-${o.id}` }, ...OUTCOMES.map((v) => el("option", { value: v }, STATUSES[v])));
        outcome = el("div", { class: "ligne-actions" },
          el("label", { for: select.id, class: "visuellement-cache" }, `Résultat du rendez-vous du ${fmtDateTime(o.start)}`),
          select,
          el("button", { type: "button", class: "secondaire petit", onclick: async () => {
            clearError();
            const r = await api("POST", `/orientations/${o.id}/outcome`, { outcome: select.value });
            if (!r.ok) { showError(r.data); return; }
            announce(`Résultat enregistré : ${STATUSES[select.value]}.`);
            await orientations();
          } }, "Enregistrer"));
      }
      return el("tr", { "data-orientation": o.id },
        el("td", {}, fmtDateTime(o.start)),
        el("td", {}, o.site_name),
        el("td", {}, el("span", { class: `statut statut-${o.status}` }, STATUSES[o.status] || o.status)),
        el("td", {}, outcome));
    })));
}

async function refresh() {
  await Promise.all([plages(), slots(), orientations()]);
}

if (me.role === "coordinator") {
  const res = await api("GET", "/professionals");
  if (!res.ok) { showError(res.data); } else {
    const select = document.getElementById("professionnel");
    for (const p of res.data) select.append(el("option", { value: p.id }, `${p.first_name} ${p.last_name} (RPPS ${p.rpps})`));
    professionalId = res.data.length ? res.data[0].id : null;
    select.addEventListener("change", async () => { professionalId = Number(select.value); await refresh(); });
    document.getElementById("choix-professionnel").hidden = false;
    document.querySelector("h1").textContent = "Disponibilités des professionnels";
  }
}
await refresh();
