// Nouvelle demande: the operator's intake form, then the proposals (booking.js).
import { orientation } from "./booking.js";
import {
  MODALITIES, PRIORITIES, PROFESSIONS,
  announce, api, clearError, combobox, el, requireLogin, showError,
} from "./console.js";

const me = await requireLogin(["operator", "regulator", "coordinator"]);
const form = document.getElementById("form-demande");
let commune = null;
let doctor = null;

// Profession, priorities (the CPTS's own classes), modalities.
const profession = document.getElementById("profession");
for (const [code, label] of Object.entries(PROFESSIONS)) {
  profession.append(el("option", { value: code }, label));
}
const priorities = document.getElementById("priorites");
(me.cpts ? me.cpts.priorities : Object.keys(PRIORITIES)).forEach((name, i, all) => {
  priorities.append(el("label", {},
    el("input", { type: "radio", name: "priorite", value: name, required: true, checked: i === all.length - 1 }),
    PRIORITIES[name] || name));
});
const modalities = document.getElementById("modalites");
for (const [value, label] of Object.entries(MODALITIES)) {
  modalities.append(el("label", {}, el("input", { type: "checkbox", name: "modalite", value, checked: value !== "home_visit" }), label));
}

// Origin follows the account (the API sets it from the role).
const sas = me.role === "regulator";
document.getElementById("origine-sas").checked = sas;
document.getElementById("origine-cpts").checked = !sas;
document.getElementById("origine-sas").disabled = !sas;
document.getElementById("origine-cpts").disabled = sas;

combobox(
  document.getElementById("commune"),
  document.getElementById("commune-suggestions"),
  async (text) => {
    const res = await api("GET", "/console/api/communes?q=" + encodeURIComponent(text));
    return res.ok ? res.data.map((c) => ({ value: c.insee_code, label: `${c.name} (${c.postal_codes.join(", ")})`, item: c })) : [];
  },
  (opt) => {
    commune = opt ? opt.item : null;
    document.getElementById("commune").classList.remove("invalide");
    document.getElementById("commune-choisie").textContent = opt ? `Commune choisie : ${opt.item.name} — code INSEE ${opt.item.insee_code}` : "";
  },
);
combobox(
  document.getElementById("medecin"),
  document.getElementById("medecin-suggestions"),
  async (text) => {
    const res = await api("GET", "/console/api/medecins?q=" + encodeURIComponent(text));
    return res.ok ? res.data.map((d) => ({ value: d.rpps, label: `${d.name}${d.commune ? " — " + d.commune : ""}`, item: d })) : [];
  },
  (opt) => {
    doctor = opt ? opt.item : null;
    document.getElementById("medecin-choisi").textContent = opt ? `Médecin traitant : ${opt.item.name} (RPPS ${opt.item.rpps})` : "";
  },
);

form.addEventListener("reset", () => {
  commune = null;
  doctor = null;
  document.getElementById("commune-choisie").textContent = "";
  document.getElementById("medecin-choisi").textContent = "";
  document.getElementById("orientation").hidden = true;
  clearError();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const problems = [];
  if (!commune) {
    document.getElementById("commune").classList.add("invalide");
    problems.push("Choisissez la commune du patient dans la liste (tapez son nom ou son code postal).");
  }
  const chosenModalities = [...form.querySelectorAll("input[name=modalite]:checked")].map((i) => i.value);
  if (!chosenModalities.length) problems.push("Cochez au moins une modalité.");
  if (problems.length) {
    showError(problems.join(" "));
    (commune ? form.querySelector("input[name=modalite]") : document.getElementById("commune")).focus();
    return;
  }
  const body = {
    profession: Number(profession.value),
    priority: form.querySelector("input[name=priorite]:checked").value,
    location: { insee_code: commune.insee_code },
    modalities: chosenModalities,
  };
  const radius = document.getElementById("rayon").value;
  if (radius) body.radius_km = Number(radius);
  const typedDoctor = document.getElementById("medecin").value.trim();
  if (doctor) body.medecin_traitant_rpps = doctor.rpps;
  else if (/^\d{11}$/.test(typedDoctor)) body.medecin_traitant_rpps = typedDoctor;
  const name = document.getElementById("patient-nom").value.trim();
  if (name) {
    body.patient = { display_name: name };
    const phone = document.getElementById("patient-tel").value.trim();
    const year = document.getElementById("patient-annee").value;
    if (phone) body.patient.phone = phone;
    if (year) body.patient.birth_year = Number(year);
  }
  const button = document.getElementById("chercher");
  button.disabled = true;
  const res = await api("POST", "/requests", body);
  button.disabled = false;
  if (!res.ok) { showError(res.data); return; }
  const count = res.data.proposals.proposals.length;
  announce(count ? `Demande n° ${res.data.request.id} enregistrée : ${count} propositions.` : `Demande n° ${res.data.request.id} enregistrée : aucune proposition pour l’instant.`);
  orientation(document.getElementById("orientation"), { request: res.data.request, proposals: res.data.proposals });
});
