// Alarms: a panel always in view, a sound and a highlight for every new or escalated
// alarm, and the night flow in one tap each: take, unlock, on site, close.
import { api } from "/ui/api.js";
import { t } from "/ui/i18n.js";
import { escapeHtml, when } from "/ui/format.js";
import { toast } from "/ui/app.js";
import { updateApartmentCell } from "/ui/overview.js";

let audio = null;

function beep() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [880, 660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, now + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.25 + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.25);
      osc.stop(now + i * 0.25 + 0.23);
    }
  } catch {
    // no audio device: the visual highlight still shows
  }
  document.body.dataset.lastAlarmSound = String(Date.now());
}

function active(state) {
  return [...state.alarms.values()].filter((a) => a.state !== "closed")
    .sort((a, b) => (a.raised_at < b.raised_at ? 1 : -1));
}

function alarmHtml(alarm) {
  const who = [];
  if (alarm.acked_by) who.push(t("acked_by", { who: alarm.acked_by }));
  if (alarm.on_site_by) who.push(t("on_site_by", { who: alarm.on_site_by }));
  if (alarm.escalations) who.push(t("escalated", { n: alarm.escalations }));
  return `
    <article class="alarm state-${escapeHtml(alarm.state)} ${alarm.escalations ? "escalated" : ""}"
             data-alarm="${alarm.id}" data-kind="${escapeHtml(alarm.kind)}" data-state="${escapeHtml(alarm.state)}"
             tabindex="0">
      <h3>${escapeHtml(t(`alarm_${alarm.kind}`))}${alarm.apartment ? ` · <a href="#/apartment/${encodeURIComponent(alarm.apartment)}">${escapeHtml(alarm.apartment)}</a>` : ""}</h3>
      <p>${escapeHtml(alarm.resident ?? "")} <time>${escapeHtml(when(alarm.raised_at))}</time> · ${escapeHtml(t(`state_${alarm.state}`))}</p>
      ${who.length ? `<p class="who">${escapeHtml(who.join(" · "))}</p>` : ""}
      ${alarm.ack_comment ? `<p class="comment">“${escapeHtml(alarm.ack_comment)}”</p>` : ""}
      <div class="alarm-actions">
        ${alarm.state === "open" ? `<button type="button" data-act="ack">${t("take")}</button>` : ""}
        ${alarm.apartment && alarm.state !== "closed" ? `<button type="button" data-act="unlock" class="danger">${t("unlock")}</button>` : ""}
        ${alarm.state === "acknowledged" ? `<button type="button" data-act="on_site">${t("on_site")}</button>` : ""}
        ${alarm.state !== "closed" ? `<button type="button" data-act="close">${t("close_alarm")}</button>` : ""}
      </div>
    </article>`;
}

function askNote(title, label) {
  return new Promise((resolve) => {
    const dialog = document.getElementById("note-dialog");
    document.getElementById("note-title").textContent = title;
    document.getElementById("note-label").textContent = label;
    const text = document.getElementById("note-text");
    text.value = "";
    document.getElementById("note-form").onsubmit = (ev) => {
      ev.preventDefault();
      dialog.close();
      resolve(text.value.trim());
    };
    document.getElementById("note-cancel").onclick = () => { dialog.close(); resolve(null); };
    dialog.showModal();
    text.focus();
  });
}

async function act(state, id, action) {
  const alarm = state.alarms.get(id);
  if (!alarm) return;
  if (action === "unlock") {
    sessionStorage.setItem("tryggbo-unlock-reason", alarm.suggested_reason || "");
    location.hash = `#/apartment/${encodeURIComponent(alarm.apartment)}`;
    return;
  }
  let body = {};
  if (action === "ack") {
    const comment = await askNote(t("take"), t("comment"));
    if (comment === null) return;
    body = { comment };
  } else if (action === "close") {
    const note = await askNote(t("close_alarm"), t("note"));
    if (note === null) return;
    body = { note };
  }
  const resp = await api("POST", `/api/alarms/${id}/${action}`, body);
  if (resp.ok) alarmChanged(state, resp.data, false);
  else toast(resp.data?.error?.message ?? `HTTP ${resp.status}`, "error");
}

function wire(container, state) {
  container.onclick = (ev) => {
    const button = ev.target.closest("button[data-act]");
    if (!button) return;
    const id = Number(button.closest("[data-alarm]").dataset.alarm);
    act(state, id, button.dataset.act);
  };
}

export function renderAlarmPanel(state) {
  const panel = document.getElementById("alarm-panel");
  const list = active(state);
  panel.innerHTML = `<h2>${t("alarms")}</h2>${list.length ? list.map(alarmHtml).join("") : `<p>${t("no_alarms")}</p>`}`;
  wire(panel, state);
  const badge = document.getElementById("alarm-count");
  badge.hidden = list.length === 0;
  badge.textContent = String(list.length);
  document.body.classList.toggle("alarming", list.some((a) => a.state === "open"));
}

export function renderAlarmPage(view, state) {
  const list = active(state);
  view.innerHTML = `<h1>${t("alarms")}</h1><div class="alarm-page">${list.length ? list.map(alarmHtml).join("") : `<p>${t("no_alarms")}</p>`}</div>`;
  wire(view, state);
}

export function alarmChanged(state, alarm, fromLive = true) {
  const before = state.alarms.get(alarm.id);
  state.alarms.set(alarm.id, alarm);
  const isNew = !before && alarm.state === "open";
  const escalated = before && alarm.escalations > (before.escalations ?? 0);
  if (fromLive && (isNew || escalated)) {
    beep();
    toast(`${t(`alarm_${alarm.kind}`)} ${alarm.apartment ?? ""}`, "alarm");
  }
  renderAlarmPanel(state);
  if (state.route.name === "alarms") renderAlarmPage(document.getElementById("view"), state);
  if (alarm.apartment) updateApartmentCell(state, alarm.apartment);
}
