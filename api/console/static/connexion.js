// Connexion: a pasted bearer token, or (demo deployments) one click on a demo user.
import { announce, api, clearError, el, saveSession, showError, showHeader } from "./console.js";

const HOME = {
  operator: "/console/demande",
  regulator: "/console/demande",
  coordinator: "/console/journee",
  professional: "/console/disponibilites",
};

function destination(me) {
  const back = new URLSearchParams(location.search).get("retour");
  if (back && back.startsWith("/console/") && !back.startsWith("/console/connexion")) return back;
  return HOME[me.role] || "/console/journee";
}

async function enter(tok) {
  sessionStorage.setItem("snp.token", tok);
  const res = await api("GET", "/console/api/me");
  if (!res.ok) {
    sessionStorage.removeItem("snp.token");
    showError("Jeton refusé : vérifiez qu’il est complet et qu’il n’a pas expiré.");
    return;
  }
  saveSession(tok, res.data);
  showHeader(res.data);
  location.assign(destination(res.data));
}

function renderUsers(users) {
  const list = document.getElementById("utilisateurs-demo");
  list.textContent = "";
  for (const u of users) {
    list.append(el("li", {}, el("button", {
      type: "button",
      "data-role": u.role,
      onclick: async () => {
        clearError();
        const res = await api("POST", "/console/api/login", { user_id: u.id });
        if (!res.ok) { showError(res.data); return; }
        await enter(res.data.token);
      },
    }, el("strong", {}, u.name), el("span", { class: "role" }, `${u.role_label}${u.cpts_code ? " · " + u.cpts_code : ""}`))));
  }
  document.getElementById("aucun-utilisateur").hidden = users.length > 0;
}

async function init() {
  if (new URLSearchParams(location.search).get("expire")) {
    showError("Votre session a expiré ou le jeton n’est plus valable : reconnectez-vous.");
  }
  document.getElementById("form-jeton").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const tok = document.getElementById("jeton").value.trim();
    if (!tok) {
      document.getElementById("jeton").classList.add("invalide");
      showError("Collez votre jeton d’accès.");
      return;
    }
    await enter(tok);
  });
  const res = await api("GET", "/console/api/login-options");
  if (!res.ok || !res.data.demo_login) return;
  document.getElementById("section-demo").hidden = false;
  renderUsers(res.data.users);
  document.getElementById("creer-demo").addEventListener("click", async () => {
    clearError();
    const created = await api("POST", "/console/api/demo-users", {});
    if (!created.ok) { showError(created.data); return; }
    renderUsers(created.data);
    announce(`${created.data.length} comptes disponibles.`);
  });
}

init();
