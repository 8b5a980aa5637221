// The overview: every apartment by floor and wing, one cell each, updated in place.
import { t } from "/ui/i18n.js";
import { escapeHtml } from "/ui/format.js";
import { deviceCell, devicesInOrder } from "/ui/devices.js";

function openAlarms(state, number) {
  return [...state.alarms.values()].filter((a) => a.apartment === number && a.state !== "closed");
}

function cellHtml(state, apt) {
  const offline = apt.devices.filter((d) => {
    const a = state.twins.get(d.id)?.availability;
    return a === "offline" || a === "stale";
  }).length;
  const alarms = openAlarms(state, apt.number);
  return `
    <a class="cell-link" href="#/apartment/${encodeURIComponent(apt.number)}">
      <span class="num">${escapeHtml(apt.number)}</span>
      <span class="resident">${escapeHtml(apt.resident)}</span>
    </a>
    <dl>${devicesInOrder(apt).map((d) => deviceCell(d, state.twins.get(d.id))).join("")}</dl>
    <p class="reach ${offline ? "bad" : "good"}">${offline ? `${offline} ${t("offline")}` : t("online")}</p>
    ${alarms.length ? `<p class="alarm-flag">${alarms.map((a) => escapeHtml(t(`alarm_${a.kind}`))).join(", ")}</p>` : ""}
  `;
}

export function updateApartmentCell(state, number) {
  const cell = document.querySelector(`[data-apartment="${CSS.escape(String(number))}"]`);
  const apt = state.byApartment.get(number);
  if (!cell || !apt) return;
  cell.innerHTML = cellHtml(state, apt);
  const hasAlarm = openAlarms(state, number).length > 0;
  cell.classList.toggle("has-alarm", hasAlarm);
  cell.dataset.changed = String(performance.now());
}

export function renderOverview(view, state) {
  const groups = new Map();
  for (const apt of state.site.apartments) {
    const key = `${apt.floor}|${apt.wing}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(apt);
  }
  const parts = [];
  for (const [key, apts] of groups) {
    const [floor, wing] = key.split("|");
    parts.push(`<section class="group"><h2>${t("floor", { floor })} · ${t("wing", { wing })}</h2><div class="grid">`);
    for (const apt of apts) {
      parts.push(`<article class="cell" data-apartment="${escapeHtml(apt.number)}" aria-label="${escapeHtml(t("apartment", { number: apt.number }))}"></article>`);
    }
    parts.push("</div></section>");
  }
  view.innerHTML = `<h1 class="visually-hidden">${t("overview")}</h1>${parts.join("")}`;
  for (const apt of state.site.apartments) updateApartmentCell(state, apt.number);
}
