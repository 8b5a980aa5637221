"""The report's words for the export and the charts, in Swedish and English (the page
has its own in ui/static/i18n.js). Kinds and reasons a site adds show as they are."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Larmsvarstider",
        "period": "Period",
        "timezone": "Tidszon",
        "night_window": "Natt",
        "wing": "Flygel",
        "night": "Natt (start)",
        "hours": "Timmar",
        "alarms": "Larm",
        "at_night": "varav natt",
        "taken": "Kvitterat",
        "on_site": "På plats",
        "closed": "Avslutat",
        "median": "median (min)",
        "p90": "90:e percentil (min)",
        "max": "längsta (min)",
        "count": "antal",
        "kind": "Larmtyp",
        "reason": "Orsak",
        "unlocks": "Upplåsningar",
        "escalation_steps": "Obesvarade eskaleringar",
        "alarms_escalated": "Eskalerade larm",
        "never_taken": "Larm som aldrig togs",
        "summary": "Sammanfattning",
        "wings": "Flyglar",
        "nights": "Nätter",
        "kinds": "Larmtyper",
        "minutes": "minuter",
        "no_wing": "utan flygel",
        "all": "Alla",
        "measured": "Tider räknas från larmet till taget, på plats och avslutat.",
    },
    "en": {
        "title": "Alarm response times",
        "period": "Period",
        "timezone": "Time zone",
        "night_window": "Night",
        "wing": "Wing",
        "night": "Night (start)",
        "hours": "Hours",
        "alarms": "Alarms",
        "at_night": "of them at night",
        "taken": "Taken",
        "on_site": "On site",
        "closed": "Closed",
        "median": "median (min)",
        "p90": "90th percentile (min)",
        "max": "longest (min)",
        "count": "count",
        "kind": "Alarm kind",
        "reason": "Reason",
        "unlocks": "Unlocks",
        "escalation_steps": "Unanswered escalations",
        "alarms_escalated": "Escalated alarms",
        "never_taken": "Alarms never taken",
        "summary": "Summary",
        "wings": "Wings",
        "nights": "Nights",
        "kinds": "Alarm kinds",
        "minutes": "minutes",
        "no_wing": "no wing",
        "all": "All",
        "measured": "Times run from the alarm to taken, on site and closed.",
    },
}

#: The alarm kinds' names as the dashboard shows them (ui/static/i18n.js ``alarm_*``;
#: the bed and bathroom sensors' from ui/labels/).
KINDS: dict[str, dict[str, str]] = {
    "sv": {
        "help": "Hjälplarm",
        "night_door": "Dörr öppnad nattetid",
        "fire": "Brandlarm",
        "left_bed": "Lämnat sängen nattetid",
        "long_bathroom_stay": "Lång tid i badrummet nattetid",
        "offline": "Ingen kontakt med enheten",
        "battery_low": "Lågt batteri",
        "jammed": "Låset har fastnat",
        "unknown_state": "Låsets läge okänt",
    },
    "en": {
        "help": "Help call",
        "night_door": "Door opened at night",
        "fire": "Fire alarm",
        "left_bed": "Out of bed at night",
        "long_bathroom_stay": "Long bathroom stay at night",
        "offline": "No contact with the device",
        "battery_low": "Battery low",
        "jammed": "Lock jammed",
        "unknown_state": "Lock state unknown",
    },
}

#: The unlock reasons as the dashboard shows them (ui/static/i18n.js ``reason.*``).
REASONS: dict[str, dict[str, str]] = {
    "sv": {
        "care visit": "Omsorgsbesök",
        "emergency": "Nödläge",
        "technician": "Tekniker",
        "resident request": "Den boendes önskan",
        "other": "Annan orsak",
        "schedule": "Schema",
    },
    "en": {
        "care visit": "Care visit",
        "emergency": "Emergency",
        "technician": "Technician",
        "resident request": "Resident's wish",
        "other": "Other reason",
        "schedule": "Schedule",
    },
}


def kind_name(kind: str, lang: str) -> str:
    return KINDS[lang].get(kind, kind)


def reason_name(reason: str, lang: str) -> str:
    return REASONS[lang].get(reason, reason)
