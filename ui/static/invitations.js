// The apartment page's video-call section: visiting hours (picked, never typed: days,
// from, to), invite a relative (link and QR code to print or send), list and revoke
// invitations.
import { api } from "/ui/api.js";
import { errorText, t } from "/ui/i18n.js";
import { escapeHtml, when } from "/ui/format.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
// the day sets offered, as the server reads them (controller/calls/visiting.py)
const DAY_SETS = ["daily", "mon-fri", "sat,sun", ...DAYS];

function daysLabel(days) {
  if (days === "daily") return t("days_every");
  if (days === "mon-fri") return t("days_weekdays");
  if (days === "sat,sun") return t("days_weekend");
  if (DAYS.includes(days)) return t(`day_${days}`);
  // another set the server accepts ("mon,wed", "fri-sun"): the day names
  return days.split(",").map((part) => part.split("-").map((d) => t(`wd_${d}`)).join("–")).join(", ");
}

function hoursRow(days = "daily", from = "09:00", to = "20:00") {
  const sets = DAY_SETS.includes(days) ? DAY_SETS : [...DAY_SETS, days];
  return `<li class="hours-row">
    <select class="hours-days" aria-label="${escapeHtml(t("weekdays"))}">${sets.map((d) => `<option value="${escapeHtml(d)}"${d === days ? " selected" : ""}>${escapeHtml(daysLabel(d))}</option>`).join("")}</select>
    <input type="time" class="hours-from" value="${escapeHtml(from)}" aria-label="${escapeHtml(t("from"))}" required>
    –
    <input type="time" class="hours-to" value="${escapeHtml(to === "24:00" ? "00:00" : to)}" aria-label="${escapeHtml(t("to"))}" required>
    <button type="button" class="hours-remove link">${t("remove")}</button>
  </li>`;
}

/** "mon-fri 10:00-19:00" → [days, from, to]. */
function splitWindow(text) {
  const m = /^(\S+)\s+(\d\d:\d\d)-(\d\d:\d\d)$/.exec(text.trim());
  return m ? [m[1], m[2], m[3]] : ["daily", "09:00", "20:00"];
}

/** The picked rows as the server's windows; an end at 00:00 is midnight (24:00). */
function pickedWindows() {
  return [...document.querySelectorAll("#hours-rows .hours-row")].map((row) => {
    const to = row.querySelector(".hours-to").value;
    return `${row.querySelector(".hours-days").value} ${row.querySelector(".hours-from").value}-${to === "00:00" ? "24:00" : to}`;
  });
}

function rowHtml(inv) {
  return `<tr data-invitation="${escapeHtml(inv.id)}" data-status="${escapeHtml(inv.status)}">
    <td>${escapeHtml(inv.relative)}</td><td>${escapeHtml(t(`invitation_${inv.status}`))}</td>
    <td>${escapeHtml(when(inv.expires_at))}</td><td>${escapeHtml(inv.created_by)}</td>
    <td>${inv.status === "valid" ? `<button type="button" data-revoke="${escapeHtml(inv.id)}">${t("revoke")}</button>` : ""}</td>
  </tr>`;
}

async function loadList(number) {
  const { ok, data } = await api("GET", `/api/calls/invitations?apartment=${encodeURIComponent(number)}`);
  const body = document.getElementById("invitations-body");
  if (!body || !ok) return;
  body.innerHTML = data.invitations.map(rowHtml).join("");
}

async function loadHours(number) {
  const { ok, data } = await api("GET", `/api/calls/visiting-hours/${encodeURIComponent(number)}`);
  const rows = document.getElementById("hours-rows");
  if (!rows || !ok) return;
  rows.innerHTML = data.windows.map((w) => hoursRow(...splitWindow(w))).join("");
  rows.dataset.source = data.source;
  document.getElementById("hours-source").textContent = t(data.source === "staff" ? "hours_own" : "hours_site");
}

/** Save the picked windows; `windows` null: back to the home's own hours. */
async function saveHours(number, windows) {
  const out = document.getElementById("hours-outcome");
  const resp = await api("PUT", `/api/calls/visiting-hours/${encodeURIComponent(number)}`, { windows });
  out.textContent = resp.ok ? t("saved") : errorText(resp);
  out.dataset.outcome = resp.ok ? "ok" : "error";
  if (resp.ok) await loadHours(number);
}

export function renderCalls(el, number) {
  el.innerHTML = `
    <h2>${t("video_calls")}</h2>
    <form id="hours-form" class="hours-form">
      <fieldset><legend>${t("visiting_hours")}</legend>
        <p id="hours-source" class="muted"></p>
        <ul id="hours-rows" class="hours-rows"></ul>
        <button type="button" id="btn-hours-add">${t("add_window")}</button>
        <button type="submit" id="btn-hours">${t("save")}</button>
        <button type="button" id="btn-hours-site" class="link">${t("hours_use_site")}</button>
        <span id="hours-outcome" role="status"></span>
      </fieldset>
    </form>
    <form id="invite-form" class="invite-form">
      <label>${t("relative_name")} <input id="invite-name" maxlength="64" required></label>
      <label>${t("valid_days")} <input id="invite-days" type="number" min="1" max="90" value="30"></label>
      <button type="submit" id="btn-invite">${t("invite_relative")}</button>
    </form>
    <div id="invite-result" class="invite-result" hidden>
      <p>${t("invite_link_once")}</p>
      <p><input id="invite-link" readonly size="60"></p>
      <p><img id="invite-qr" alt="QR"></p>
    </div>
    <table class="invitations"><thead><tr><th>${t("relative_name")}</th><th>${t("status")}</th>
      <th>${t("expires")}</th><th>${t("invited_by")}</th><th></th></tr></thead>
      <tbody id="invitations-body"></tbody></table>`;
  document.getElementById("invite-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("btn-invite");
    button.disabled = true;
    try {
      const { ok, data } = await api("POST", "/api/calls/invitations", {
        apartment: number,
        relative: document.getElementById("invite-name").value.trim(),
        valid_days: Number(document.getElementById("invite-days").value),
      });
      if (!ok) return;
      document.getElementById("invite-link").value = data.link;
      document.getElementById("invite-qr").src = data.qr_data_uri;
      document.getElementById("invite-result").hidden = false;
      await loadList(number);
    } finally {
      button.disabled = false;
    }
  };
  document.getElementById("hours-form").onsubmit = (ev) => { ev.preventDefault(); saveHours(number, pickedWindows()); };
  document.getElementById("btn-hours-add").onclick = () => {
    document.getElementById("hours-rows").insertAdjacentHTML("beforeend", hoursRow());
  };
  document.getElementById("btn-hours-site").onclick = () => saveHours(number, null);
  document.getElementById("hours-rows").onclick = (ev) => {
    if (ev.target.closest(".hours-remove")) ev.target.closest(".hours-row").remove();
  };
  el.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-revoke]");
    if (!button) return;
    button.disabled = true;
    await api("POST", `/api/calls/invitations/${encodeURIComponent(button.dataset.revoke)}/revoke`);
    await loadList(number);
  });
  loadHours(number);
  loadList(number);
}
