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
    schedules: "Scheman", new_schedule: "Nytt schema", name: "Namn", target: "Gäller",
    target_apartment: "Lägenhet", target_wing: "Flygel", target_floor: "Våning", target_device: "Enhet",
    target_type: "Enhetstyp", target_site: "Hela huset", action: "Åtgärd", value: "Värde", rule: "Regel",
    rule_daily: "Varje dag", rule_weekdays: "Vissa veckodagar", rule_sunset: "Vid solnedgång",
    rule_sunrise: "Vid soluppgång", rule_once: "En gång", rule_cron: "Cron-uttryck", time: "Tid",
    weekdays: "Veckodagar", wd_mon: "mån", wd_tue: "tis", wd_wed: "ons", wd_thu: "tor", wd_fri: "fre",
    wd_sat: "lör", wd_sun: "sön", offset_minutes: "Förskjutning (min)", fallback_time: "Reservtid (ingen sol)",
    at: "Klockan", cron: "Cron", missed_policy: "Om tiden missas", missed_run_latest: "Kör senaste (inom 1 h)",
    missed_skip: "Hoppa över", create: "Skapa", next_firing: "Nästa gång", owner: "Ägare", paused: "Pausat",
    no_next_firing: "Ingen fler gång", pause: "Pausa", resume: "Återuppta", delete: "Ta bort",
    confirm_delete: "Ta bort schemat?", holds: "Personalens undantag", no_holds: "Inga undantag just nu.",
    holds_rule: "Ett kommando från personalen gäller tills enhetens nästa schemalagda händelse.",
    by: "av", remote_command: "Kommando vid en tid", then: "Sedan", after_minutes: "Efter (min)",
    remote_name_hint: "t.ex. sjukgymnast", schedule_it: "Schemalägg", schedule_created: "Schemat är sparat.",
    no_schedules: "Inga scheman.", action_lock: "Lås", action_unlock: "Lås upp", action_open: "Öppna gardin",
    action_close: "Stäng gardin", action_set_position: "Gardinläge (%)", action_set_night_mode: "Nattläge (på/av)",
    action_set_brightness: "Ljusstyrka (%)", action_clear_message: "Ta bort meddelande",
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
    schedules: "Schedules", new_schedule: "New schedule", name: "Name", target: "Applies to",
    target_apartment: "Apartment", target_wing: "Wing", target_floor: "Floor", target_device: "Device",
    target_type: "Device type", target_site: "Whole home", action: "Action", value: "Value", rule: "Rule",
    rule_daily: "Every day", rule_weekdays: "On weekdays", rule_sunset: "At sunset",
    rule_sunrise: "At sunrise", rule_once: "Once", rule_cron: "Cron expression", time: "Time",
    weekdays: "Weekdays", wd_mon: "Mon", wd_tue: "Tue", wd_wed: "Wed", wd_thu: "Thu", wd_fri: "Fri",
    wd_sat: "Sat", wd_sun: "Sun", offset_minutes: "Offset (min)", fallback_time: "Fallback time (no sun)",
    at: "At", cron: "Cron", missed_policy: "If missed", missed_run_latest: "Run the latest (within 1 h)",
    missed_skip: "Skip", create: "Create", next_firing: "Next", owner: "Owner", paused: "Paused",
    no_next_firing: "No further firing", pause: "Pause", resume: "Resume", delete: "Delete",
    confirm_delete: "Delete the schedule?", holds: "Staff holds", no_holds: "No holds now.",
    holds_rule: "A staff command holds until the device's next scheduled event.",
    by: "by", remote_command: "Command at a time", then: "Then", after_minutes: "After (min)",
    remote_name_hint: "e.g. physiotherapist", schedule_it: "Schedule", schedule_created: "The schedule is saved.",
    no_schedules: "No schedules.", action_lock: "Lock", action_unlock: "Unlock", action_open: "Open curtain",
    action_close: "Close curtain", action_set_position: "Curtain position (%)", action_set_night_mode: "Night mode (on/off)",
    action_set_brightness: "Brightness (%)", action_clear_message: "Clear message",
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
