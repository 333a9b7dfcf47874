// Réserver: the proposals of an existing request (from the Journée), also to
// re-orient a booked patient to another slot (?reorienter=<orientation id>).
import { orientation } from "./booking.js";
import { api, requireLogin, showError } from "./console.js";

await requireLogin(["operator", "regulator", "coordinator"]);
const params = new URLSearchParams(location.search);
const requestId = Number(params.get("demande"));
const reorientFrom = params.get("reorienter") ? Number(params.get("reorienter")) : null;
if (!requestId) {
  showError("Aucune demande indiquée : ouvrez cette page depuis la Journée ou une nouvelle demande.");
} else {
  const [request, proposals] = await Promise.all([
    api("GET", `/requests/${requestId}`),
    api("GET", `/requests/${requestId}/proposals`),
  ]);
  if (!request.ok) showError(request.data);
  else if (!proposals.ok) showError(proposals.data);
  else orientation(document.getElementById("orientation"), { request: request.data, proposals: proposals.data, reorientFrom });
}
