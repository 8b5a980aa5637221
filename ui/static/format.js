// How states, times and numbers are shown: the site's time zone, 24-hour clock.
import { language } from "/ui/i18n.js";

let zone = "Europe/Stockholm";

export function setZone(tz) {
  zone = tz;
}

export function when(iso) {
  if (!iso) return "";
  const locale = language() === "sv" ? "sv-SE" : "en-GB";
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(iso));
}

export function reach(twin) {
  return twin ? twin.availability : "unknown";
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
