// The apartment page's video-call section: visiting hours, invite a relative (link and
// QR code to print or send), list and revoke invitations.
import { api } from "/ui/api.js";
import { t } from "/ui/i18n.js";
import { escapeHtml, when } from "/ui/format.js";

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
  const input = document.getElementById("hours-input");
  if (input && ok) {
    input.value = data.windows.join(", ");
    input.dataset.source = data.source;
  }
}

async function saveHours(number) {
  const out = document.getElementById("hours-outcome");
  const text = document.getElementById("hours-input").value.trim();
  const windows = text ? text.split(",").map((w) => w.trim()).filter(Boolean) : null;
  const { ok, data } = await api("PUT", `/api/calls/visiting-hours/${encodeURIComponent(number)}`, { windows });
  out.textContent = ok ? t("saved") : (data?.error?.message ?? t("outcome_error", { error: "" }));
  out.dataset.outcome = ok ? "ok" : "error";
  if (ok) await loadHours(number);
}

export function renderCalls(el, number) {
  el.innerHTML = `
    <h2>${t("video_calls")}</h2>
    <form id="hours-form" class="invite-form">
      <label>${t("visiting_hours")} <input id="hours-input" size="40"></label>
      <button type="submit" id="btn-hours">${t("save")}</button>
      <span id="hours-outcome" role="status"></span>
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
  document.getElementById("hours-form").onsubmit = (ev) => { ev.preventDefault(); saveHours(number); };
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
