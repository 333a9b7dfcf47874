// Tableau de bord: the CPTS's SNP indicators, SVG plots, compensation statements.
import { bars, columns } from "./charts.js";
import {
  announce, api, clearError, el, fmtEuros, localDay, requireLogin, serverNow, showError, token,
} from "./console.js";

await requireLogin(["coordinator"]);
const DAY_MS = 24 * 3600 * 1000;
const today = localDay(serverNow());
document.getElementById("du").value = localDay(serverNow() - 6 * DAY_MS);
document.getElementById("au").value = today;
document.getElementById("mois").value = today.slice(0, 7);

function addDays(iso, n) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function shortDay(iso) {
  return new Date(iso + "T12:00:00Z").toLocaleDateString("fr-FR", { weekday: "short", day: "numeric", timeZone: "UTC" });
}
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)} %`);

function figure(label, value, help) {
  return el("div", { class: "chiffre" }, el("span", { class: "valeur" }, value), el("span", { class: "libelle" }, label), help ? el("p", { class: "aide" }, help) : null);
}

async function show() {
  clearError();
  const from = document.getElementById("du").value;
  const last = document.getElementById("au").value;
  if (!from || !last || last < from) { showError("Choisissez une période valide."); return; }
  const to = addDays(last, 1);
  const days = [];
  for (let d = from; d < to && days.length < 31; d = addDays(d, 1)) days.push(d);
  const [overall, load, ...perDay] = await Promise.all([
    api("GET", `/reports/indicators?from=${from}&to=${to}`),
    api("GET", `/console/api/load?from=${from}&to=${to}`),
    ...days.map((d) => api("GET", `/reports/indicators?from=${d}&to=${addDays(d, 1)}`)),
  ]);
  if (!overall.ok) { showError(overall.data); return; }
  const r = overall.data;
  const o = r.overall;
  const box = document.getElementById("chiffres");
  box.textContent = "";
  box.append(
    figure("Demandes reçues", o.requests),
    figure("Rendez-vous donnés", o.appointments),
    figure("Orientées dans le délai", pct(o.within_deadline_share)),
    figure("Délai médian jusqu’au rendez-vous", o.median_wait_min === null ? "—" : `${Math.round(o.median_wait_min)} min`),
    figure("Consultations enregistrées (honorées)", r.consultations_registered),
    figure("Demandes SAS suivies d’un rendez-vous", `${r.sas_requests_with_appointment} / ${r.sas_requests}`),
    figure("Médecins participant au SAS", r.sas_doctors),
    figure("Équité de la charge (Gini, 0 = égale)", r.load_gini === null ? "—" : r.load_gini.toFixed(2)),
  );
  const labels = days.map(shortDay);
  const ok = perDay.every((d) => d.ok);
  columns(document.getElementById("graphique-jours"), {
    id: "plot-jours", title: "Demandes par jour", labels,
    values: perDay.map((d) => (d.ok ? d.data.overall.requests : null)),
  });
  columns(document.getElementById("graphique-delai"), {
    id: "plot-delai", title: "Part orientée dans le délai, par jour", labels, unit: " %", max: 100,
    values: perDay.map((d) => (d.ok && d.data.overall.within_deadline_share !== null ? Math.round(d.data.overall.within_deadline_share * 100) : null)),
  });
  if (load.ok) {
    const top = load.data.slice(0, 15);
    bars(document.getElementById("graphique-charge"), {
      id: "plot-charge", title: `Charge par professionnel (${top.length} plus sollicités)`,
      labels: top.map((p) => p.name), values: top.map((p) => p.orientations), unit: " pat.",
    });
  }
  const waits = await api("GET", `/reports/indicators/plots/time-to-appointment?from=${from}&to=${to}`);
  const holder = document.getElementById("graphique-attente");
  holder.textContent = "";
  if (waits.ok && typeof waits.data === "string") {
    const div = el("div", {});
    // SVG drawn by our own server (snp.svg), its text escaped.
    div.innerHTML = waits.data;
    const svg = div.querySelector("svg");
    if (svg) { svg.setAttribute("role", "img"); svg.removeAttribute("width"); svg.removeAttribute("height"); }
    holder.append(el("figcaption", {}, el("strong", {}, "Délai jusqu’au rendez-vous (minutes)")), div);
  } else {
    holder.hidden = true;
  }
  const fr = (iso) => new Date(iso + "T12:00:00Z").toLocaleDateString("fr-FR", { timeZone: "UTC" });
  announce(`Indicateurs du ${fr(from)} au ${fr(last)} affichés${ok ? "" : " (certains jours indisponibles)"}.`);
}

// ----------------------------------------------------------------------------- statements

async function download(path, filename) {
  clearError();
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!response.ok) {
    const type = response.headers.get("content-type") || "";
    showError(type.includes("json") ? await response.json() : "Téléchargement impossible.");
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(`Fichier ${filename} téléchargé.`);
}

async function statements() {
  clearError();
  const month = document.getElementById("mois").value;
  const holder = document.getElementById("releves");
  holder.textContent = "";
  const res = await api("GET", `/reports/totals?period=${month}`);
  if (!res.ok) { showError(res.data); return; }
  const rows = res.data.professionals.filter((p) => p.entries > 0);
  if (!rows.length) { holder.append(el("p", {}, "Aucune écriture de compensation pour ce mois.")); return; }
  holder.append(el("table", {},
    el("caption", {}, `Total du mois : ${fmtEuros(res.data.total_cents)} (${res.data.entries} écritures)`),
    el("thead", {}, el("tr", {}, ...["Professionnel", "Écritures", "Montant", "Relevé"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((p) => el("tr", { "data-professionnel": p.professional.id },
      el("td", {}, p.professional.name),
      el("td", {}, String(p.entries)),
      el("td", {}, fmtEuros(p.total_cents)),
      el("td", {}, el("div", { class: "ligne-actions" },
        el("button", { type: "button", class: "secondaire petit", "aria-label": `Relevé CSV de ${p.professional.name}`, onclick: () => download(`/reports/statements/${p.professional.id}?period=${month}&format=csv&french=true`, `releve-${p.professional.rpps}-${month}.csv`) }, "CSV"),
        el("button", { type: "button", class: "secondaire petit", "aria-label": `Relevé imprimable de ${p.professional.name}`, onclick: () => download(`/reports/statements/${p.professional.id}?period=${month}&format=html`, `releve-${p.professional.rpps}-${month}.html`) }, "HTML"))))))));
}

document.getElementById("form-periode").addEventListener("submit", (e) => { e.preventDefault(); show(); });
document.getElementById("form-releves").addEventListener("submit", (e) => { e.preventDefault(); statements(); });
document.getElementById("export-comptable").addEventListener("click", () => {
  const month = document.getElementById("mois").value;
  download(`/reports/accounting-export?period=${month}&french=true`, `export-comptable-${month}.csv`);
});
const pros = await api("GET", "/professionals");
if (pros.ok) {
  const select = document.getElementById("releve-professionnel");
  pros.data.sort((a, b) => a.last_name.localeCompare(b.last_name, "fr") || a.first_name.localeCompare(b.first_name, "fr"));
  for (const p of pros.data) select.append(el("option", { value: p.id, "data-rpps": p.rpps }, `${p.last_name} ${p.first_name}`));
  const one = (format) => {
    const month = document.getElementById("mois").value;
    const rpps = select.selectedOptions[0].dataset.rpps;
    download(`/reports/statements/${select.value}?period=${month}&format=${format}${format === "csv" ? "&french=true" : ""}`, `releve-${rpps}-${month}.${format}`);
  };
  document.getElementById("releve-csv").addEventListener("click", () => one("csv"));
  document.getElementById("releve-html").addEventListener("click", () => one("html"));
}
await Promise.all([show(), statements()]);
