// The overview: every apartment by floor and wing, one compact cell each, updated in
// place. The normal state is quiet (a dot per device); only exceptions stand out: an
// alarm, a door unlocked or open, a device without contact, a low battery (each
// device type declares its normal values, devices.js).
import { t } from "/ui/i18n.js";
import { escapeHtml } from "/ui/format.js";
import { deviceCell, devicesInOrder } from "/ui/devices.js";

function openAlarms(state, number) {
  return [...state.alarms.values()].filter((a) => a.apartment === number && a.state !== "closed");
}

function cellHtml(state, apt) {
  const alarms = openAlarms(state, apt.number);
  return `
    <a class="cell-link" href="#/apartment/${encodeURIComponent(apt.number)}">
      <span class="num">${escapeHtml(apt.number)}</span>
      <span class="resident" title="${escapeHtml(apt.resident)}">${escapeHtml(apt.resident)}</span>
    </a>
    ${alarms.length ? `<p class="alarm-flag">${alarms.map((a) => escapeHtml(t(`alarm_${a.kind}`))).join(", ")}</p>` : ""}
    <dl class="devs">${devicesInOrder(apt).map((d) => deviceCell(d, state.twins.get(d.id), { compact: true })).join("")}</dl>
  `;
}

/** Each cell's last drawn HTML. */
const drawn = new WeakMap();

export function updateApartmentCell(state, number) {
  const cell = document.querySelector(`[data-apartment="${CSS.escape(String(number))}"]`);
  const apt = state.byApartment.get(number);
  if (!cell || !apt) return;
  // a live update never moves the focus: an unchanged cell is left alone, and a
  // redrawn one gives the focus back to its link (keyboard and screen-reader users)
  const html = cellHtml(state, apt);
  if (drawn.get(cell) !== html) {
    const hadFocus = cell.contains(document.activeElement);
    cell.innerHTML = html;
    drawn.set(cell, html);
    if (hadFocus) cell.querySelector(".cell-link")?.focus({ preventScroll: true });
  }
  const hasAlarm = openAlarms(state, number).length > 0;
  cell.classList.toggle("has-alarm", hasAlarm);
  cell.classList.toggle("has-exception", !hasAlarm && cell.querySelector(".exc") !== null);
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
  view.innerHTML = `<h1 class="visually-hidden">${t("overview")}</h1><div class="groups">${parts.join("")}</div>`;
  for (const apt of state.site.apartments) updateApartmentCell(state, apt.number);
}
