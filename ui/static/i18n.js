// Swedish by default, English per user. Keys are short; strings are the UI's words.
export const STRINGS = {
  sv: {
    username: "Användarnamn", password: "Lösenord", sign_in: "Logga in", sign_out: "Logga ut",
    bad_credentials: "Fel användarnamn eller lösenord.",
    locked: "Kontot är låst efter för många försök. Försök igen om {minutes} min.",
    overview: "Översikt", alarms: "Larm", audit: "Logg", live: "Live", reconnecting: "Återansluter…",
    floor: "Våning {floor}", wing: "Flygel {wing}", apartment: "Lägenhet {number}",
    door: "Dörr", curtain: "Gardin", screen: "Skärm", battery: "Batteri", online: "Ansluten",
    offline: "Offline", stale: "Tyst", unknown: "Okänt",
    lock_locked: "Låst", lock_unlocked: "Olåst", lock_locking: "Låser…", lock_unlocking: "Låser upp…",
    lock_jammed: "Fastnat", door_open: "öppen", door_closed: "stängd", fire_hold: "Brandlarm: hålls olåst",
    power_on: "På", power_standby: "Vila", call_ringing: "Samtal ringer", call_active: "Samtal pågår",
    lock: "Lås", unlock: "Lås upp", open: "Öppna", close: "Stäng", set_position: "Sätt läge",
    send_message: "Skicka meddelande", clear_message: "Ta bort meddelande", message: "Meddelande",
    until: "Visas till", reason: "Orsak", reason_other: "Annan orsak (fritext)", cancel: "Avbryt",
    confirm_unlock: "Lås upp dörren", sending: "Skickar…",
    outcome_ok: "Klart – bekräftat av enheten.", outcome_rejected: "Nekat av enheten: {error}",
    outcome_failed: "Misslyckades: {error}", outcome_timeout: "Inget svar från enheten – utfallet är okänt.",
    outcome_offline: "Enheten är inte ansluten – inget skickades.", outcome_error: "Fel: {error}",
    last_events: "Senaste händelser", no_alarms: "Inga aktiva larm.", take: "Ta larmet",
    on_site: "På plats", close_alarm: "Avsluta", comment: "Kommentar", note: "Anteckning",
    acked_by: "Tagen av {who}", on_site_by: "På plats: {who}", escalated: "Eskalerat ×{n}",
    alarm_help: "Hjälplarm", alarm_night_door: "Dörr öppnad nattetid", alarm_jammed: "Låset har fastnat",
    alarm_unknown_state: "Låsets läge okänt", alarm_offline: "Enhet offline",
    alarm_battery_low: "Lågt batteri", alarm_fire: "Brandlarm",
    who: "Vem", when: "När", what: "Vad", why: "Varför", outcome: "Utfall", filter: "Filtrera",
    person: "Person", from: "Från", to: "Till", export_csv: "Exportera CSV", all: "Alla",
    language: "Språk", back: "Tillbaka", night_supervised: "Nattillsyn",
    state_open: "Nytt", state_acknowledged: "Taget", state_on_site: "På plats", state_closed: "Avslutat",
    video_calls: "Videosamtal med anhöriga", visiting_hours: "Besökstider", relative_name: "Anhörig",
    valid_days: "Giltig (dagar)", invite_relative: "Bjud in", status: "Status", expires: "Gäller till",
    invited_by: "Inbjuden av", revoke: "Återkalla", invitation_valid: "Gäller",
    invitation_revoked: "Återkallad", invitation_expired: "Utgången",
    invite_link_once: "Länken visas bara nu: skriv ut QR-koden eller skicka länken till den anhöriga.",
    save: "Spara", saved: "Sparat",
  },
  en: {
    username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    bad_credentials: "Wrong username or password.",
    locked: "The account is locked after too many attempts. Try again in {minutes} min.",
    overview: "Overview", alarms: "Alarms", audit: "Log", live: "Live", reconnecting: "Reconnecting…",
    floor: "Floor {floor}", wing: "Wing {wing}", apartment: "Apartment {number}",
    door: "Door", curtain: "Curtain", screen: "Screen", battery: "Battery", online: "Online",
    offline: "Offline", stale: "Silent", unknown: "Unknown",
    lock_locked: "Locked", lock_unlocked: "Unlocked", lock_locking: "Locking…",
    lock_unlocking: "Unlocking…", lock_jammed: "Jammed", door_open: "open", door_closed: "closed",
    fire_hold: "Fire alarm: held unlocked",
    power_on: "On", power_standby: "Standby", call_ringing: "Call ringing", call_active: "In a call",
    lock: "Lock", unlock: "Unlock", open: "Open", close: "Close", set_position: "Set position",
    send_message: "Send message", clear_message: "Clear message", message: "Message",
    until: "Shown until", reason: "Reason", reason_other: "Other reason (free text)", cancel: "Cancel",
    confirm_unlock: "Unlock the door", sending: "Sending…",
    outcome_ok: "Done – confirmed by the device.", outcome_rejected: "Refused by the device: {error}",
    outcome_failed: "Failed: {error}", outcome_timeout: "No answer from the device – outcome unknown.",
    outcome_offline: "The device is not connected – nothing was sent.", outcome_error: "Error: {error}",
    last_events: "Last events", no_alarms: "No active alarms.", take: "Take alarm",
    on_site: "On site", close_alarm: "Close", comment: "Comment", note: "Note",
    acked_by: "Taken by {who}", on_site_by: "On site: {who}", escalated: "Escalated ×{n}",
    alarm_help: "Help call", alarm_night_door: "Door opened at night", alarm_jammed: "Lock jammed",
    alarm_unknown_state: "Lock state unknown", alarm_offline: "Device offline",
    alarm_battery_low: "Battery low", alarm_fire: "Fire alarm",
    who: "Who", when: "When", what: "What", why: "Why", outcome: "Outcome", filter: "Filter",
    person: "Person", from: "From", to: "To", export_csv: "Export CSV", all: "All",
    language: "Language", back: "Back", night_supervised: "Night supervision",
    state_open: "New", state_acknowledged: "Taken", state_on_site: "On site", state_closed: "Closed",
    video_calls: "Video calls with relatives", visiting_hours: "Visiting hours", relative_name: "Relative",
    valid_days: "Valid (days)", invite_relative: "Invite", status: "Status", expires: "Valid until",
    invited_by: "Invited by", revoke: "Revoke", invitation_valid: "Valid",
    invitation_revoked: "Revoked", invitation_expired: "Expired",
    invite_link_once: "The link is shown only now: print the QR code or send the link to the relative.",
    save: "Save", saved: "Saved",
  },
};

let current = "sv";

export function setLanguage(lang) {
  current = STRINGS[lang] ? lang : "sv";
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
}

export function language() {
  return current;
}

export function t(key, params = {}) {
  const text = STRINGS[current][key] ?? STRINGS.sv[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}
