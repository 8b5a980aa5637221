// How states, times and numbers are shown: the site's time zone, 24-hour clock.
import { has, language, t } from "/ui/i18n.js";

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

/** The clock time (hh:mm) in the site's zone. */
export function clock(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(language() === "sv" ? "sv-SE" : "en-GB", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(iso));
}

/** How long ago, in words ("för 3 min sedan"), from `now` (ms; injectable for tests). */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const minutes = Math.floor((now - new Date(iso).getTime()) / 60000);
  if (minutes < 1) return t("just_now");
  if (minutes < 60) return t("minutes_ago", { n: minutes });
  if (minutes < 48 * 60) return t("hours_ago", { n: Math.floor(minutes / 60) });
  return t("days_ago", { n: Math.floor(minutes / 1440) });
}

/** The clock time with how long ago beside it: "14:02 (för 3 min sedan)". */
export function clockAgo(iso, now = Date.now()) {
  return iso ? `${clock(iso)} (${ago(iso, now)})` : "";
}

/** A `<time>` showing the clock time and how long ago ("14:02 (för 3 min sedan)"),
 *  kept current: every `[data-ago]` is rewritten each 30 s. */
export function clockAgoHtml(iso) {
  if (!iso) return "";
  return `<time datetime="${escapeHtml(iso)}" data-ago>${escapeHtml(clockAgo(iso))}</time>`;
}

if (typeof document !== "undefined") {
  setInterval(() => {
    for (const el of document.querySelectorAll("time[data-ago]")) el.textContent = clockAgo(el.getAttribute("datetime"));
  }, 30_000);
}

/** An unlock reason as a person reads it: the site's reason translated where a text
 *  exists ("care visit" → "Omvårdnad"), "other: text" → "Annan orsak: text"; a free
 *  text or a schedule's name as it was written. */
export function reasonText(reason) {
  if (!reason) return "";
  const cut = reason.indexOf(": ");
  const head = cut >= 0 ? reason.slice(0, cut) : reason;
  const rest = cut >= 0 ? reason.slice(cut + 2) : "";
  if (!has(`reason.${head}`)) return reason;
  return rest ? `${t(`reason.${head}`)}: ${rest}` : t(`reason.${head}`);
}

/** :func:`reasonText` as HTML: a person's own words (free text, a schedule's name) are
 *  marked `translate="no"`: shown as written, in whatever language they were written. */
export function reasonHtml(reason) {
  if (!reason) return "";
  const cut = reason.indexOf(": ");
  const head = cut >= 0 ? reason.slice(0, cut) : reason;
  const rest = cut >= 0 ? reason.slice(cut + 2) : "";
  if (!has(`reason.${head}`)) return `<span translate="no">${escapeHtml(reason)}</span>`;
  const label = escapeHtml(t(`reason.${head}`));
  return rest ? `${label}: <span translate="no">${escapeHtml(rest)}</span>` : label;
}

export function reach(twin) {
  return twin ? twin.availability : "unknown";
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
