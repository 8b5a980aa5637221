// The staff dashboard: overview by floor and wing, apartment view with audited
// controls, live alarms with sound, the audit log. Everything live over the WebSocket.
import { api, connectLive, setCsrf } from "/ui/api.js";
import { errorText, setLanguage, t, language } from "/ui/i18n.js";
import { setZone } from "/ui/format.js";
import { renderOverview, updateApartmentCell } from "/ui/overview.js";
import { renderApartment, apartmentTwinChanged, apartmentEvent } from "/ui/apartment.js";
import { renderAlarmPanel, renderAlarmPage, alarmChanged, alarmDoorChanged } from "/ui/alarms.js";
import { startNotifications, startDuty, redrawNotifyControls } from "/ui/notify.js";
import { renderAudit } from "/ui/audit.js";
import { renderSchedules, schedulesChanged } from "/ui/schedules.js";
import { loadDeviceTypes, setBatteryLow } from "/ui/devices.js";

export const state = {
  me: null,
  site: null,
  twins: new Map(),        // device id -> twin
  byApartment: new Map(),  // apartment number -> apartment (with devices)
  alarms: new Map(),       // alarm id -> alarm
  route: { name: "overview" },
};

export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, arg] = hash.split("/");
  const view = document.getElementById("view");
  if (name === "apartment" && arg) {
    state.route = { name: "apartment", number: decodeURIComponent(arg) };
    renderApartment(view, state, state.route.number);
  } else if (name === "alarms") {
    state.route = { name: "alarms" };
    renderAlarmPage(view, state);
  } else if (name === "audit") {
    state.route = { name: "audit" };
    renderAudit(view, state);
  } else if (name === "schedules") {
    state.route = { name: "schedules" };
    renderSchedules(view, state);
  } else {
    state.route = { name: "overview" };
    renderOverview(view, state);
  }
  for (const link of document.querySelectorAll("header nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name || ""}`);
  }
}

function twinChanged(twin) {
  state.twins.set(twin.id, twin);
  updateApartmentCell(state, twin.apartment);
  if (state.route.name === "apartment" && state.route.number === twin.apartment) {
    apartmentTwinChanged(state, twin);
  }
  alarmDoorChanged(state, twin);
}

function onLive(message) {
  const { type, data } = message;
  if (type === "snapshot") {
    // the page is already drawn (main → applyLanguage → route): every snapshot, the
    // first and each after a reconnect, only updates the devices, so a form someone
    // is typing into is never wiped
    for (const twin of data.devices) twinChanged(twin);
  } else if (type === "twin") {
    twinChanged(data);
  } else if (type === "event") {
    apartmentEvent(state, data);
  } else if (type === "alarm") {
    alarmChanged(state, data);
  } else if (type === "command" && String(data.actor).startsWith("schedule:")) {
    schedulesChanged(state);
  }
}

function setLive(up) {
  const el = document.getElementById("live");
  el.textContent = up ? t("live") : t("reconnecting");
  el.className = up ? "live up" : "live down";
  document.body.dataset.live = up ? "up" : "down";
}

async function switchLanguage() {
  const next = language() === "sv" ? "en" : "sv";
  const resp = await api("PATCH", "/api/auth/me", { language: next });
  if (!resp.ok) { toast(errorText(resp), "error"); return; }
  applyLanguage(next);
}

function applyLanguage(lang) {
  setLanguage(lang);
  localStorage.setItem("tryggbo-lang", lang);
  document.getElementById("lang-toggle").textContent = lang === "sv" ? "English" : "Svenska";
  route();
  renderAlarmPanel(state);
  redrawNotifyControls();
}

async function main() {
  const me = await api("GET", "/api/auth/me");
  if (!me.ok) { location.href = "/ui/login.html"; return; }
  state.me = me.data.user;
  setCsrf(me.data.csrf_token);
  const site = await api("GET", "/api/site");
  if (!site.ok) {
    document.getElementById("view").textContent = errorText(site);
    return;
  }
  state.site = site.data;
  await loadDeviceTypes();
  for (const apt of state.site.apartments) state.byApartment.set(apt.number, apt);
  setZone(state.site.timezone);
  setBatteryLow(state.site.battery_low_percent);
  document.getElementById("site-name").textContent = state.site.name || state.site.slug;
  document.getElementById("who").textContent = state.me.display_name || state.me.username;
  document.getElementById("nav-report").hidden = !(state.me.roles || []).includes("admin");
  applyLanguage(state.me.language || "sv");
  document.getElementById("lang-toggle").addEventListener("click", switchLanguage);
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    location.href = "/ui/login.html";
  });
  const alarms = await api("GET", "/api/alarms?state=active");
  if (alarms.ok) for (const alarm of alarms.data.alarms) state.alarms.set(alarm.id, alarm);
  renderAlarmPanel(state);
  window.addEventListener("hashchange", route);
  connectLive(onLive, setLive);
  startDuty();
  startNotifications();
  // the skip link moves the focus to the page (the hash is the router's: left alone)
  document.querySelector(".skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    document.getElementById("view").focus();
  });
}

main();
