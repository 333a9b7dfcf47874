// Proposals, territory map, hold with its countdown, booking, and what to tell
// the patient. Shared by "Nouvelle demande" and "Réserver" (re-orientation).
import {
  MODALITIES, PRIORITIES, PROFESSIONS, EXCLUSIONS,
  announce, api, clearError, communeName, el, fmtDateTime, fmtKm, fmtTime, fmtWait,
  loadCommunes, serverNow, showError,
} from "./console.js";

const TERM_WORSE = {
  distance: "plus loin",
  wait: "commence plus tard",
  deadline: "plus près de l’échéance",
  not_medecin_traitant: "n’est pas le médecin traitant",
  other_cpts: "relève d’une autre CPTS",
  sas_weekly: "dépasse le plafond SAS de la semaine",
  surnumeraire: "en surnuméraire",
  fairness_daily: "professionnel déjà plus sollicité aujourd’hui",
};
const TERM_NAMES = {
  distance: "distance",
  wait: "attente",
  deadline: "échéance",
  not_medecin_traitant: "pas le médecin traitant",
  other_cpts: "autre CPTS",
  sas_weekly: "plafond SAS",
  surnumeraire: "surnuméraire",
  fairness_daily: "équité de la charge",
};

/** Move focus (and the view) to a new section's heading. */
function bringIntoView(heading) {
  heading.focus({ preventScroll: true });
  heading.scrollIntoView({ block: "start" });
}

/** Why a proposal ranks where it does, in French, from its cost terms. */
export function why(p, rank, best) {
  const facts = [p.modality === "teleconsultation" || p.distance_km === null ? "en téléconsultation" : `à ${fmtKm(p.distance_km)}`, fmtWait(p.wait_minutes)];
  if (p.explanation.includes("médecin traitant")) facts.push("médecin traitant du patient");
  if (p.terms.other_cpts) facts.push("autre CPTS (mutualisation)");
  if (p.surnumeraire) facts.push("en surnuméraire");
  const nth = /patient no\. (\d+) of the day/.exec(p.explanation);
  if (nth) facts.push(`serait son ${nth[1]}ᵉ patient SNP du jour`);
  let ranking;
  if (rank === 1) {
    ranking = "En tête : le meilleur compromis entre distance, délai et répartition de la charge.";
  } else {
    const worse = Object.keys(p.terms)
      .map((k) => [k, (p.terms[k] || 0) - (best.terms[k] || 0)])
      .filter(([, d]) => d > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 2)
      .map(([k]) => TERM_WORSE[k] || k);
    ranking = worse.length
      ? `Après le n° 1 car ${worse.join(" et ")}.`
      : "À égalité ou presque avec le n° 1 : départagé par l’heure.";
  }
  return `${facts.join(", ")}. ${ranking}`;
}

function costDetail(p) {
  const parts = Object.entries(p.terms)
    .filter(([, v]) => v)
    .map(([k, v]) => `${TERM_NAMES[k] || k} ${v}`);
  return `Coût ${p.cost}${parts.length ? " = " + parts.join(" + ") : ""}`;
}

function where(p, commune) {
  if (p.modality === "teleconsultation") return "En téléconsultation : le professionnel appelle le patient";
  if (p.modality === "home_visit") return "À domicile : le professionnel se déplace chez le patient";
  return `${p.site_name}, ${commune}`;
}

/**
 * Drive one orientation inside `container`.
 * opts: {request, proposals, reorientFrom (orientation id or null)}
 */
export function orientation(container, opts) {
  const state = {
    request: opts.request,
    proposals: opts.proposals,
    reorientFrom: opts.reorientFrom || null,
    timer: null,
    notice: null,
  };
  container.hidden = false;
  renderProposals(container, state);
  return state;
}

async function refetch(container, state, notice) {
  const res = await api("GET", `/requests/${state.request.id}/proposals`);
  if (!res.ok) { showError(res.data); return; }
  state.proposals = res.data;
  state.notice = notice || null;
  renderProposals(container, state);
}

async function renderProposals(container, state) {
  window.clearInterval(state.timer);
  const { request, proposals } = state;
  const list = proposals.proposals;
  await loadCommunes([request.insee_code, ...list.map((p) => p.insee_code)]);
  const patientCommune = await communeName(request.insee_code);
  container.textContent = "";
  const heading = el("h2", { id: "titre-propositions", tabindex: "-1" },
    state.reorientFrom ? `Ré-orientation de la demande n° ${request.id}` : `Propositions pour la demande n° ${request.id}`);
  const summary = el("p", { class: "resume" },
    `${PROFESSIONS[request.profession] || request.profession} · ${PRIORITIES[request.priority] || request.priority}`,
    ` · à traiter avant ${fmtDateTime(request.deadline)} · patient à ${patientCommune} · rayon ${request.radius_km} km`,
    ` · origine ${request.origin === "sas" ? "SAS" : "CPTS"}`);
  container.append(heading, summary);
  if (state.notice) container.append(el("div", { class: "attention", id: "avis-course" }, state.notice));

  const column = el("div", {});
  if (list.length === 0) {
    column.append(el("p", { class: "attention" },
      "Aucun créneau ne convient dans le délai. ",
      proposals.unserved_reason ? `Raison : ${proposals.unserved_reason}. ` : "",
      "La demande reste en liste d’attente : elle sera servie par la planification dès qu’une place se libère, ou réorientez le patient (15, urgences) si son état l’exige."));
  } else {
    const ol = el("ol", { class: "propositions", "aria-label": "Créneaux proposés, du meilleur au moins bon" });
    list.forEach((p, i) => ol.append(proposalItem(container, state, p, i + 1, list[0])));
    column.append(ol);
  }
  const excluded = Object.entries(proposals.excluded || {}).filter(([, n]) => n);
  if (excluded.length) {
    column.append(el("p", { class: "ecartes" }, "Créneaux écartés : " +
      excluded.map(([k, n]) => `${n} ${EXCLUSIONS[k] || k}`).join(", ") + "."));
  }
  const figure = el("figure", { class: "carte-territoire", id: "carte" },
    el("figcaption", {}, "Carte du territoire : le patient (croix rouge et rayon de recherche), les propositions numérotées, les lieux d’exercice (carrés) et les communes (points)."));
  container.append(el("div", { class: "grille" }, column, figure));
  loadMap(figure, request.id, list.map((p) => p.slot_id));
  bringIntoView(heading);
}

async function loadMap(figure, requestId, slotIds) {
  const res = await api("GET", `/console/api/requests/${requestId}/map?slots=${slotIds.join(",")}`);
  if (!res.ok) return;
  const holder = el("div", { class: "carte-svg" });
  // The SVG is drawn by our server from reference data, every text escaped.
  holder.innerHTML = res.data;
  figure.prepend(holder);
}

function proposalItem(container, state, p, rank, best) {
  const commune = el("span", {}, p.insee_code);
  communeName(p.insee_code).then((name) => { commune.textContent = name; });
  const id = `proposition-${p.slot_id}`;
  const button = el("button", { type: "button", "aria-describedby": `${id}-titre ${id}-quand` }, "Réserver ce créneau");
  const li = el("li", { class: "proposition", id, "data-slot": p.slot_id },
    el("span", { class: "rang", "aria-hidden": "true" }, rank),
    el("div", {},
      el("h3", { id: `${id}-titre` }, `${rank}. ${p.professional_name}`, el("span", { class: "visuellement-cache" }, ",")),
      el("p", { class: "faits" },
        el("span", { class: "quand", id: `${id}-quand` }, fmtDateTime(p.start)),
        el("span", {}, p.site_name, " — ", commune),
        el("span", {}, MODALITIES[p.modality] || p.modality),
        el("span", {}, fmtKm(p.distance_km)),
        p.surnumeraire ? el("span", { class: "etiquette" }, "surnuméraire") : null,
        p.explanation.includes("médecin traitant") ? el("span", { class: "etiquette mt" }, "médecin traitant") : null)),
    el("div", { class: "actions" }, button),
    el("p", { class: "pourquoi" }, "Pourquoi ce rang : ", why(p, rank, best)),
    el("details", {}, el("summary", {}, "Détail du calcul"), el("p", {}, costDetail(p))));
  button.addEventListener("click", () => {
    if (p.surnumeraire && !state.reorientFrom) askReason(container, state, p, li, button);
    else hold(container, state, p, null);
  });
  return li;
}

function askReason(container, state, p, li, button) {
  if (li.querySelector(".motif")) return;
  const input = el("input", { type: "text", id: `motif-${p.slot_id}`, minlength: "3", maxlength: "300", required: true });
  const box = el("div", { class: "motif champ" },
    el("label", { for: input.id }, "Motif du surnuméraire *"),
    input,
    el("p", { class: "aide" }, "Ce créneau est complet : le professionnel accepte un patient de plus. Indiquez pourquoi."),
    el("button", { type: "button", onclick: () => {
      if (input.value.trim().length < 3) { input.classList.add("invalide"); input.focus(); return; }
      hold(container, state, p, input.value.trim());
    } }, "Réserver en surnuméraire"));
  li.append(box);
  button.disabled = true;
  input.focus();
}

async function hold(container, state, p, reason) {
  clearError();
  const body = { slot_id: p.slot_id };
  let res;
  if (state.reorientFrom) {
    res = await api("POST", `/orientations/${state.reorientFrom}/reorientation`, body);
  } else {
    if (reason) body.surnumeraire_reason = reason;
    res = await api("POST", `/requests/${state.request.id}/holds`, body);
  }
  if (res.status === 409 && res.data.next_proposals) {
    // Lost the race: show what is still free, not an error page.
    state.proposals = { ...state.proposals, proposals: res.data.next_proposals };
    state.notice = `Le créneau de ${fmtTime(p.start)} avec ${p.professional_name} vient d’être pris par une autre orientation. Voici les créneaux suivants.`;
    announce(state.notice);
    renderProposals(container, state);
    return;
  }
  if (!res.ok) { showError(res.data); return; }
  state.notice = null;
  renderHold(container, state, res.data, p);
}

async function renderHold(container, state, orientation, p) {
  window.clearInterval(state.timer);
  const commune = await communeName(orientation.insee_code);
  container.textContent = "";
  const heading = el("h2", { id: "titre-reservation", tabindex: "-1" }, "Créneau réservé provisoirement");
  const clock = el("p", { class: "compte-a-rebours", role: "timer", id: "compte-a-rebours", "aria-labelledby": "rebours-libelle" }, "–:–");
  const spoken = el("p", { class: "visuellement-cache", "aria-live": "polite", id: "rebours-annonce" });
  const confirm = el("button", { type: "button", id: "confirmer" }, "Confirmer le rendez-vous");
  const release = el("button", { type: "button", class: "secondaire", id: "liberer" }, "Libérer le créneau");
  const section = el("section", { class: "carte-blanche reservation", "aria-labelledby": "titre-reservation" },
    heading,
    el("p", {}, el("strong", {}, orientation.professional_name), ` — ${fmtDateTime(orientation.start)} — ${where(p, commune)}`,
      orientation.surnumeraire ? " (surnuméraire)" : ""),
    el("p", { id: "rebours-libelle" }, "Temps restant pour confirmer avec le patient :"),
    clock, spoken,
    el("p", { class: "aide" }, "Le créneau est gardé pour ce patient seulement pendant ce délai ; sans confirmation il retourne aux autres demandes."),
    el("div", { class: "actions" }, confirm, release));
  container.append(section);
  bringIntoView(heading);
  announce(`Créneau réservé provisoirement avec ${orientation.professional_name}. Confirmez avant la fin du compte à rebours.`);

  const until = new Date(orientation.held_until).getTime();
  let lastSpokenMinute = null;
  const tick = () => {
    const left = Math.max(0, Math.round((until - serverNow()) / 1000));
    const m = Math.floor(left / 60);
    const s = left % 60;
    clock.textContent = `${m}:${String(s).padStart(2, "0")}`;
    clock.classList.toggle("bientot", left <= 60);
    const minute = left > 60 ? Math.ceil(left / 60) : left > 30 ? 1 : left > 0 ? 0 : -1;
    if (minute !== lastSpokenMinute) {
      lastSpokenMinute = minute;
      spoken.textContent = minute > 1 ? `Il reste ${minute} minutes.` : minute === 1 ? "Il reste une minute." : minute === 0 ? "Il reste 30 secondes." : "";
    }
    if (left === 0) {
      window.clearInterval(state.timer);
      expired(container, state, section, confirm, release);
    }
  };
  tick();
  state.timer = window.setInterval(tick, 1000);

  confirm.addEventListener("click", async () => {
    clearError();
    confirm.disabled = true;
    const res = await api("POST", `/orientations/${orientation.id}/booking`);
    if (!res.ok) {
      confirm.disabled = false;
      if (res.status === 409) {
        window.clearInterval(state.timer);
        expired(container, state, section, confirm, release);
      } else {
        showError(res.data);
      }
      return;
    }
    window.clearInterval(state.timer);
    renderBooked(container, state, res.data, p);
  });
  release.addEventListener("click", async () => {
    clearError();
    const res = await api("POST", `/orientations/${orientation.id}/cancellation`, { reason: "libéré avant confirmation", close_request: false });
    if (!res.ok) { showError(res.data); return; }
    window.clearInterval(state.timer);
    announce("Créneau libéré.");
    await refetch(container, state, "Le créneau a été libéré. Choisissez une autre proposition.");
  });
}

function expired(container, state, section, confirm, release) {
  confirm.disabled = true;
  release.disabled = true;
  const again = el("button", { type: "button", id: "chercher-encore", onclick: () => refetch(container, state, null) }, "Chercher à nouveau");
  section.append(el("div", { class: "attention", role: "alert" },
    el("p", {}, "Le délai de réservation est écoulé : le créneau a été rendu aux autres demandes."), again));
  again.focus();
}

async function renderBooked(container, state, orientation, p) {
  const commune = await communeName(orientation.insee_code);
  container.textContent = "";
  const heading = el("h2", { id: "titre-confirme", tabindex: "-1" }, "Rendez-vous confirmé");
  container.append(el("section", { class: "carte-blanche annonce succes", "aria-labelledby": "titre-confirme" },
    heading,
    el("h3", {}, "À dire au patient"),
    el("dl", { class: "a-dire", id: "a-dire" },
      el("dt", {}, "Où"), el("dd", {}, where(p, commune)),
      el("dt", {}, "Quand"), el("dd", {}, fmtDateTime(orientation.start)),
      el("dt", {}, "Avec qui"), el("dd", {}, `${orientation.professional_name}, ${(PROFESSIONS[p.profession] || "").toLowerCase()}`),
      el("dt", {}, "Référence"), el("dd", {}, `Orientation n° ${orientation.id}`)),
    el("p", { class: "aide" }, "En cas d’aggravation avant le rendez-vous, le patient appelle le 15."),
    el("div", { class: "actions" },
      el("a", { class: "bouton", href: "/console/demande" }, "Nouvelle demande"),
      el("a", { class: "bouton secondaire", href: "/console/journee" }, "Voir la journée"))));
  bringIntoView(heading);
  announce(`Rendez-vous confirmé avec ${orientation.professional_name}, ${fmtDateTime(orientation.start)}.`);
}
