// snp console: shared helpers (session, API calls, French labels and formats).
// Plain ES module, no dependency, nothing loaded from outside this origin.

const TOKEN_KEY = "snp.token";
const ME_KEY = "snp.me";
export const TZ = "Europe/Paris";

export const PROFESSIONS = {
  10: "Médecin",
  21: "Pharmacien·ne",
  40: "Chirurgien·ne-dentiste",
  50: "Sage-femme",
  60: "Infirmier·ère",
  70: "Masseur·se-kinésithérapeute",
};
export const MODALITIES = {
  in_person: "Au cabinet",
  home_visit: "Visite à domicile",
  teleconsultation: "Téléconsultation",
};
export const PRIORITIES = {
  urgent_same_day: "Urgent (dans les 4 h)",
  same_day: "Dans la journée",
  within_48h: "Sous 48 h",
};
export const STATUSES = {
  held: "Réservé provisoirement",
  booked: "Rendez-vous confirmé",
  expired: "Réservation expirée",
  cancelled: "Annulé",
  honoured: "Honoré",
  no_show: "Patient absent",
  redirected_15: "Réorienté vers le 15",
  redirected_ed: "Réorienté vers les urgences",
};
export const REQUEST_STATUSES = {
  pending: "En attente",
  oriented: "Orientée",
  unserved: "Sans solution",
  cancelled: "Annulée",
};
export const OUTCOMES = ["honoured", "no_show", "redirected_15", "redirected_ed"];
export const EXCLUSIONS = {
  profession: "autre profession",
  modality: "modalité non acceptée",
  too_far: "hors du rayon",
  outside_time_window: "hors délai",
  no_capacity: "complets",
  not_mutualised: "CPTS sans accord de mutualisation",
  sas_reserved: "réservés au SAS",
};
const PROBLEM_TITLES = {
  "slot-taken": "Ce créneau vient d’être pris",
  "invalid-input": "Saisie à corriger",
  "not-found": "Introuvable",
  conflict: "La situation a changé entre-temps",
  forbidden: "Action non autorisée pour votre rôle",
  unauthorized: "Session expirée : reconnectez-vous",
  "too-many-requests": "Trop de demandes : réessayez dans un instant",
};

// ----------------------------------------------------------------------------- session

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveSession(tok, me) {
  sessionStorage.setItem(TOKEN_KEY, tok);
  sessionStorage.setItem(ME_KEY, JSON.stringify(me));
}

export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
  location.assign("/console/connexion");
}

let clockOffsetMs = 0;
/** Now on the server's clock (hold countdowns must not trust the PC's clock). */
export function serverNow() {
  return Date.now() + clockOffsetMs;
}

/**
 * Check the session, fill the header, and return who is logged in. A page
 * whose role does not fit says so instead of showing a broken form.
 */
export async function requireLogin(roles) {
  if (!token()) {
    location.assign("/console/connexion?retour=" + encodeURIComponent(location.pathname + location.search));
    return new Promise(() => {});
  }
  const res = await api("GET", "/console/api/me");
  if (!res.ok) return new Promise(() => {});
  const me = res.data;
  clockOffsetMs = new Date(me.server_now).getTime() - Date.now();
  sessionStorage.setItem(ME_KEY, JSON.stringify(me));
  showHeader(me);
  if (roles && !roles.includes(me.role)) {
    const main = document.getElementById("contenu");
    for (const child of main.children) {
      if (child.tagName !== "H1" && !["annonce", "erreur"].includes(child.id)) child.hidden = true;
    }
    showError(`Cette page n’est pas prévue pour le rôle « ${me.role_label} ».`);
    return new Promise(() => {});
  }
  return me;
}

export function showHeader(me) {
  const nav = document.getElementById("navigation");
  const page = document.body.dataset.page;
  for (const li of nav.querySelectorAll("li")) {
    li.hidden = !li.dataset.roles.split(" ").includes(me.role);
    const a = li.querySelector("a");
    if (a.getAttribute("href") === "/console/" + page) a.setAttribute("aria-current", "page");
  }
  nav.hidden = false;
  document.getElementById("utilisateur-nom").textContent = me.name;
  document.getElementById("utilisateur-role").textContent =
    me.role_label + (me.cpts ? " · " + me.cpts.name : "");
  document.getElementById("utilisateur").hidden = false;
  document.getElementById("deconnexion").addEventListener("click", logout);
}

// ----------------------------------------------------------------------------- API

/** Call the JSON API; resolves {ok, status, data}; never throws on HTTP errors. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const tok = token();
  if (tok) headers.Authorization = "Bearer " + tok;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: { title: "Serveur injoignable", detail: "Vérifiez la connexion au serveur snp." } };
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (response.status === 401 && path !== "/console/api/login") {
    sessionStorage.removeItem(TOKEN_KEY);
    location.assign("/console/connexion?expire=1");
  }
  return { ok: response.ok, status: response.status, data };
}

// ----------------------------------------------------------------------------- messages

export function announce(text) {
  const zone = document.getElementById("annonce");
  zone.textContent = "";
  // A fresh text node makes screen readers announce repeated messages too.
  window.setTimeout(() => { zone.textContent = text; }, 30);
}

export function clearError() {
  const zone = document.getElementById("erreur");
  zone.hidden = true;
  zone.textContent = "";
}

/** Show an error: a string, or an RFC 9457 problem from the API (in French). */
export function showError(problem) {
  const zone = document.getElementById("erreur");
  zone.textContent = "";
  if (typeof problem === "string") {
    zone.append(el("p", {}, problem));
  } else {
    const slug = (problem.type || "").split("/").pop();
    zone.append(el("p", {}, el("strong", {}, PROBLEM_TITLES[slug] || problem.title || "Erreur")));
    if (problem.errors && problem.errors.length) {
      zone.append(el("ul", {}, ...problem.errors.map((e) =>
        el("li", {}, `${fieldLabel(e.field)} : ${e.problem}. ${e.fix || ""}`))));
    } else if (problem.detail) {
      zone.append(el("p", { class: "aide" }, "Détail : " + problem.detail));
    }
  }
  zone.hidden = false;
}

const FIELD_LABELS = {
  priority: "Priorité",
  profession: "Profession",
  "location.insee_code": "Commune",
  location: "Commune",
  modalities: "Modalités",
  medecin_traitant_rpps: "Médecin traitant",
  "patient.display_name": "Nom du patient",
  "patient.phone": "Téléphone",
  "patient.birth_year": "Année de naissance",
  radius_km: "Rayon",
  start: "Début",
  end: "Fin",
  weekday: "Jour",
  valid_from: "À partir du",
  valid_until: "Jusqu’au",
  capacity: "Places",
  surnumeraire: "Places surnuméraires",
};
function fieldLabel(field) {
  return FIELD_LABELS[field] || field;
}

// ----------------------------------------------------------------------------- DOM

/** Build an element: el("p", {class: "x", "aria-live": "polite"}, "text", child…) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ----------------------------------------------------------------------------- formats

const dayFmt = new Intl.DateTimeFormat("fr-FR", { timeZone: TZ, weekday: "long", day: "numeric", month: "long" });
const timeFmt = new Intl.DateTimeFormat("fr-FR", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
const isoDayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

export function fmtDay(iso) { return dayFmt.format(new Date(iso)); }
export function fmtTime(iso) { return timeFmt.format(new Date(iso)).replace(":", " h "); }
export function fmtDateTime(iso) { return `${fmtDay(iso)} à ${fmtTime(iso)}`; }
/** The local calendar day (YYYY-MM-DD, Paris) of an instant in ms. */
export function localDay(ms) { return isoDayFmt.format(new Date(ms)); }

export function fmtKm(km) {
  if (km === null || km === undefined) return "à distance";
  return km.toLocaleString("fr-FR", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) + " km";
}
export function fmtWait(minutes) {
  if (minutes < 60) return `dans ${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `dans ${h} h${m ? " " + String(m).padStart(2, "0") : ""}`;
}
export function fmtEuros(cents) {
  return (cents / 100).toLocaleString("fr-FR", { style: "currency", currency: "EUR" });
}

// ----------------------------------------------------------------------------- communes

const communeNames = new Map();
/** Commune names by INSEE code, fetched once per code. */
export async function communeName(code) {
  if (!code) return "";
  await loadCommunes([code]);
  return communeNames.get(code) || code;
}
export async function loadCommunes(codes) {
  const missing = [...new Set(codes.filter((c) => c && !communeNames.has(c)))];
  if (missing.length) {
    const res = await api("GET", "/console/api/communes?codes=" + missing.join(","));
    if (res.ok) for (const c of res.data) communeNames.set(c.insee_code, c.name);
  }
  return communeNames;
}

// ----------------------------------------------------------------------------- autocomplete

/**
 * An accessible combobox (ARIA 1.2 pattern): type, arrows to move, Enter to
 * choose, Escape to close. `search(text)` resolves to [{value, label, item}].
 */
export function combobox(input, listbox, search, onChoose) {
  let options = [];
  let active = -1;
  let timer = null;
  let seq = 0;
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("autocomplete", "off");
  listbox.setAttribute("role", "listbox");

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function render() {
    listbox.textContent = "";
    options.forEach((opt, i) => {
      const li = el("li", {
        id: `${listbox.id}-${i}`,
        role: "option",
        "aria-selected": i === active ? "true" : "false",
      }, opt.label);
      li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
      listbox.append(li);
    });
    listbox.hidden = options.length === 0;
    input.setAttribute("aria-expanded", options.length ? "true" : "false");
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", `${listbox.id}-${active}`);
      document.getElementById(`${listbox.id}-${active}`).scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function choose(i) {
    const opt = options[i];
    if (!opt) return;
    input.value = opt.label;
    close();
    onChoose(opt);
  }
  input.addEventListener("input", () => {
    onChoose(null);
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (text.length < 2) { options = []; close(); return; }
    timer = window.setTimeout(async () => {
      const mine = ++seq;
      const found = await search(text);
      if (mine !== seq) return;
      options = found;
      active = found.length ? 0 : -1;
      render();
    }, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      active = (active + 1) % options.length;
      render();
    } else if (event.key === "ArrowUp" && options.length) {
      event.preventDefault();
      active = (active - 1 + options.length) % options.length;
      render();
    } else if (event.key === "Enter" && !listbox.hidden && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => window.setTimeout(close, 100));
}
