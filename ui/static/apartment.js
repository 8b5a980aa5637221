// One apartment: its devices, controls whose result is what the device acked (never
// a guess), and its last events, live.
import { api } from "/ui/api.js";
import { errorText, has, t } from "/ui/i18n.js";
import { clockAgoHtml, escapeHtml, reasonText } from "/ui/format.js";
import { toast } from "/ui/app.js";
import { actionLabel, bindControls, controlsHtml, deviceCell, devicesInOrder, reasonControl } from "/ui/devices.js";
import { renderCalls } from "/ui/invitations.js";
import { renderPlan } from "/ui/plan.js";

let current = null; // { number, events: [] }

function outcomeText(status, data, action) {
  if (data?.outcome === "ok" && has(`outcome_ok_${action}`)) return t(`outcome_ok_${action}`);
  if (data?.outcome) return t(`outcome_${data.outcome}`, { error: data.error ?? "" });
  return errorText({ status, data });
}

async function command(deviceId, action, args = {}, reason = undefined, button = null) {
  const out = document.getElementById("outcome");
  if (button) button.disabled = true;
  out.textContent = t("sending");
  out.className = "outcome pending";
  out.dataset.outcome = "pending";
  try {
    const { status, data } = await api("POST", `/api/devices/${encodeURIComponent(deviceId)}/commands`,
      { action, args, reason });
    out.textContent = outcomeText(status, data, action);
    out.dataset.outcome = data?.outcome ?? "error";
    out.className = `outcome ${data?.outcome === "ok" ? "ok" : "bad"}`;
  } finally {
    if (button) button.disabled = false;
  }
}

function stateLines(state, apt) {
  return `<dl class="states">${devicesInOrder(apt).map((d) => deviceCell(d, state.twins.get(d.id),
    { id: `apt-${d.type}`, availability: true })).join("")}</dl>`;
}

/** An event as staff read it: "Dörr · Dörren öppnades" (the type's own labels, or the
 *  events every type has). */
function eventText(state, e) {
  const type = state.twins.get(e.device)?.type ?? e.device.split("-").pop();
  const what = [`${type}.event_${e.type}`, `event_${e.type}`].find((k) => has(k));
  const device = has(`${type}.label`) ? t(`${type}.label`) : e.device;
  return `${device} · ${what ? t(what) : e.type}`;
}

function eventsHtml(state) {
  if (!current) return "";
  if (!current.events.length) return `<li class="empty">${escapeHtml(t("no_events"))}</li>`;
  return current.events.slice(0, 30).map((e) => (
    `<li data-event="${escapeHtml(e.type)}">${clockAgoHtml(e.ts)} ${escapeHtml(eventText(state, e))}</li>`)).join("");
}

/** Ask for one of the site's reasons, then send the apartment's control that needs one
 *  (a lock's unlock); the server refuses such a command without a reason. */
export function openReasonDialog(state, number, presetReason = "") {
  const apt = state.byApartment.get(number);
  const found = apt && reasonControl(apt);
  if (!found) return;
  const [entry, action] = found;
  const dialog = document.getElementById("unlock-dialog");
  const select = document.getElementById("unlock-reason");
  // the site's reasons, then "other", which needs a text (controller/unlock_reasons.py)
  select.innerHTML = state.site.unlock_reasons.map((r) => `<option value="${escapeHtml(r)}">${escapeHtml(reasonText(r))}</option>`).join("")
    + `<option value="other">${escapeHtml(t("other_reason"))}</option>`;
  if (presetReason && state.site.unlock_reasons.includes(presetReason)) select.value = presetReason;
  const text = document.getElementById("unlock-text");
  text.value = "";
  select.onchange = () => { text.required = select.value === "other"; };
  select.onchange();
  document.getElementById("unlock-title").textContent = `${actionLabel(entry.type, action)} – ${t("apartment", { number })}`;
  const form = document.getElementById("unlock-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const free = document.getElementById("unlock-text").value.trim();
    const reason = free ? `${select.value}: ${free}` : select.value;
    dialog.close();
    await command(entry.id, action, {}, reason, document.getElementById(`btn-${action}`));
  };
  document.getElementById("unlock-cancel").onclick = () => dialog.close();
  dialog.showModal();
  select.focus();
}

export function renderApartment(view, state, number) {
  const apt = state.byApartment.get(number);
  if (!apt) { view.textContent = t("unknown"); return; }
  current = { number, events: [] };
  const hasScreen = apt.devices.some((d) => d.type === "screen"); // its calls are the call service's
  const mayAct = apt.may_act === true; // the day plan and calls: only where the server says so
  view.innerHTML = `
    <p><a href="#/">← ${t("back")}</a></p>
    <h1>${escapeHtml(t("apartment", { number }))} · ${escapeHtml(apt.resident)}
      ${apt.night_supervision ? `<small class="tag">${t("night_supervised")}</small>` : ""}</h1>
    <div id="apt-states">${stateLines(state, apt)}</div>
    <p id="outcome" class="outcome" role="status" aria-live="polite" data-outcome=""></p>
    <div class="controls">${controlsHtml(apt)}</div>
    ${mayAct ? `<section id="apt-plan" class="apt-plan"></section>` : ""}
    ${hasScreen && mayAct ? `<section id="apt-calls" class="apt-calls"></section>` : ""}
    <h2>${t("last_events")}</h2>
    <ul id="apt-events" class="events"></ul>`;
  bindControls(apt, state.me,
    (deviceId, action, args, button) => command(deviceId, action, args, undefined, button),
    () => openReasonDialog(state, number),
    (what) => toast(what, "error"));
  if (mayAct) renderPlan(document.getElementById("apt-plan"), number);
  if (hasScreen && mayAct) renderCalls(document.getElementById("apt-calls"), number);
  loadEvents(state, apt);
  const preset = sessionStorage.getItem("tryggbo-unlock-reason");
  if (preset && reasonControl(apt)) {
    sessionStorage.removeItem("tryggbo-unlock-reason");
    openReasonDialog(state, number, preset);
  }
}

async function loadEvents(state, apt) {
  const lists = await Promise.all(apt.devices.map((d) =>
    api("GET", `/api/events?device=${encodeURIComponent(d.id)}&limit=20`)));
  if (!current || current.number !== apt.number) return;
  current.events = lists.flatMap((r) => (r.ok ? r.data.events : []))
    .sort((a, b) => (a.ts < b.ts ? 1 : -1));
  document.getElementById("apt-events").innerHTML = eventsHtml(state);
}

export function apartmentTwinChanged(state, twin) {
  const apt = state.byApartment.get(twin.apartment);
  const el = document.getElementById("apt-states");
  if (apt && el) el.innerHTML = stateLines(state, apt);
}

export function apartmentEvent(state, event) {
  if (!current) return;
  const apt = state.byApartment.get(current.number);
  if (!apt || !apt.devices.some((d) => d.id === event.device)) return;
  current.events.unshift(event);
  const list = document.getElementById("apt-events");
  if (list) list.innerHTML = eventsHtml(state);
}
