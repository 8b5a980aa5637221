// Swedish by default, English per user. Keys are short; strings are the UI's words.
export const STRINGS = {
  sv: {
    username: "Användarnamn", password: "Lösenord", sign_in: "Logga in", sign_out: "Logga ut",
    bad_credentials: "Fel användarnamn eller lösenord.",
    locked: "Kontot är låst efter för många försök. Försök igen om {minutes} min.",
    overview: "Översikt", alarms: "Larm", audit: "Logg", live: "Live", reconnecting: "Återansluter…",
    floor: "Våning {floor}", wing: "Flygel {wing}", apartment: "Lägenhet {number}",
    online: "Ansluten", offline: "Offline", stale: "Tyst", unknown: "Okänt",
    lock: "Lås", unlock: "Lås upp", open: "Öppna", close: "Stäng",
    reason: "Orsak", reason_other: "Fritext (krävs för Annan orsak)", other_reason: "Annan orsak", cancel: "Avbryt",
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
    todays_plan: "Dagens plan", plan_hint: "Visas på boendes skärm bredvid schemalagda rutiner.",
    during_the_day: "under dagen", add: "Lägg till", nothing_planned: "Inget inplanerat.",
    schedules: "Scheman", new_schedule: "Nytt schema", name: "Namn", target: "Gäller",
    target_apartment: "Lägenhet", target_wing: "Flygel", target_floor: "Våning", target_device: "Enhet",
    target_type: "Enhetstyp", target_site: "Hela huset", action: "Åtgärd", value: "Värde", rule: "Regel",
    rule_daily: "Varje dag", rule_weekdays: "Vissa veckodagar", rule_sunset: "Vid solnedgång",
    rule_sunrise: "Vid soluppgång", rule_once: "En gång", rule_cron: "Cron-uttryck", time: "Tid",
    weekdays: "Veckodagar", wd_mon: "mån", wd_tue: "tis", wd_wed: "ons", wd_thu: "tor", wd_fri: "fre",
    wd_sat: "lör", wd_sun: "sön", offset_minutes: "Förskjutning (min)", fallback_time: "Reservtid (ingen sol)",
    at: "Klockan", cron: "Cron", missed_policy: "Om tiden missas", missed_run_latest: "Kör senaste (inom 1 h)",
    missed_skip: "Hoppa över", create: "Skapa", next_firing: "Nästa gång", owner: "Ägare", paused: "Pausat",
    suspended: "Stoppat", take_over: "Ta över",
    no_next_firing: "Ingen fler gång", pause: "Pausa", resume: "Återuppta", delete: "Ta bort",
    confirm_delete: "Ta bort schemat?", holds: "Personalens undantag", no_holds: "Inga undantag just nu.",
    holds_rule: "Ett kommando från personalen gäller tills enhetens nästa schemalagda händelse.",
    by: "av", remote_command: "Kommando vid en tid", then: "Sedan", after_minutes: "Efter (min)",
    remote_name_hint: "t.ex. sjukgymnast", schedule_it: "Schemalägg", schedule_created: "Schemat är sparat.",
    no_schedules: "Inga scheman.",
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
    online: "Online", offline: "Offline", stale: "Silent", unknown: "Unknown",
    lock: "Lock", unlock: "Unlock", open: "Open", close: "Close",
    reason: "Reason", reason_other: "Free text (needed for Other reason)", other_reason: "Other reason", cancel: "Cancel",
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
    todays_plan: "Today's plan", plan_hint: "Shown on the resident's screen beside the scheduled routines.",
    during_the_day: "during the day", add: "Add", nothing_planned: "Nothing planned.",
    schedules: "Schedules", new_schedule: "New schedule", name: "Name", target: "Applies to",
    target_apartment: "Apartment", target_wing: "Wing", target_floor: "Floor", target_device: "Device",
    target_type: "Device type", target_site: "Whole home", action: "Action", value: "Value", rule: "Rule",
    rule_daily: "Every day", rule_weekdays: "On weekdays", rule_sunset: "At sunset",
    rule_sunrise: "At sunrise", rule_once: "Once", rule_cron: "Cron expression", time: "Time",
    weekdays: "Weekdays", wd_mon: "Mon", wd_tue: "Tue", wd_wed: "Wed", wd_thu: "Thu", wd_fri: "Fri",
    wd_sat: "Sat", wd_sun: "Sun", offset_minutes: "Offset (min)", fallback_time: "Fallback time (no sun)",
    at: "At", cron: "Cron", missed_policy: "If missed", missed_run_latest: "Run the latest (within 1 h)",
    missed_skip: "Skip", create: "Create", next_firing: "Next", owner: "Owner", paused: "Paused",
    suspended: "Suspended", take_over: "Take over",
    no_next_firing: "No further firing", pause: "Pause", resume: "Resume", delete: "Delete",
    confirm_delete: "Delete the schedule?", holds: "Staff holds", no_holds: "No holds now.",
    holds_rule: "A staff command holds until the device's next scheduled event.",
    by: "by", remote_command: "Command at a time", then: "Then", after_minutes: "After (min)",
    remote_name_hint: "e.g. physiotherapist", schedule_it: "Schedule", schedule_created: "The schedule is saved.",
    no_schedules: "No schedules.",
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

/** Add texts for a language (each device type's labels: devices.js). */
export function addStrings(lang, strings) {
  STRINGS[lang] = { ...(STRINGS[lang] ?? {}), ...strings };
}

export function language() {
  return current;
}

export function t(key, params = {}) {
  const text = STRINGS[current][key] ?? STRINGS.sv[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}
