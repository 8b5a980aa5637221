// Swedish by default, English per user. Keys are short; strings are the UI's words.
export const STRINGS = {
  sv: {
    username: "Användarnamn", password: "Lösenord", sign_in: "Logga in", sign_out: "Logga ut",
    bad_credentials: "Fel användarnamn eller lösenord.",
    locked: "Kontot är låst efter för många försök. Försök igen om {minutes} min.",
    overview: "Översikt", alarms: "Larm", audit: "Logg", live: "Live", reconnecting: "Återansluter…",
    floor: "Våning {floor}", wing: "Flygel {wing}", apartment: "Lägenhet {number}",
    online: "Ansluten", offline: "Ingen kontakt", stale: "Tyst för länge", unknown: "Okänt",
    lock: "Lås", unlock: "Lås upp", open: "Öppna", close: "Stäng",
    reason: "Orsak", reason_other: "Fritext (krävs för Annan orsak)", other_reason: "Annan orsak", cancel: "Avbryt",
    confirm_unlock: "Lås upp dörren", sending: "Skickar…",
    outcome_ok: "Klart – bekräftat av enheten.", outcome_rejected: "Nekat av enheten: {error}",
    outcome_failed: "Misslyckades: {error}", outcome_timeout: "Inget svar från enheten – utfallet är okänt.",
    outcome_offline: "Ej ansluten – inget skickades till enheten.", outcome_error: "Fel: {error}",
    last_events: "Senaste händelser", no_alarms: "Inga aktiva larm.", take: "Ta larmet",
    on_site: "På plats", close_alarm: "Avsluta", comment: "Kommentar", note: "Anteckning",
    acked_by: "Kvitterat av {who}", on_site_by: "På plats: {who}", escalated: "Eskalerat ×{n}",
    alarm_help: "Hjälplarm", alarm_night_door: "Dörr öppnad nattetid", alarm_jammed: "Låset har fastnat",
    alarm_unknown_state: "Låsets läge okänt", alarm_offline: "Ingen kontakt med enheten",
    alarm_battery_low: "Lågt batteri", alarm_fire: "Brandlarm",
    who: "Vem", when: "När", what: "Vad", why: "Varför", outcome: "Utfall", filter: "Filtrera",
    person: "Person", from: "Från", to: "Till", export_csv: "Exportera CSV", all: "Alla",
    language: "Språk", back: "Tillbaka", night_supervised: "Nattillsyn",
    state_open: "Okvitterat", state_acknowledged: "Kvitterat", state_on_site: "På plats", state_closed: "Avslutat",
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
    // --- the overview, states, times (issue 17 items 4, 6) ---
    as_usual: "Som vanligt", device_no_contact: "{device}: ingen kontakt",
    just_now: "nyss", minutes_ago: "för {n} min sedan", hours_ago: "för {n} h sedan", days_ago: "för {n} d sedan",
    outcome_ok_unlock: "Klart – dörren är upplåst.", outcome_ok_lock: "Klart – dörren är låst.",
    // the site's unlock reasons (site file: unlock_reasons), and "other: <text>"
    "reason.care visit": "Omvårdnad", "reason.emergency": "Akut", "reason.technician": "Tekniker",
    "reason.resident request": "Den boende bad om det", "reason.other": "Annan orsak",
    // events every device type has (a type's own: ui/labels/{type}.toml)
    event_booted: "Startade", event_updated: "Programvaran uppdaterad", event_update_failed: "Uppdateringen misslyckades",
    // the log's "Vad": what a person did
    act_signin: "Loggade in", act_signout: "Loggade ut", act_password_change: "Bytte lösenord",
    act_password_reset: "Återställde lösenord för {subject}", act_user_add: "Lade till användaren {subject}",
    act_user_update: "Ändrade användaren {subject}", act_refused: "Nekades: {subject}",
    act_alarm_ack: "Kvitterade larm {subject}", act_alarm_on_site: "På plats vid larm {subject}",
    act_alarm_close: "Avslutade larm {subject}", act_schedule_create: "Skapade ett schema",
    act_schedule_update: "Ändrade ett schema", act_schedule_delete: "Tog bort ett schema",
    act_schedule_pause: "Pausade ett schema", act_schedule_resume: "Återupptog ett schema",
    act_schedule_take_over: "Tog över ett schema", act_remote_command: "Schemalade ett kommando",
    act_invitation_created: "Bjöd in en anhörig", act_invitation_revoked: "Återkallade en inbjudan",
    act_visiting_hours: "Ändrade besökstider", act_firmware_upload: "Laddade upp programvara",
    act_resident_export: "Tog ut den boendes uppgifter", act_retention: "Gallrade gamla loggar",
    act_command: "{action} – {device}",
    outcome_ok_short: "Klart", outcome_failed_short: "Misslyckades", outcome_conflict: "Redan hanterat", outcome_refused: "Nekat", outcome_partial: "Delvis", outcome_held: "Undantag",
    outcome_missed: "Missat", outcome_timeout_short: "Inget svar",
    cmd_ping: "Kontrollera kontakt", cmd_identify: "Identifiera", cmd_reboot: "Starta om",
    cmd_update_firmware: "Uppdatera programvara", cmd_ring: "Ring upp", cmd_end_call: "Lägg på",
    // server errors, by code (the error contract's `code`; `details` are the parameters)
    error_unknown: "Något gick fel ({code}). Försök igen eller kontakta ansvarig.",
    error_http: "Något gick fel (HTTP {status}). Försök igen.",
    error_network: "Ingen kontakt med servern. Kontrollera nätverket och försök igen.",
    error_forbidden: "Du har inte behörighet till det här.",
    error_forbidden_command: "Du får inte styra lägenhet {apartment}: den hör inte till dina avdelningar.",
    error_forbidden_alarm: "Du får inte hantera det här larmet i lägenhet {apartment}.",
    error_forbidden_apartment: "Lägenhet {apartment} hör inte till dina avdelningar.",
    error_bad_body: "Uppgifterna är inte kompletta eller inte giltiga.",
    error_bad_json: "Uppgifterna kunde inte läsas.", error_bad_query: "Sökningen är inte giltig.",
    error_bad_request: "Uppgifterna är inte giltiga.", error_bad_schedule: "Schemat är inte giltigt: se nedan.",
    error_bad_reason: "Ange en orsak. Vid Annan orsak behövs en fritext.",
    error_bad_visiting_hours: "Besökstiderna är inte giltiga.", error_bad_session: "Du är utloggad. Logga in igen.",
    error_unauthenticated: "Du är utloggad. Logga in igen.", error_csrf: "Sidan är för gammal. Ladda om sidan.",
    error_store_unavailable: "Det gick inte att spara just nu. Försök igen om en stund.",
    error_unknown_alarm: "Larmet finns inte längre.", error_unknown_apartment: "Lägenheten finns inte.",
    error_unknown_device: "Enheten finns inte.", error_unknown_schedule: "Schemat finns inte längre.",
    error_unknown_user: "Användaren finns inte.", error_unknown_invitation: "Inbjudan finns inte.",
    error_alarm_state: "Larmet har redan hanterats av någon annan.",
    error_weak_password: "Lösenordet är för svagt.", error_user_exists: "Användaren finns redan.",
    error_bad_current_password: "Det nuvarande lösenordet stämmer inte.", error_bad_user: "Uppgifterna om användaren är inte giltiga.",
    error_body_timeout: "Det tog för lång tid att skicka uppgifterna. Försök igen.", error_empty: "Filen är tom.",
    error_internal: "Ett fel uppstod i systemet. Försök igen; kontakta ansvarig om det upprepas.",
    error_no_session: "Ingen inloggning i webbläsaren.", error_self_lockout: "Du kan inte stänga av dig själv eller ta bort din egen administratörsroll.",
    error_too_large: "Filen är för stor.", error_too_many_connections: "För många öppna anslutningar. Stäng några flikar och försök igen.",
    error_undeclared_route: "Den här funktionen är inte tillgänglig.", error_unknown_entry: "Raden finns inte längre.",
    error_unknown_image: "Programfilen finns inte.", error_unsupported_media_type: "Uppgifterna skickades i fel format.",
    error_bad_report_period: "Perioden är inte giltig.",
    error_no_such_chart: "Diagrammet finns inte.", error_report_too_large: "Perioden är för lång för en rapport.",
    field_problem: "Kontrollera: {field}",
    days_every: "Varje dag", no_visiting_hours: "Inga besökstider", add_window: "Lägg till tid",
    remove: "Ta bort", target_pick: "Välj",
    at_time: "kl. {time}", rule_sunset_text: "vid solnedgång{offset} (annars kl. {fallback})",
    rule_sunrise_text: "vid soluppgång{offset} (annars kl. {fallback})", schedule_problem: "Schemat kan inte köras: kontrollera mål och åtgärd.",
  },
  en: {
    username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    bad_credentials: "Wrong username or password.",
    locked: "The account is locked after too many attempts. Try again in {minutes} min.",
    overview: "Overview", alarms: "Alarms", audit: "Log", live: "Live", reconnecting: "Reconnecting…",
    floor: "Floor {floor}", wing: "Wing {wing}", apartment: "Apartment {number}",
    online: "Connected", offline: "No contact", stale: "Silent too long", unknown: "Unknown",
    lock: "Lock", unlock: "Unlock", open: "Open", close: "Close",
    reason: "Reason", reason_other: "Free text (needed for Other reason)", other_reason: "Other reason", cancel: "Cancel",
    confirm_unlock: "Unlock the door", sending: "Sending…",
    outcome_ok: "Done – confirmed by the device.", outcome_rejected: "Refused by the device: {error}",
    outcome_failed: "Failed: {error}", outcome_timeout: "No answer from the device – outcome unknown.",
    outcome_offline: "The device is not connected – nothing was sent.", outcome_error: "Error: {error}",
    last_events: "Last events", no_alarms: "No active alarms.", take: "Take alarm",
    on_site: "On site", close_alarm: "Close", comment: "Comment", note: "Note",
    acked_by: "Acknowledged by {who}", on_site_by: "On site: {who}", escalated: "Escalated ×{n}",
    alarm_help: "Help call", alarm_night_door: "Door opened at night", alarm_jammed: "Lock jammed",
    alarm_unknown_state: "Lock state unknown", alarm_offline: "No contact with the device",
    alarm_battery_low: "Battery low", alarm_fire: "Fire alarm",
    who: "Who", when: "When", what: "What", why: "Why", outcome: "Outcome", filter: "Filter",
    person: "Person", from: "From", to: "To", export_csv: "Export CSV", all: "All",
    language: "Language", back: "Back", night_supervised: "Night supervision",
    state_open: "Not acknowledged", state_acknowledged: "Acknowledged", state_on_site: "On site", state_closed: "Closed",
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
    // --- the overview, states, times (issue 17 items 4, 6) ---
    as_usual: "As usual", device_no_contact: "{device}: no contact",
    just_now: "just now", minutes_ago: "{n} min ago", hours_ago: "{n} h ago", days_ago: "{n} d ago",
    outcome_ok_unlock: "Done – the door is unlocked.", outcome_ok_lock: "Done – the door is locked.",
    "reason.care visit": "Care visit", "reason.emergency": "Emergency", "reason.technician": "Technician",
    "reason.resident request": "Resident's request", "reason.other": "Other reason",
    event_booted: "Started", event_updated: "Software updated", event_update_failed: "Update failed",
    act_signin: "Signed in", act_signout: "Signed out", act_password_change: "Changed password",
    act_password_reset: "Reset the password of {subject}", act_user_add: "Added the user {subject}",
    act_user_update: "Changed the user {subject}", act_refused: "Refused: {subject}",
    act_alarm_ack: "Acknowledged alarm {subject}", act_alarm_on_site: "On site at alarm {subject}",
    act_alarm_close: "Closed alarm {subject}", act_schedule_create: "Created a schedule",
    act_schedule_update: "Changed a schedule", act_schedule_delete: "Deleted a schedule",
    act_schedule_pause: "Paused a schedule", act_schedule_resume: "Resumed a schedule",
    act_schedule_take_over: "Took over a schedule", act_remote_command: "Scheduled a command",
    act_invitation_created: "Invited a relative", act_invitation_revoked: "Revoked an invitation",
    act_visiting_hours: "Changed visiting hours", act_firmware_upload: "Uploaded firmware",
    act_resident_export: "Exported a resident's records", act_retention: "Removed old logs",
    act_command: "{action} – {device}",
    outcome_ok_short: "Done", outcome_failed_short: "Failed", outcome_conflict: "Already handled", outcome_refused: "Refused", outcome_partial: "Partly", outcome_held: "Held",
    outcome_missed: "Missed", outcome_timeout_short: "No answer",
    cmd_ping: "Check contact", cmd_identify: "Identify", cmd_reboot: "Restart",
    cmd_update_firmware: "Update firmware", cmd_ring: "Ring", cmd_end_call: "Hang up",
    error_unknown: "Something went wrong ({code}). Try again or contact the person in charge.",
    error_http: "Something went wrong (HTTP {status}). Try again.",
    error_network: "No contact with the server. Check the network and try again.",
    error_forbidden: "You are not allowed to do this.",
    error_forbidden_command: "You may not control apartment {apartment}: it is not in your wings.",
    error_forbidden_alarm: "You may not handle this alarm in apartment {apartment}.",
    error_forbidden_apartment: "Apartment {apartment} is not in your wings.",
    error_bad_body: "The details are incomplete or not valid.",
    error_bad_json: "The details could not be read.", error_bad_query: "The search is not valid.",
    error_bad_request: "The details are not valid.", error_bad_schedule: "The schedule is not valid: see below.",
    error_bad_reason: "Give a reason. Other reason needs a free text.",
    error_bad_visiting_hours: "The visiting hours are not valid.", error_bad_session: "You are signed out. Sign in again.",
    error_unauthenticated: "You are signed out. Sign in again.", error_csrf: "The page is too old. Reload it.",
    error_store_unavailable: "Could not save just now. Try again in a moment.",
    error_unknown_alarm: "The alarm no longer exists.", error_unknown_apartment: "No such apartment.",
    error_unknown_device: "No such device.", error_unknown_schedule: "The schedule no longer exists.",
    error_unknown_user: "No such user.", error_unknown_invitation: "No such invitation.",
    error_alarm_state: "Someone else has already handled the alarm.",
    error_weak_password: "The password is too weak.", error_user_exists: "The user already exists.",
    error_bad_current_password: "The current password is wrong.", error_bad_user: "The user's details are not valid.",
    error_body_timeout: "Sending the details took too long. Try again.", error_empty: "The file is empty.",
    error_internal: "An error occurred in the system. Try again; contact the person in charge if it happens again.",
    error_no_session: "No browser sign-in.", error_self_lockout: "You cannot disable yourself or remove your own admin role.",
    error_too_large: "The file is too large.", error_too_many_connections: "Too many open connections. Close some tabs and try again.",
    error_undeclared_route: "This function is not available.", error_unknown_entry: "The entry no longer exists.",
    error_unknown_image: "No such firmware file.", error_unsupported_media_type: "The details were sent in the wrong format.",
    error_bad_report_period: "The period is not valid.",
    error_no_such_chart: "No such chart.", error_report_too_large: "The period is too long for one report.",
    field_problem: "Check: {field}",
    days_every: "Every day", no_visiting_hours: "No visiting hours", add_window: "Add a time",
    remove: "Remove", target_pick: "Choose",
    at_time: "at {time}", rule_sunset_text: "at sunset{offset} (else at {fallback})",
    rule_sunrise_text: "at sunrise{offset} (else at {fallback})", schedule_problem: "The schedule cannot run: check its target and action.",
  },
};

let current = "sv";

export function setLanguage(lang) {
  current = STRINGS[lang] ? lang : "sv";
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
}

/** Add texts for a language (each device type's labels: devices.js). */
export function addStrings(lang, strings) {
  STRINGS[lang] = { ...(STRINGS[lang] ?? {}), ...strings };
}

export function language() {
  return current;
}

/** Whether a text exists for `key` (in the current language or Swedish). */
export function has(key) {
  return key in STRINGS[current] || key in STRINGS.sv;
}

/** A server's error answer (`{status, data}` from api.js) as a sentence in the
 *  page's language: `error_<code>_<refusal>` when the details say why, else
 *  `error_<code>`, with the details as parameters; an unknown code gets the general
 *  text naming it. Never the server's English message. */
export function errorText(resp) {
  const err = resp?.data?.error;
  if (!err) return t("error_http", { status: resp?.status ?? "" });
  const details = err.details && typeof err.details === "object" && !Array.isArray(err.details) ? err.details : {};
  const key = [details.refusal && `error_${err.code}_${details.refusal}`, `error_${err.code}`].find((k) => k && has(k));
  return key ? t(key, details) : t("error_unknown", { code: err.code });
}

export function t(key, params = {}) {
  const text = STRINGS[current][key] ?? STRINGS.sv[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}
