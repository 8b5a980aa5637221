// Alarms first: the panel is a sticky banner at the top on a phone or tablet and a
// sticky column beside the page from 1000 px; an untaken alarm addressed to me rings
// until someone takes it; the title counts the untaken ones; a new alarm is announced
// once (never the whole panel) and raises a system notification when the tab is in the
// background (notify.js). The night flow, each step one tap on the alarm: take, unlock
// (with an automatic relock), on site, close (a note, and "Lås dörren?" when the door
// is unlocked). Redrawing keeps the focus where it was.
import { api } from "/ui/api.js";
import { t, errorText } from "/ui/i18n.js";
import { clock, clockAgoHtml, escapeHtml, reasonText } from "/ui/format.js";
import { toast } from "/ui/app.js";
import { updateApartmentCell } from "/ui/overview.js";
import { notifyAlarm } from "/ui/notify.js";

/** Seconds between the rings while an alarm addressed to me is untaken. */
const RING_EVERY_MS = 2500;
/** Relock choices offered when unlocking from an alarm (minutes; 0: no relock). */
const RELOCK_CHOICES = [0, 5, 10, 15, 30, 60];
const RELOCK_DEFAULT = 10;

let audio = null;
let ringTimer = null;

function beep() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
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
    // no audio device: the banner and the title still show it
  }
  document.body.dataset.rings = String(Number(document.body.dataset.rings ?? 0) + 1);
}

/** Whether the alarm is addressed to the signed-in person (the shift's order). */
export function forMe(state, alarm) {
  const to = alarm.addressed;
  if (!to || to.everyone) return true;
  return to.to.includes(state.me?.username);
}

function active(state) {
  return [...state.alarms.values()].filter((a) => a.state !== "closed")
    // untaken first, then the newest
    .sort((a, b) => (b.state === "open") - (a.state === "open") || (a.raised_at < b.raised_at ? 1 : -1));
}

function lockOf(state, alarm) {
  const apt = alarm.apartment ? state.byApartment.get(alarm.apartment) : null;
  const dev = apt?.devices.find((d) => d.type === "lock");
  return dev ? { id: dev.id, twin: state.twins.get(dev.id), may: dev.may ?? [] } : null;
}

function doorUnlocked(state, alarm) {
  const lock = lockOf(state, alarm);
  return ["unlocked", "unlocking"].includes(lock?.twin?.state?.lock);
}

function addressedText(alarm) {
  const to = alarm.addressed;
  if (!to || to.everyone) return t("alarm_to_everyone");
  return t("alarm_to", { who: to.to.join(", ") });
}

function alarmHtml(state, alarm) {
  const who = [];
  if (alarm.acked_by) who.push(t("acked_by", { who: alarm.acked_by }));
  if (alarm.on_site_by) who.push(t("on_site_by", { who: alarm.on_site_by }));
  if (alarm.escalations) who.push(t("escalated", { n: alarm.escalations }));
  if (alarm.state === "open") who.push(addressedText(alarm));
  const lock = lockOf(state, alarm);
  const relock = alarm.details?.relock;
  const door = lock ? lock.twin?.state?.lock ?? "unknown" : null;
  const mine = forMe(state, alarm);
  const acts = [];
  // only what the server says this person may do (alarm.may; the lock's may from /api/site)
  const may = alarm.may ?? [];
  if (may.includes("ack")) acts.push(`<button type="button" data-act="ack" class="primary">${t("take")}</button>`);
  if (lock && lock.may.includes("unlock") && door !== "unlocked" && alarm.state !== "closed") acts.push(`<button type="button" data-act="unlock" class="danger">${t("unlock")}</button>`);
  if (may.includes("on_site")) acts.push(`<button type="button" data-act="on_site">${t("on_site")}</button>`);
  if (may.includes("close")) acts.push(`<button type="button" data-act="close">${t("close_alarm")}</button>`);
  if (alarm.state !== "open" && !alarm.ack_comment) acts.push(`<button type="button" data-act="comment" class="link">${t("add_comment")}</button>`);
  const title = t(`alarm_${alarm.kind}`);
  return `
    <article class="alarm state-${escapeHtml(alarm.state)} ${alarm.escalations ? "escalated" : ""} ${mine ? "for-me" : ""}"
             data-alarm="${alarm.id}" data-kind="${escapeHtml(alarm.kind)}" data-state="${escapeHtml(alarm.state)}"
             data-count="${Number(alarm.count ?? 1)}" aria-label="${escapeHtml(`${title} ${alarm.apartment ?? ""}`)}">
      <h3>${escapeHtml(title)}${alarm.apartment ? ` · <a href="#/apartment/${encodeURIComponent(alarm.apartment)}">${escapeHtml(alarm.apartment)}</a>` : ""}
        <span class="alarm-state">${escapeHtml(t(`state_${alarm.state}`))}</span></h3>
      <p>${escapeHtml(alarm.resident ?? "")} ${clockAgoHtml(alarm.raised_at)}
        ${door ? `· <span class="door" data-lock="${escapeHtml(door)}">${escapeHtml(t(`door_${door}`))}</span>` : ""}
        ${relock && door === "unlocked" ? `· ${escapeHtml(t("relocks_at", { time: clock(relock.at) }))}` : ""}</p>
      ${who.length ? `<p class="who">${escapeHtml(who.join(" · "))}</p>` : ""}
      ${alarm.ack_comment ? `<p class="comment">“${escapeHtml(alarm.ack_comment)}”</p>` : ""}
      <div class="alarm-actions">${acts.join("")}</div>
    </article>`;
}

// ------------------------------------------------------------------ dialogs

function askComment(alarm) {
  return new Promise((resolve) => {
    const dialog = document.getElementById("note-dialog");
    document.getElementById("note-title").textContent = t("add_comment");
    document.getElementById("note-label").textContent = t("comment");
    const text = document.getElementById("note-text");
    text.value = alarm.ack_comment ?? "";
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

/** "Lås upp dörren?" for the alarm's apartment: reason (the alarm's suggestion
 *  first) and an automatic relock, done by the controller. */
function openUnlock(state, alarm) {
  const dialog = document.getElementById("alarm-unlock-dialog");
  const reason = document.getElementById("alarm-unlock-reason");
  reason.innerHTML = state.site.unlock_reasons.map((r) => `<option value="${escapeHtml(r)}">${escapeHtml(reasonText(r))}</option>`).join("");
  if (alarm.suggested_reason && state.site.unlock_reasons.includes(alarm.suggested_reason)) reason.value = alarm.suggested_reason;
  const relock = document.getElementById("alarm-unlock-relock");
  relock.innerHTML = RELOCK_CHOICES.map((m) => `<option value="${m}">${escapeHtml(m ? t("relock_after", { n: m }) : t("relock_never"))}</option>`).join("");
  relock.value = String(RELOCK_DEFAULT);
  document.getElementById("alarm-unlock-title").textContent = t("unlock_door_of", { number: alarm.apartment });
  document.getElementById("alarm-unlock-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const minutes = Number(relock.value);
    dialog.close();
    const body = { reason: reason.value, ...(minutes ? { relock_minutes: minutes } : {}) };
    const resp = await api("POST", `/api/alarms/${alarm.id}/unlock`, body);
    const outcome = resp.data?.command?.outcome;
    if (resp.data?.alarm) alarmChanged(state, resp.data.alarm, false);
    if (outcome === "ok" && minutes && !resp.data.relock) toast(t("unlocked_no_relock"), "error");
    else if (outcome === "ok") toast(minutes ? t("unlocked_relocks", { n: minutes }) : t("outcome_ok"));
    else if (outcome) toast(t(`outcome_${outcome}`, { error: resp.data.command.error ?? "" }), "error");
    else toast(errorText(resp), "error");
  };
  document.getElementById("alarm-unlock-cancel").onclick = () => dialog.close();
  dialog.showModal();
  document.getElementById("alarm-unlock-confirm").focus();
}

/** Close: a note is required (said in the dialog before it closes), and when the door
 *  is unlocked "Lås dörren?": lock now (default), relock in N minutes, or leave it
 *  unlocked with a reason. */
function openClose(state, alarm) {
  const dialog = document.getElementById("close-dialog");
  const note = document.getElementById("close-note");
  const problem = document.getElementById("close-problem");
  const doorSet = document.getElementById("close-door");
  const leaveReason = document.getElementById("close-leave-reason");
  const minutes = document.getElementById("close-relock-minutes");
  let unlocked = doorUnlocked(state, alarm);
  note.value = "";
  leaveReason.value = "";
  problem.textContent = "";
  doorSet.hidden = !unlocked;
  document.getElementById("close-title").textContent = `${t("close_alarm_title")} · ${t(`alarm_${alarm.kind}`)} ${alarm.apartment ?? ""}`;
  document.getElementById("close-door-lock").checked = true;
  minutes.innerHTML = RELOCK_CHOICES.filter((m) => m).map((m) => `<option value="${m}">${m} min</option>`).join("");
  minutes.value = String(RELOCK_DEFAULT);
  const say = (key) => { problem.textContent = t(key); };
  document.getElementById("close-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const text = note.value.trim();
    if (!text) { say("close_needs_note"); note.focus(); return; }
    let decision = null;
    if (unlocked) {
      const choice = document.querySelector("input[name=close-door-choice]:checked")?.value ?? "lock";
      if (choice === "leave_unlocked") {
        if (!leaveReason.value.trim()) { say("leave_needs_reason"); leaveReason.focus(); return; }
        decision = { action: "leave_unlocked", reason: leaveReason.value.trim() };
      } else if (choice === "relock") {
        decision = { action: "relock", minutes: Number(minutes.value) };
      } else {
        decision = { action: "lock" };
      }
    }
    const confirm = document.getElementById("close-confirm");
    confirm.disabled = true;
    problem.textContent = t("sending");
    try {
      if (decision) {
        const door = await api("POST", `/api/alarms/${alarm.id}/door`, decision);
        if (!door.ok) { problem.textContent = errorText(door); return; }
        alarmChanged(state, door.data.alarm, false);
      }
      const resp = await api("POST", `/api/alarms/${alarm.id}/close`, { note: text });
      if (!resp.ok) {
        problem.textContent = errorText(resp);
        // the server knows the door is unlocked (this page had not heard yet): ask now
        if (resp.data?.error?.code === "door_unlocked") { unlocked = true; doorSet.hidden = false; }
        return;
      }
      dialog.close();
      alarmChanged(state, resp.data, false);
      toast(decision?.action === "lock" ? t("closed_door_locked") : t("closed"));
    } finally {
      confirm.disabled = false;
    }
  };
  document.getElementById("close-cancel").onclick = () => dialog.close();
  dialog.showModal();
  note.focus();
}

async function act(state, id, action) {
  const alarm = state.alarms.get(id);
  if (!alarm) return;
  if (action === "unlock") return openUnlock(state, alarm);
  if (action === "close") return openClose(state, alarm);
  let body = {};  // "ack": one tap; the comment is optional, afterwards
  if (action === "comment") {
    const comment = await askComment(alarm);
    if (!comment) return;
    body = { comment };
  }
  const resp = await api("POST", `/api/alarms/${id}/${action}`, body);
  if (resp.ok) alarmChanged(state, resp.data, false);
  else toast(errorText(resp), "error");
}

function wire(container, state) {
  container.onclick = (ev) => {
    const button = ev.target.closest("button[data-act]");
    if (!button) return;
    const id = Number(button.closest("[data-alarm]").dataset.alarm);
    act(state, id, button.dataset.act);
  };
}

/** Draw ``list`` into ``box`` keyed by alarm id: an unchanged alarm keeps its element,
 *  a changed one is replaced, and the focus stays on the same control. */
function drawList(box, state, list) {
  const focused = document.activeElement;
  const focusedAlarm = focused?.closest?.("[data-alarm]");
  const focusKey = focusedAlarm && box.contains(focusedAlarm)
    ? { id: focusedAlarm.dataset.alarm, act: focused.dataset?.act ?? null } : null;
  const wanted = new Map(list.map((a) => [String(a.id), alarmHtml(state, a)]));
  for (const el of [...box.querySelectorAll(":scope > [data-alarm]")]) {
    if (!wanted.has(el.dataset.alarm)) el.remove();
  }
  let previous = null;
  for (const alarm of list) {
    const key = String(alarm.id);
    const html = wanted.get(key).trim();
    let el = box.querySelector(`:scope > [data-alarm="${key}"]`);
    if (!el || el.dataset.html !== html) {
      const tpl = document.createElement("template");
      tpl.innerHTML = html;
      const fresh = tpl.content.firstElementChild;
      fresh.dataset.html = html;
      if (el) el.replaceWith(fresh); else box.append(fresh);
      el = fresh;
    }
    // keep the order: after the previous one
    if (previous ? previous.nextElementSibling !== el : box.querySelector(":scope > [data-alarm]") !== el) {
      if (previous) previous.after(el); else box.prepend(el);
    }
    previous = el;
  }
  if (focusKey && !box.contains(focused)) {
    const el = box.querySelector(`[data-alarm="${focusKey.id}"]`);
    const target = (focusKey.act && el?.querySelector(`button[data-act="${focusKey.act}"]`))
      || el?.querySelector("button") || box;
    target.focus({ preventScroll: true });
  }
}

function drawInto(container, state, list, heading) {
  let box = container.querySelector(":scope > .alarm-list");
  if (!box) {
    container.innerHTML = `${heading}<p class="no-alarms"></p><div class="alarm-list"></div>`;
    box = container.querySelector(":scope > .alarm-list");
    wire(container, state);
  }
  container.querySelector(":scope > h2, :scope > h1").textContent = t("alarms");
  const empty = container.querySelector(":scope > .no-alarms");
  empty.textContent = list.length ? "" : t("no_alarms");
  empty.hidden = list.length > 0;
  drawList(box, state, list);
}

export function renderAlarmPanel(state) {
  const panel = document.getElementById("alarm-panel");
  const list = active(state);
  drawInto(panel, state, list, `<h2 id="alarm-panel-title">${t("alarms")}</h2>`);
  const untaken = list.filter((a) => a.state === "open");
  const badge = document.getElementById("alarm-count");
  badge.hidden = list.length === 0;
  badge.textContent = String(list.length);
  document.body.classList.toggle("alarming", untaken.length > 0);
  panel.classList.toggle("has-alarms", list.length > 0);
  document.title = untaken.length ? `(${untaken.length}) ${t("alarms")} · Tryggbo` : "Tryggbo";
  ring(state);
}

export function renderAlarmPage(view, state) {
  if (!view.querySelector(":scope > .alarm-list")) view.innerHTML = "";
  drawInto(view, state, active(state), `<h1>${t("alarms")}</h1>`);
}

/** Ring now and every RING_EVERY_MS while an untaken alarm is addressed to me. */
function ring(state) {
  const ringing = [...state.alarms.values()].some((a) => a.state === "open" && forMe(state, a));
  document.body.dataset.alarmSound = ringing ? "ringing" : "quiet";
  if (ringing && ringTimer === null) {
    beep();
    ringTimer = setInterval(() => ring(state), RING_EVERY_MS);
  } else if (ringing) {
    beep();
  } else if (ringTimer !== null) {
    clearInterval(ringTimer);
    ringTimer = null;
  }
}

/** Said once to screen readers: a new alarm, or one escalated to me. */
function announce(text) {
  const el = document.getElementById("alarm-announcer");
  el.textContent = "";
  // a fresh text node after a tick is announced even when the text repeats
  setTimeout(() => { el.textContent = text; }, 50);
}

export function alarmChanged(state, alarm, fromLive = true) {
  const before = state.alarms.get(alarm.id);
  state.alarms.set(alarm.id, alarm);
  const isNew = !before && alarm.state === "open";
  const escalated = before && alarm.escalations > (before.escalations ?? 0) && alarm.state === "open";
  if (fromLive && (isNew || escalated)) {
    const text = t(isNew ? "new_alarm_said" : "escalated_alarm_said", {
      what: t(`alarm_${alarm.kind}`), number: alarm.apartment ?? "", who: alarm.resident ?? "",
    });
    announce(text);
    if (forMe(state, alarm)) notifyAlarm(alarm, text);
  }
  renderAlarmPanel(state);
  if (state.route.name === "alarms") renderAlarmPage(document.getElementById("view"), state);
  if (alarm.apartment) updateApartmentCell(state, alarm.apartment);
}

/** A twin changed: the door shown on an alarm of its apartment follows. */
export function alarmDoorChanged(state, twin) {
  if (twin.type !== "lock") return;
  if (![...state.alarms.values()].some((a) => a.apartment === twin.apartment && a.state !== "closed")) return;
  renderAlarmPanel(state);
  if (state.route.name === "alarms") renderAlarmPage(document.getElementById("view"), state);
}
