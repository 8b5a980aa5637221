// The audit log: every command and every person's action, filterable, exportable.
import { api } from "/ui/api.js";
import { errorText, has, t } from "/ui/i18n.js";
import { escapeHtml, reasonHtml, when } from "/ui/format.js";

/** A command as the log's "Vad": "Lås upp – Dörr 105" (the device type's labels). */
function commandText(state, r) {
  const twin = state.twins.get(r.device);
  const type = twin?.type ?? r.device.split("-").pop();
  const action = [`${type}.action_${r.action}`, `cmd_${r.action}`].find((k) => has(k));
  const device = has(`${type}.label`) ? `${t(`${type}.label`)}${twin?.apartment ? ` ${twin.apartment}` : ""}` : r.device;
  return t("act_command", { action: action ? t(action) : r.action, device });
}

/** A person's action as the log's "Vad" ("Avslutade larm 3"); an action without a
 *  text as it is stored. */
function activityText(r) {
  const key = `act_${r.action}`;
  if (has(key)) return t(key, { subject: r.subject ?? "" });
  return `${r.action}${r.subject ? ` ${r.subject}` : ""}`;
}

/** An outcome in words ("ok" → "Klart"). */
function outcomeWord(outcome) {
  if (!outcome) return "";
  const key = [`outcome_${outcome}_short`, `outcome_${outcome}`].find((k) => has(k));
  return key ? t(key, { error: "" }).replace(/:\s*$/, "") : outcome;
}

function params(form) {
  const p = new URLSearchParams();
  const apt = form.apartment.value.trim();
  const actor = form.actor.value.trim();
  if (apt) p.set("apartment", apt);
  if (actor) p.set("actor", actor);
  if (form.since.value) p.set("since", new Date(form.since.value).toISOString());
  if (form.until.value) p.set("until", new Date(form.until.value).toISOString());
  p.set("limit", "200");
  return p;
}

async function load(form, state) {
  const p = params(form);
  const [audit, activity] = await Promise.all([
    api("GET", `/api/audit?${p}`), api("GET", `/api/activity?${p}`)]);
  const rows = [];
  for (const r of audit.ok ? audit.data.audit : []) {
    if (r.kind !== "resolved") continue;
    const apt = state.twins.get(r.device)?.apartment ?? "";
    rows.push({ ts: r.ts, who: r.actor, what: commandText(state, r), apt, why: reasonHtml(r.reason ?? ""), outcome: outcomeWord(r.outcome) });
  }
  for (const r of activity.ok ? activity.data.activity : []) {
    // a refusal's reason is the server's sentence: said again from its code and parameters
    const why = r.action === "refused"
      ? escapeHtml(errorText({ status: 403, data: { error: { code: r.outcome, details: r.details?.error ?? {} } } }))
      : reasonHtml(r.reason ?? "");
    const outcome = r.action === "refused" ? t("outcome_refused") : outcomeWord(r.outcome);
    rows.push({ ts: r.ts, who: r.actor, what: activityText(r), apt: r.apartment ?? "", why, outcome });
  }
  rows.sort((a, b) => (a.ts < b.ts ? 1 : -1));
  document.getElementById("audit-rows").innerHTML = rows.map((r) => `
    <tr><td>${escapeHtml(when(r.ts))}</td><td translate="no">${escapeHtml(r.who)}</td><td>${escapeHtml(r.what)}</td>
    <td>${escapeHtml(r.apt)}</td><td>${r.why}</td><td>${escapeHtml(r.outcome)}</td></tr>`).join("");
  const csv = new URLSearchParams(p);
  csv.delete("limit"); // the export has every row: limit is the list's (unknown there: 400)
  document.getElementById("audit-csv").href = `/api/audit/export.csv?${csv}`;
}

export function renderAudit(view, state) {
  view.innerHTML = `
    <h1>${t("audit")}</h1>
    <form id="audit-filter" class="filters">
      <label>${t("apartment", { number: "" })} <input name="apartment" size="6"></label>
      <label>${t("person")} <input name="actor" size="12"></label>
      <label>${t("from")} <input name="since" type="datetime-local"></label>
      <label>${t("to")} <input name="until" type="datetime-local"></label>
      <button type="submit">${t("filter")}</button>
      <a id="audit-csv" href="/api/audit/export.csv" download>${t("export_csv")}</a>
    </form>
    <table class="audit"><thead><tr><th>${t("when")}</th><th>${t("who")}</th><th>${t("what")}</th>
      <th>${t("apartment", { number: "" })}</th><th>${t("why")}</th><th>${t("outcome")}</th></tr></thead>
      <tbody id="audit-rows"></tbody></table>`;
  const form = document.getElementById("audit-filter");
  form.onsubmit = (ev) => { ev.preventDefault(); load(form, state); };
  load(form, state);
}
