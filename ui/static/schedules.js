// The schedules page: every schedule with its next firing (and why, on polar days
// or DST changes), pause / resume / delete, a form for new routines, one-off remote
// commands ("unlock 103 at 14:00, relock after 30 minutes") and the staff holds. A
// schedule whose owner lost the rights to run it is shown suspended, with why; an
// admin may take it over (it then runs with the admin's rights).
// The server validates everything; its field-named errors are shown as they are.
import { api } from "/ui/api.js";
import { errorText, has, t } from "/ui/i18n.js";
import { clock, escapeHtml, when } from "/ui/format.js";
import { toast } from "/ui/app.js";
import { scheduleActions } from "/ui/devices.js";

// Actions a routine may take, with the one argument some of them need: from the
// device types (devices.js), `{name, arg, label}`.
function actions() {
  return scheduleActions();
}

function actionOptions(list, withNone = false) {
  const byName = new Map(list.map((a) => [a.name, a.label]));
  return options([...(withNone ? [""] : []), ...byName.keys()], (a) => (a ? byName.get(a) : "–"));
}
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** A target ("apartment:103", {kind, value} or "site") in words: "Lägenhet 103",
 *  a device as its type and apartment ("Dörr 201"), a type by its label. */
function targetText(target, site) {
  const [kind, value] = typeof target === "string" ? target.split(":") : [target?.kind, target?.value];
  if (!kind) return "";
  if (kind === "site") return t("target_site");
  if (kind === "device") {
    const apt = (site?.apartments ?? []).find((a) => a.devices.some((d) => d.id === value));
    const type = apt?.devices.find((d) => d.id === value)?.type;
    if (apt && has(`${type}.label`)) return `${t(`${type}.label`)} ${apt.number}`;
  }
  if (kind === "type" && has(`${value}.label`)) return `${t("target_type")} ${t(`${value}.label`)}`;
  return `${t(`target_${kind}`)} ${value ?? ""}`.trim();
}

/** A time of day as the site's clock shows it ("21:00"). */
function hhmm(value) {
  return String(value ?? "").slice(0, 5);
}

/** A rule in words, in the site's time zone: "varje dag kl. 22:00", "mån, fre kl. 07:30",
 *  "vid solnedgång +15 min (annars 21:00)", a one-off at its local time. */
function ruleText(rule) {
  if (!rule) return "";
  if (rule.kind === "daily") return `${t("rule_daily")} ${t("at_time", { time: hhmm(rule.time) })}`;
  if (rule.kind === "weekdays") {
    const names = (rule.weekdays ?? []).map((d) => t(`wd_${typeof d === "number" ? WEEKDAYS[d] : d}`));
    return `${names.join(", ")} ${t("at_time", { time: hhmm(rule.time) })}`;
  }
  if (rule.kind === "sun") {
    const offset = Number(rule.offset_minutes ?? 0);
    return t(`rule_${rule.event}_text`, {
      offset: offset ? ` ${offset > 0 ? "+" : ""}${offset} min` : "", fallback: hhmm(rule.fallback),
    });
  }
  if (rule.kind === "once") return /[zZ]|[+-]\d\d:?\d\d$/.test(rule.at) ? when(rule.at) : String(rule.at).replace("T", " ").slice(0, 16);
  if (rule.kind === "cron") return `${t("cron")}: ${rule.expr}`;
  return "";
}

/** A schedule in words: action, target, rule ("Gardin: Stäng · Flygel A · varje dag kl. 21:00"). */
function summaryText(s, site) {
  const action = actions().find((a) => a.name === s.action)?.label ?? s.action ?? "";
  const rules = Array.isArray(s.rules) ? s.rules : [s.rule];
  return [action, targetText(s.target, site), rules.map(ruleText).filter(Boolean).join("; ")].filter(Boolean).join(" · ");
}

/** The values a target kind can take on this site, for a picker. */
function targetValues(site, kind) {
  const apts = site?.apartments ?? [];
  if (kind === "apartment") return apts.map((a) => [a.number, `${a.number} ${a.resident}`]);
  if (kind === "wing") return [...new Set(apts.map((a) => a.wing).filter(Boolean))].map((w) => [w, w]);
  if (kind === "floor") return [...new Set(apts.map((a) => String(a.floor)))].map((f) => [f, f]);
  if (kind === "device") return apts.flatMap((a) => a.devices.map((d) => [d.id, `${a.number} ${has(`${d.type}.label`) ? t(`${d.type}.label`) : d.type}`]));
  if (kind === "type") return [...new Set(apts.flatMap((a) => a.devices.map((d) => d.type)))].map((ty) => [ty, has(`${ty}.label`) ? t(`${ty}.label`) : ty]);
  return [];
}

function fillTargetValues(select, site, kind) {
  const values = targetValues(site, kind);
  select.hidden = values.length === 0;
  select.innerHTML = values.map(([v, label]) => `<option value="${escapeHtml(v)}">${escapeHtml(label)}</option>`).join("");
}
const RULES = ["daily", "weekdays", "sunset", "sunrise", "once", "cron"];

function nextCell(s) {
  const f = s.next_firing;
  if (!s.enabled) return `<span class="muted">${t("paused")}</span>`;
  if (s.problem) return `<span class="problem">${escapeHtml(t("schedule_problem"))}</span>`;
  if (!f) return `<span class="muted">${t("no_next_firing")}</span>`;
  // why this time (the server's reason is English for the log): said from the firing
  const event = (Array.isArray(s.rules) ? s.rules[0] : s.rule)?.event ?? "sunset";
  const noteText = f.fallback_used ? t(`note_no_${event}`, { time: clock(f.at) })
    : f.dst === "gap" ? t("note_dst_gap", { time: clock(f.at) }) : t("note_dst_repeat");
  const note = f.fallback_used || f.dst
    ? `<div class="note" data-note="${f.fallback_used ? "fallback" : "dst"}">${escapeHtml(noteText)}</div>`
    : "";
  return `<time datetime="${escapeHtml(f.at)}">${escapeHtml(when(f.at))}</time>${note}`;
}

function row(s, admin, site) {
  const suspended = s.suspended
    ? `<div class="problem suspended">${t("suspended")}: ${escapeHtml(t("suspended_why"))}</div>`
    : "";
  const takeOver = s.suspended && admin
    ? `<button type="button" data-op="take-over">${t("take_over")}</button>`
    : "";
  return `
    <tr data-schedule="${escapeHtml(s.id)}" data-enabled="${s.enabled}" data-suspended="${Boolean(s.suspended)}">
      <td>${escapeHtml(s.name || s.id)}</td>
      <td>${escapeHtml(summaryText(s, site))}</td>
      <td class="next">${nextCell(s)}${suspended}</td>
      <td class="owner">${escapeHtml(s.owner)}</td>
      <td class="actions">
        ${takeOver}
        <button type="button" data-op="${s.enabled ? "pause" : "resume"}">${t(s.enabled ? "pause" : "resume")}</button>
        <button type="button" data-op="delete" class="danger">${t("delete")}</button>
      </td>
    </tr>`;
}

/** A held action in words: a routine's action by its label, any other (a staff
 *  command's, "show_message") by the device type's label or the general command text. */
function holdAction(type, name) {
  const key = [`${type}.action_${name}`, `cmd_${name}`].find((k) => has(k));
  return actions().find((a) => a.name === name)?.label ?? (key ? t(key) : name);
}

function holdRow(site, h) {
  const apt = (site?.apartments ?? []).find((a) => a.devices.some((d) => d.id === h.device));
  const action = holdAction(apt?.devices.find((d) => d.id === h.device)?.type, h.action);
  const where = apt ? t("apartment", { number: apt.number }) : h.device;
  return `<li data-device="${escapeHtml(h.device)}">${escapeHtml(where)}: ${escapeHtml(action)} ${t("by")} ${escapeHtml(h.actor)}, ${escapeHtml(when(h.since))}</li>`;
}

function options(values, label = (v) => v) {
  return values.map((v) => `<option value="${escapeHtml(v)}">${escapeHtml(label(v))}</option>`).join("");
}

function form() {
  return `
    <form id="schedule-form" class="schedule-form">
      <h2>${t("new_schedule")}</h2>
      <label>${t("name")} <input name="name" maxlength="128" required></label>
      <label>${t("target")}
        <select name="target_kind">${options(["apartment", "wing", "floor", "device", "type", "site"], (k) => t(`target_${k}`))}</select>
        <select name="target_value" aria-label="${escapeHtml(t("target_pick"))}"></select>
      </label>
      <label>${t("action")} <select name="action">${actionOptions(actions())}</select></label>
      <label class="arg" hidden>${t("value")} <span class="arg-input"></span></label>
      <label>${t("rule")} <select name="rule">${options(RULES, (r) => t(`rule_${r}`))}</select></label>
      <label data-for="daily weekdays">${t("time")} <input name="time" type="time" value="22:00"></label>
      <fieldset data-for="weekdays" class="weekdays"><legend>${t("weekdays")}</legend>
        ${WEEKDAYS.map((d) => `<label><input type="checkbox" name="wd" value="${d}"> ${t(`wd_${d}`)}</label>`).join("")}
      </fieldset>
      <label data-for="sunset sunrise">${t("offset_minutes")} <input name="offset" type="number" value="0" min="-360" max="360"></label>
      <label data-for="sunset sunrise">${t("fallback_time")} <input name="fallback" type="time" value="21:00"></label>
      <label data-for="once">${t("at")} <input name="once_at" type="datetime-local"></label>
      <label data-for="cron">${t("cron")} <input name="cron" placeholder="30 7 * * 1-5"></label>
      <label>${t("missed_policy")} <select name="missed">${options(["run_latest", "skip"], (p) => t(`missed_${p}`))}</select></label>
      <button type="submit">${t("create")}</button>
      <ul id="schedule-errors" class="errors" role="alert"></ul>
    </form>`;
}

// A one-off command and its follow-up: the actions that need no argument.
function remoteActions() {
  return actions().filter((a) => !a.arg?.required);
}

function remoteForm() {
  return `
    <form id="remote-form" class="schedule-form">
      <h2>${t("remote_command")}</h2>
      <label>${t("target")} <select name="target_kind">${options(["apartment", "wing", "floor", "site"], (k) => t(`target_${k}`))}</select>
        <select name="target_value" aria-label="${escapeHtml(t("target_pick"))}"></select></label>
      <label>${t("action")} <select name="action">${actionOptions(remoteActions())}</select></label>
      <label>${t("at")} <input name="at" type="time" required></label>
      <label>${t("then")} <select name="then">${actionOptions(remoteActions(), true)}</select></label>
      <label>${t("after_minutes")} <input name="after" type="number" min="1" max="1440" value="30"></label>
      <label>${t("reason")} <input name="name" maxlength="128" placeholder="${escapeHtml(t("remote_name_hint"))}"></label>
      <button type="submit">${t("schedule_it")}</button>
      <ul id="remote-errors" class="errors" role="alert"></ul>
    </form>`;
}

function showRuleFields(f) {
  const rule = f.rule.value;
  for (const el of f.querySelectorAll("[data-for]")) el.hidden = !el.dataset.for.split(" ").includes(rule);
  const arg = actions().find((a) => a.name === f.action.value)?.arg;
  f.querySelector(".arg").hidden = !arg;
  // the argument is picked: yes/no from a list, a number within its bounds
  const holder = f.querySelector(".arg-input");
  if (holder.dataset.action === f.action.value) return;
  holder.dataset.action = f.action.value;
  holder.innerHTML = !arg ? "" : arg.bool
    ? `<select name="arg"><option value="true">${t("yes_on")}</option><option value="false">${t("no_off")}</option></select>`
    : `<input name="arg" type="number"${arg.min !== undefined ? ` min="${arg.min}"` : ""}${arg.max !== undefined ? ` max="${arg.max}"` : ""}${arg.required ? " required" : ""}>`;
}

function ruleOf(f) {
  const rule = f.rule.value;
  if (rule === "daily") return { kind: "daily", time: f.time.value };
  if (rule === "weekdays") {  // the boxes are read only for this rule (hidden for the others)
    return { kind: "weekdays", time: f.time.value, weekdays: [...f.querySelectorAll("[name=wd]:checked")].map((c) => c.value) };
  }
  if (rule === "sunset" || rule === "sunrise") {
    return { kind: "sun", event: rule, offset_minutes: Number(f.offset.value || 0), fallback: f.fallback.value };
  }
  if (rule === "once") return { kind: "once", at: f.once_at.value };
  return { kind: "cron", expr: f.cron.value.trim() };
}

function argsOf(f) {
  const spec = actions().find((a) => a.name === f.action.value)?.arg;
  if (!spec) return {};
  const raw = f.arg.value.trim();
  if (spec.bool) return { [spec.name]: raw === "true" };
  if (raw === "" && !spec.required) return {};
  return { [spec.name]: raw === "" ? null : Number(raw) };
}

/** The server's refusal in words, with each named field ("Kontrollera: Tid"). */
function showErrors(list, resp) {
  const err = resp.data?.error ?? {};
  const details = Array.isArray(err.details) ? err.details : [];
  const fieldName = (f) => {
    const last = String(f ?? "").split(".").filter((p) => !/^\d+$/.test(p)).pop() ?? "";
    return has(last) ? t(last) : has(`target_${last}`) ? t(`target_${last}`) : last;
  };
  list.innerHTML = [`<li>${escapeHtml(errorText(resp))}</li>`,
    ...details.map((d) => `<li data-field="${escapeHtml(d.field ?? "")}">${escapeHtml(t("field_problem", { field: fieldName(d.field) }))}</li>`)].join("");
}

async function load(state) {
  const resp = await api("GET", "/api/schedules");
  const body = document.getElementById("schedule-rows");
  if (!body) return;  // the page was left meanwhile
  if (!resp.ok) { toast(errorText(resp), "error"); return; }
  const schedules = resp.data.schedules.slice().sort((a, b) =>
    (a.next_firing?.at ?? "~").localeCompare(b.next_firing?.at ?? "~"));
  const admin = (state.me?.roles ?? []).includes("admin");
  body.innerHTML = schedules.map((s) => row(s, admin, state.site)).join("") || `<tr><td colspan="5" class="muted">${t("no_schedules")}</td></tr>`;
  document.getElementById("holds").innerHTML = resp.data.holds.map((h) => holdRow(state.site, h)).join("")
    || `<li class="muted">${t("no_holds")}</li>`;
  state.schedulesLoaded = Date.now();
  document.getElementById("schedules").dataset.loaded = String(schedules.length);
}

async function operate(state, id, op) {
  if (op === "delete" && !confirm(t("confirm_delete"))) return;
  const resp = op === "delete"
    ? await api("DELETE", `/api/schedules/${encodeURIComponent(id)}`)
    : await api("POST", `/api/schedules/${encodeURIComponent(id)}/${op}`);
  if (!resp.ok) toast(errorText(resp), "error");
  await load(state);
}

export function renderSchedules(view, state) {
  view.innerHTML = `
    <h1>${t("schedules")}</h1>
    <table id="schedules" class="schedules">
      <thead><tr><th>${t("name")}</th><th>${t("what")}</th><th>${t("next_firing")}</th><th>${t("owner")}</th><th></th></tr></thead>
      <tbody id="schedule-rows"></tbody>
    </table>
    <h2>${t("holds")}</h2>
    <p class="muted">${t("holds_rule")}</p>
    <ul id="holds" class="holds"></ul>
    <div class="forms">${form()}${remoteForm()}</div>`;
  document.getElementById("schedule-rows").onclick = (ev) => {
    const button = ev.target.closest("button[data-op]");
    if (button) operate(state, button.closest("tr").dataset.schedule, button.dataset.op);
  };
  const f = document.getElementById("schedule-form");
  f.rule.onchange = f.action.onchange = () => showRuleFields(f);
  showRuleFields(f);
  for (const form of [f, document.getElementById("remote-form")]) {
    form.target_kind.onchange = () => fillTargetValues(form.target_value, state.site, form.target_kind.value);
    form.target_kind.onchange();
  }
  f.onsubmit = async (ev) => {
    ev.preventDefault();
    const kind = f.target_kind.value;
    const target = kind === "site" ? "site" : `${kind}:${f.target_value.value}`;
    const body = { name: f.name.value.trim(), target, action: f.action.value, args: argsOf(f),
      rule: ruleOf(f), missed_policy: f.missed.value };
    const resp = await api("POST", "/api/schedules", body);
    const errors = document.getElementById("schedule-errors");
    if (!resp.ok) { showErrors(errors, resp); return; }
    errors.innerHTML = "";
    f.name.value = "";
    toast(t("schedule_created"));
    await load(state);
  };
  const r = document.getElementById("remote-form");
  r.onsubmit = async (ev) => {
    ev.preventDefault();
    const target = r.target_kind.value === "site" ? "site" : `${r.target_kind.value}:${r.target_value.value}`;
    const body = { target, action: r.action.value, at: r.at.value,
      name: r.name.value.trim() };
    if (r.then.value) { body.then = { action: r.then.value }; body.then_after_minutes = Number(r.after.value); }
    const resp = await api("POST", "/api/remote-commands", body);
    const errors = document.getElementById("remote-errors");
    if (!resp.ok) { showErrors(errors, resp); return; }
    errors.innerHTML = "";
    toast(t("schedule_created"));
    await load(state);
  };
  load(state);
}

// A schedule's command went by: refresh the page if it is open, once for a burst (a
// firing sends one command per device).
let reload = null;
export function schedulesChanged(state) {
  if (state.route.name !== "schedules" || reload) return;
  reload = setTimeout(() => {
    reload = null;
    if (state.route.name === "schedules") load(state);
  }, 500);
}
