// Reaching staff who are not looking at the page: the service worker (sw.js) that
// makes the dashboard an installable web app and shows system notifications, the
// permission asked on a tap, and the screen wake lock on a device marked "on duty".
// Notifications need the tab open (in the background is enough): there is no push
// service, the alarms come over the page's own live socket.
import { t } from "/ui/i18n.js";

let registration = null;
let wakeLock = null;
const DUTY_KEY = "tryggbo-on-duty";

/** Register the service worker (scope /ui/); the page works without it. */
export async function startNotifications() {
  if (!("serviceWorker" in navigator)) return;
  try {
    registration = await navigator.serviceWorker.register("/ui/sw.js", { scope: "/ui/" });
    await navigator.serviceWorker.ready;
    registration = await navigator.serviceWorker.getRegistration("/ui/") ?? registration;
    document.body.dataset.serviceWorker = "ready";
  } catch (err) {
    document.body.dataset.serviceWorker = "failed";
    console.warn("service worker not registered", err);
  }
  drawPermission();
}

function drawPermission() {
  const button = document.getElementById("notify-toggle");
  if (!button) return;
  const supported = "Notification" in window;
  button.hidden = !supported || Notification.permission !== "default";
  button.textContent = t("notifications_allow");
  button.onclick = async () => {
    await Notification.requestPermission();
    drawPermission();
  };
  document.body.dataset.notifications = supported ? Notification.permission : "unsupported";
}

/** A system notification for an alarm while the tab is in the background. */
export async function notifyAlarm(alarm, text) {
  if (document.visibilityState !== "hidden") return;
  if (!("Notification" in window) || Notification.permission !== "granted" || !registration) return;
  await registration.showNotification(t(`alarm_${alarm.kind}`) + (alarm.apartment ? ` · ${alarm.apartment}` : ""), {
    body: text,
    tag: `alarm-${alarm.id}`,
    renotify: true,
    requireInteraction: true,
    lang: document.documentElement.lang,
    icon: "/ui/icons/icon-192.png",
    data: { url: "/ui/index.html#/alarms", alarm: alarm.id },
  });
  document.body.dataset.notified = String(alarm.id);
}

// ------------------------------------------------------------------ on duty: wake lock

async function holdWakeLock() {
  if (!("wakeLock" in navigator)) { document.body.dataset.wakeLock = "unsupported"; return; }
  if (wakeLock && !wakeLock.released) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    document.body.dataset.wakeLock = "held";
    wakeLock.addEventListener("release", () => {
      document.body.dataset.wakeLock = "released";
    });
  } catch (err) {
    document.body.dataset.wakeLock = "refused";
    console.warn("wake lock refused", err);
  }
}

function onDuty() {
  return localStorage.getItem(DUTY_KEY) === "1";
}

function drawDuty() {
  const button = document.getElementById("duty-toggle");
  if (!button) return;
  button.textContent = t("on_duty");
  button.setAttribute("aria-pressed", String(onDuty()));
}

/** The "I tjänst" toggle: a duty device keeps its screen on while the page shows. */
export function startDuty() {
  const button = document.getElementById("duty-toggle");
  if (button) {
    button.onclick = async () => {
      localStorage.setItem(DUTY_KEY, onDuty() ? "0" : "1");
      drawDuty();
      if (onDuty()) await holdWakeLock();
      else if (wakeLock) { await wakeLock.release(); wakeLock = null; }
    };
  }
  // the system releases the lock when the page is hidden: take it again on return
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && onDuty()) holdWakeLock();
  });
  drawDuty();
  if (onDuty()) holdWakeLock();
}

/** Texts after a language change. */
export function redrawNotifyControls() {
  drawPermission();
  drawDuty();
}
