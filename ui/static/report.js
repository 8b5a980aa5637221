// The response-time report (larmsvarstider) for the municipality: /ui/report.html.
// Admin only: the numbers come from GET /api/reports/response-times, the charts are
// SVG drawn by the daemon, the export is its XLSX.
import { api } from "/ui/api.js";
import { setLanguage, t, has, language, errorText } from "/ui/i18n.js";
import { loadDeviceTypes } from "/ui/devices.js";

const $ = (id) => document.getElementById(id);
const STEPS = ["taken", "on_site", "closed"];
const STATS = ["median", "p90", "max"];
let zone = "Europe/Stockholm";

function locale() { return language() === "en" ? "en-GB" : "sv-SE"; }

/** Seconds as minutes with one decimal (Swedish decimal comma), or a dash. */
function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 })
    .format(seconds / 60);
}

function localDate(d) {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(d);
}

/** A night by both its dates: "lör 27/3–sön 28/3" (it starts on the first). */
function nightName(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const name = (date) => {
    const p = {};
    for (const part of new Intl.DateTimeFormat(locale(), { timeZone: "UTC", weekday: "short", day: "numeric",
      month: "numeric" }).formatToParts(date)) p[part.type] = part.value;
    return `${p.weekday} ${p.day}/${p.month}`;
  };
  return `${name(new Date(Date.UTC(y, m - 1, d, 12)))}–${name(new Date(Date.UTC(y, m - 1, d + 1, 12)))}`;
}

function kindName(kind) {
  const key = `alarm_${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

/** An unlock reason as the dashboard names it (``reason.*``); a schedule's as "Schema". */
function reasonName(reason) {
  if (reason === "schedule") return t("report_reason_schedule");
  return has(`reason.${reason}`) ? t(`reason.${reason}`) : reason;
}

function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (cls) el.className = cls;
  return el;
}

/** A table: first header row grouping the steps, second naming the statistics. */
function stepsTable(table, firstHeads, rows) {
  table.replaceChildren();
  const head = document.createElement("thead");
  const group = document.createElement("tr");
  group.className = "group";
  group.append(...firstHeads.map(() => cell("th", "")));
  for (const step of STEPS) {
    const th = cell("th", t(`report_step_${step}`));
    th.colSpan = STATS.length;
    group.append(th);
  }
  const names = document.createElement("tr");
  names.append(...firstHeads.map((h) => cell("th", h)));
  for (const _step of STEPS) for (const stat of STATS) names.append(cell("th", t(`report_stat_${stat}`)));
  head.append(group, names);
  const body = document.createElement("tbody");
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.append(...row.first.map((v, i) => cell(i ? "td" : "th", String(v))));
    tr.firstChild.scope = "row";
    for (const step of STEPS) {
      for (const stat of STATS) {
        const value = row.data[step][stat];
        tr.append(cell("td", minutes(value), value === null ? "empty" : ""));
      }
    }
    tr.dataset.key = row.key;
    body.append(tr);
  }
  table.append(head, body);
}

function pairsTable(table, heads, pairs) {
  table.replaceChildren();
  const head = document.createElement("thead");
  const tr = document.createElement("tr");
  tr.append(...heads.map((h) => cell("th", h)));
  head.append(tr);
  const body = document.createElement("tbody");
  if (!pairs.length) {
    const row = document.createElement("tr");
    const td = cell("td", t("report_none"), "empty");
    td.colSpan = heads.length;
    row.append(td);
    body.append(row);
  }
  for (const [name, count, key] of pairs) {
    const row = document.createElement("tr");
    row.append(cell("th", name), cell("td", String(count)));
    row.dataset.key = key;
    body.append(row);
  }
  table.append(head, body);
}

function query() {
  return new URLSearchParams({
    from: $("from").value, to: $("to").value,
    night: `${$("night-from").value}-${$("night-to").value}`, lang: language(),
  }).toString();
}

function render(report) {
  const q = query();
  $("period-text").textContent = t("report_period", {
    from: report.from, to: report.to, night: report.night_window.replace("-", "–"),
  });
  stepsTable($("total-table"), [t("report_alarms")], [{ key: "total", first: [report.total.alarms], data: report.total }]);
  stepsTable($("wings-table"), [t("report_wing"), t("report_alarms"), t("report_at_night")], report.wings.map((w) => ({
    key: w.wing, first: [w.wing || t("report_no_wing"), w.alarms, w.at_night.alarms], data: w,
  })));
  stepsTable($("nights-table"), [t("report_night"), t("report_hours"), t("report_alarms")], report.nights.map((n) => ({
    key: n.night, first: [nightName(n.night), n.hours, n.alarms], data: n,
  })));
  pairsTable($("kinds-table"), [t("report_kind"), t("report_count")],
    Object.entries(report.kinds).map(([k, c]) => [kindName(k), c, k]));
  pairsTable($("unlocks-table"), [t("report_reason"), t("report_count")],
    Object.entries(report.unlocks_by_reason).map(([r, c]) => [reasonName(r), c, r]));
  pairsTable($("escalations-table"), [t("report_what"), t("report_count")], [
    [t("report_escalation_steps"), report.escalations.steps, "steps"],
    [t("report_alarms_escalated"), report.escalations.alarms_escalated, "alarms_escalated"],
    [t("report_never_taken"), report.escalations.never_taken, "never_taken"],
  ]);
  $("wings-chart").src = `/api/reports/response-times/wings.svg?${q}`;
  $("wings-chart").alt = t("report_wings_chart");
  $("nights-chart").src = `/api/reports/response-times/nights.svg?${q}`;
  $("nights-chart").alt = t("report_nights_chart");
  $("xlsx").href = `/api/reports/response-times.xlsx?${q}`;
  $("report-body").hidden = false;
  document.body.dataset.loaded = `${report.from}/${report.to}`;
}

async function load() {
  $("report-error").hidden = true;
  const resp = await api("GET", `/api/reports/response-times?${query()}`);
  if (!resp.ok) {
    $("report-error").textContent = errorText(resp);
    $("report-error").dataset.code = resp.data?.error?.code || "";
    $("report-error").hidden = false;
    $("report-body").hidden = true;
    return;
  }
  render(resp.data);
}

async function main() {
  const me = await api("GET", "/api/auth/me");
  if (!me.ok) { location.href = "/ui/login.html"; return; }
  setLanguage(me.data.user.language || "sv");
  await loadDeviceTypes(); // the alarm kinds' names of every device type
  document.title = `Tryggbo – ${t("report_title")}`;
  const site = await api("GET", "/api/site");
  if (site.ok) {
    zone = site.data.timezone;
    $("site-name").textContent = site.data.name || site.data.slug;
  }
  const params = new URLSearchParams(location.search);
  const yesterday = new Date(Date.now() - 24 * 3600 * 1000);
  $("to").value = params.get("to") || localDate(yesterday);
  $("from").value = params.get("from") || localDate(new Date(yesterday.getTime() - 6 * 24 * 3600 * 1000));
  $("report-form").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  $("print").addEventListener("click", () => window.print());
  await load();
}

main();
