// A resident's day plan on the apartment page: staff add and remove today's entries
// ("Sjukgymnast 10.00"); the room screen shows them beside the scheduled routines.
import { api } from "/ui/api.js";
import { errorText, t } from "/ui/i18n.js";
import { escapeHtml } from "/ui/format.js";
import { toast } from "/ui/app.js";

async function load(section, number) {
  const resp = await api("GET", `/api/apartments/${encodeURIComponent(number)}/plan`);
  const list = section.querySelector("#plan-entries");
  if (!resp.ok) { toast(errorText(resp), "error"); return; }
  list.innerHTML = resp.data.entries.map((e) => `
    <li data-entry="${e.id}"><span class="time">${escapeHtml(e.at ?? t("during_the_day"))}</span>
      ${escapeHtml(e.text)} <button type="button" class="link" data-delete="${e.id}">${t("delete")}</button></li>`).join("")
    || `<li class="muted">${t("nothing_planned")}</li>`;
  section.dataset.loaded = String(resp.data.entries.length);
}

export function renderPlan(section, number) {
  section.innerHTML = `
    <h2>${t("todays_plan")}</h2>
    <p class="muted">${t("plan_hint")}</p>
    <ul id="plan-entries" class="events"></ul>
    <form id="plan-form" class="filters">
      <label>${t("time")} <input name="at" type="time"></label>
      <label>${t("what")} <input name="text" maxlength="120" required></label>
      <button type="submit">${t("add")}</button>
    </form>`;
  const form = section.querySelector("#plan-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const body = { text: form.text.value.trim() };
    if (form.at.value) body.at = form.at.value;
    const resp = await api("POST", `/api/apartments/${encodeURIComponent(number)}/plan`, body);
    if (!resp.ok) { toast(errorText(resp), "error"); return; }
    form.reset();
    await load(section, number);
  };
  section.querySelector("#plan-entries").onclick = async (ev) => {
    const id = ev.target.dataset?.delete;
    if (!id) return;
    const resp = await api("DELETE", `/api/apartments/${encodeURIComponent(number)}/plan/${id}`);
    if (!resp.ok) toast(errorText(resp), "error");
    await load(section, number);
  };
  load(section, number);
}
