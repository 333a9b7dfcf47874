// Small SVG plots drawn in the page (no library, no network). Each figure gets a
// title, a text description and its data as a table for screen readers.
import { el } from "./console.js";

const NS = "http://www.w3.org/2000/svg";
const BLUE = "#1f5fa8";
const GRID = "#d9dee5";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(width, height, title, desc, id) {
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": `${id}-t ${id}-d`, "font-family": "system-ui, sans-serif", "font-size": "12" });
  svg.append(svgEl("title", { id: `${id}-t` }, title), svgEl("desc", { id: `${id}-d` }, desc));
  return svg;
}

function dataTable(caption, headers, rows) {
  return el("details", {}, el("summary", {}, "Voir les données"),
    el("table", {}, el("caption", { class: "visuellement-cache" }, caption),
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))))));
}

/** A round axis maximum divisible by 4 (ticks at quarters stay whole numbers). */
function niceTop(value) {
  const step = Math.pow(10, Math.max(0, Math.floor(Math.log10(value)) - 1));
  return Math.ceil(value / (4 * step)) * 4 * step;
}

/** Vertical bars, one per label (days). `max` fixes the scale (e.g. 100 %). */
export function columns(figure, { id, title, labels, values, unit = "", max, format = (v) => String(v) }) {
  const W = 560, H = 280, L = 44, B = 40, T = 16;
  const top = max || niceTop(Math.max(1, ...values.filter((v) => v !== null)));
  const svg = frame(W, H, title, `${title} : ` + labels.map((l, i) => `${l} ${values[i] === null ? "sans donnée" : format(values[i]) + unit}`).join(", ") + ".", id);
  const plotH = H - T - B, plotW = W - L - 10;
  for (let i = 0; i <= 4; i++) {
    const y = T + plotH - (plotH * i) / 4;
    svg.append(svgEl("line", { x1: L, x2: W - 10, y1: y, y2: y, stroke: GRID }));
    svg.append(svgEl("text", { x: L - 6, y: y + 4, "text-anchor": "end", fill: "#556274" }, format(Math.round((top * i) / 4)) + unit));
  }
  const step = plotW / Math.max(labels.length, 1);
  labels.forEach((label, i) => {
    const v = values[i];
    const x = L + i * step + step * 0.15;
    if (v !== null) {
      const h = (plotH * v) / top;
      const bar = svgEl("rect", { x, y: T + plotH - h, width: step * 0.7, height: Math.max(h, 0.5), fill: BLUE, class: "barre" });
      bar.append(svgEl("title", {}, `${label} : ${format(v)}${unit}`));
      svg.append(bar);
      svg.append(svgEl("text", { x: x + step * 0.35, y: T + plotH - h - 4, "text-anchor": "middle" }, format(v) + unit));
    }
    svg.append(svgEl("text", { x: x + step * 0.35, y: H - B + 16, "text-anchor": "middle", fill: "#556274" }, label));
  });
  figure.textContent = "";
  figure.append(el("figcaption", {}, el("strong", {}, title)), svg,
    dataTable(title, ["Jour", "Valeur"], labels.map((l, i) => [l, values[i] === null ? "—" : format(values[i]) + unit])));
}

/** Horizontal bars, one per label (professionals), longest first. */
export function bars(figure, { id, title, labels, values, unit = "" }) {
  const W = 560, row = 20, L = 180, T = 8;
  const H = T + Math.max(labels.length, 1) * row + 8;
  const top = Math.max(1, ...values);
  const svg = frame(W, H, title, `${title} : ` + labels.map((l, i) => `${l} ${values[i]}${unit}`).join(", ") + ".", id);
  labels.forEach((label, i) => {
    const y = T + i * row;
    const w = ((W - L - 40) * values[i]) / top;
    svg.append(svgEl("text", { x: L - 6, y: y + 13, "text-anchor": "end" }, label.length > 26 ? label.slice(0, 25) + "…" : label));
    const bar = svgEl("rect", { x: L, y: y + 2, width: Math.max(w, 0.5), height: row - 6, fill: BLUE, class: "barre" });
    bar.append(svgEl("title", {}, `${label} : ${values[i]}${unit}`));
    svg.append(bar, svgEl("text", { x: L + w + 4, y: y + 13 }, `${values[i]}${unit}`));
  });
  figure.textContent = "";
  figure.append(el("figcaption", {}, el("strong", {}, title)), svg,
    dataTable(title, ["Professionnel", "Valeur"], labels.map((l, i) => [l, `${values[i]}${unit}`])));
}
