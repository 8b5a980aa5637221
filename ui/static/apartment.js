// One apartment: its devices, controls whose result is what the device acked (never
// a guess), and its last events, live.
import { api } from "/ui/api.js";
import { t } from "/ui/i18n.js";
import { escapeHtml, lockText, when } from "/ui/format.js";
import { toast } from "/ui/app.js";
import { renderCalls } from "/ui/invitations.js";
import { renderPlan } from "/ui/plan.js";

let current = null; // { number, events: [] }

function device(apt, type) {
  return apt.devices.find((d) => d.type === type);
}

function outcomeText(status, data) {
  if (!data) return t("outcome_error", { error: `HTTP ${status}` });
  if (data.outcome) return t(`outcome_${data.outcome}`, { error: data.error ?? "" });
  return t("outcome_error", { error: data.error?.message ?? `HTTP ${status}` });
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
    out.textContent = outcomeText(status, data);
    out.dataset.outcome = data?.outcome ?? "error";
    out.className = `outcome ${data?.outcome === "ok" ? "ok" : "bad"}`;
  } finally {
    if (button) button.disabled = false;
  }
}

function stateLines(state, apt) {
  const lock = state.twins.get(device(apt, "lock")?.id ?? "");
  const curtain = state.twins.get(device(apt, "curtain")?.id ?? "");
  const screen = state.twins.get(device(apt, "screen")?.id ?? "");
  const ls = lock?.state;
  return `
    <dl class="states">
      <dt>${t("door")}</dt><dd id="apt-door" data-lock="${escapeHtml(ls?.lock ?? "unknown")}">${escapeHtml(ls ? lockText(ls) : t("unknown"))} · ${t(lock?.availability ?? "unknown")}${ls?.fire ? ` · <strong>${t("fire_hold")}</strong>` : ""}</dd>
      <dt>${t("battery")}</dt><dd>${ls ? `${ls.battery} %` : "–"}</dd>
      <dt>${t("curtain")}</dt><dd id="apt-curtain">${curtain?.state ? `${curtain.state.position} %` : t("unknown")} · ${t(curtain?.availability ?? "unknown")}</dd>
      <dt>${t("screen")}</dt><dd id="apt-screen">${screen?.state ? t(`power_${screen.state.power}`) : t("unknown")}${screen?.state?.message ? ` · “${escapeHtml(screen.state.message.text)}”` : ""}${screen?.state?.call && screen.state.call !== "idle" ? ` · <strong data-call="${escapeHtml(screen.state.call)}">${t(`call_${screen.state.call}`)}</strong>` : ""} · ${t(screen?.availability ?? "unknown")}</dd>
    </dl>`;
}

function eventsHtml() {
  if (!current) return "";
  return current.events.slice(0, 30).map((e) => (
    `<li><time>${escapeHtml(when(e.ts))}</time> ${escapeHtml(e.device)} · ${escapeHtml(e.type)}</li>`)).join("");
}

export function openUnlockDialog(state, number, presetReason = "") {
  const apt = state.byApartment.get(number);
  const lock = device(apt, "lock");
  if (!lock) return;
  const dialog = document.getElementById("unlock-dialog");
  const select = document.getElementById("unlock-reason");
  // the site's reasons, then "other", which needs a text (the server refuses an unlock
  // without one of these: controller/unlock_reasons.py)
  select.innerHTML = state.site.unlock_reasons.map((r) => `<option>${escapeHtml(r)}</option>`).join("")
    + `<option value="other">${escapeHtml(t("other_reason"))}</option>`;
  if (presetReason && state.site.unlock_reasons.includes(presetReason)) select.value = presetReason;
  const text = document.getElementById("unlock-text");
  text.value = "";
  select.onchange = () => { text.required = select.value === "other"; };
  select.onchange();
  document.getElementById("unlock-title").textContent = `${t("unlock")} – ${t("apartment", { number })}`;
  const form = document.getElementById("unlock-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const free = document.getElementById("unlock-text").value.trim();
    const reason = free ? `${select.value}: ${free}` : select.value;
    dialog.close();
    await command(lock.id, "unlock", {}, reason, document.getElementById("btn-unlock"));
  };
  document.getElementById("unlock-cancel").onclick = () => dialog.close();
  dialog.showModal();
  select.focus();
}

export function renderApartment(view, state, number) {
  const apt = state.byApartment.get(number);
  if (!apt) { view.textContent = t("unknown"); return; }
  current = { number, events: [] };
  const lock = device(apt, "lock");
  const curtain = device(apt, "curtain");
  const screen = device(apt, "screen");
  view.innerHTML = `
    <p><a href="#/">← ${t("back")}</a></p>
    <h1>${escapeHtml(t("apartment", { number }))} · ${escapeHtml(apt.resident)}
      ${apt.night_supervision ? `<small class="tag">${t("night_supervised")}</small>` : ""}</h1>
    <div id="apt-states">${stateLines(state, apt)}</div>
    <p id="outcome" class="outcome" role="status" aria-live="polite" data-outcome=""></p>
    <div class="controls">
      ${lock ? `<fieldset><legend>${t("door")}</legend>
        <button type="button" id="btn-unlock" class="danger">${t("unlock")}</button>
        <button type="button" id="btn-lock">${t("lock")}</button></fieldset>` : ""}
      ${curtain ? `<fieldset><legend>${t("curtain")}</legend>
        <button type="button" id="btn-open">${t("open")}</button>
        <button type="button" id="btn-close">${t("close")}</button>
        <label>${t("set_position")} <input type="number" id="curtain-pos" min="0" max="100" value="50"></label>
        <button type="button" id="btn-pos">${t("set_position")}</button></fieldset>` : ""}
      ${screen ? `<fieldset><legend>${t("screen")}</legend>
        <label>${t("message")} <input id="msg-text" maxlength="500"></label>
        <label>${t("until")} <input id="msg-until" type="datetime-local"></label>
        <button type="button" id="btn-msg">${t("send_message")}</button>
        <button type="button" id="btn-clear">${t("clear_message")}</button></fieldset>` : ""}
    </div>
    <section id="apt-plan" class="apt-plan"></section>
    ${screen ? `<section id="apt-calls" class="apt-calls"></section>` : ""}
    <h2>${t("last_events")}</h2>
    <ul id="apt-events" class="events"></ul>`;
  if (lock) {
    document.getElementById("btn-unlock").onclick = () => openUnlockDialog(state, number);
    document.getElementById("btn-lock").onclick = (e) => command(lock.id, "lock", {}, "staff", e.target);
  }
  if (curtain) {
    document.getElementById("btn-open").onclick = (e) => command(curtain.id, "open", {}, undefined, e.target);
    document.getElementById("btn-close").onclick = (e) => command(curtain.id, "close", {}, undefined, e.target);
    document.getElementById("btn-pos").onclick = (e) => command(curtain.id, "set_position",
      { position: Number(document.getElementById("curtain-pos").value) }, undefined, e.target);
  }
  if (screen) {
    document.getElementById("btn-msg").onclick = (e) => {
      const text = document.getElementById("msg-text").value.trim();
      if (!text) { toast(t("message"), "error"); return; }
      const untilLocal = document.getElementById("msg-until").value;
      const args = { text, from: state.me.display_name || state.me.username };
      if (untilLocal) args.until = new Date(untilLocal).toISOString();
      command(screen.id, "show_message", args, undefined, e.target);
    };
    document.getElementById("btn-clear").onclick = (e) => command(screen.id, "clear_message", {}, undefined, e.target);
  }
  renderPlan(document.getElementById("apt-plan"), number);
  if (screen) renderCalls(document.getElementById("apt-calls"), number);
  loadEvents(apt);
  const preset = sessionStorage.getItem("tryggbo-unlock-reason");
  if (preset && lock) {
    sessionStorage.removeItem("tryggbo-unlock-reason");
    openUnlockDialog(state, number, preset);
  }
}

async function loadEvents(apt) {
  const lists = await Promise.all(apt.devices.map((d) =>
    api("GET", `/api/events?device=${encodeURIComponent(d.id)}&limit=20`)));
  if (!current || current.number !== apt.number) return;
  current.events = lists.flatMap((r) => (r.ok ? r.data.events : []))
    .sort((a, b) => (a.ts < b.ts ? 1 : -1));
  document.getElementById("apt-events").innerHTML = eventsHtml();
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
  if (list) list.innerHTML = eventsHtml();
}
