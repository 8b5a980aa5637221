// The resident's room screen (kiosk). Opened as /ui/screen.html#token=<screen token>;
// the token is kept in localStorage so the kiosk survives restarts.
import { VideoCall, camera, pageSocket } from "/ui/rtc.js";

const TEXTS = {
  sv: {
    call_staff: "Ring personalen", curtains_open: "Öppna gardinerna", curtains_close: "Stäng gardinerna",
    today: "I dag", call_from: "Samtal från", answer: "Svara", decline: "Avvisa", hang_up: "Lägg på",
    no_token: "Den här skärmen är inte ansluten. Be personalen om hjälp.",
    sending: "Larmet skickas …", called: "Personalen är kallad", acknowledged: "Personalen har sett ditt larm",
    acknowledged_by: "har sett ditt larm", on_site: "Personalen är hos dig", on_site_by: "är hos dig",
    nothing_planned: "Inget inplanerat", been: "✓ klart",
    offline: "Skärmen har tappat kontakten. Försöker igen …",
    curtains_failed: "Gardinerna svarar inte. Ring personalen om du behöver hjälp.",
    curtains_opening: "Gardinerna öppnas …", curtains_closing: "Gardinerna stängs …",
    curtains_opened: "Gardinerna går upp", curtains_closed: "Gardinerna går ner",
    from: "Från", ended: "Samtalet är slut",
    parts: ["natt", "morgon", "förmiddag", "eftermiddag", "kväll"],
    actions: { open: "gardinerna öppnas", close: "gardinerna stängs", lock: "dörren låses",
      unlock: "dörren låses upp", show_message: "meddelande", set_night_mode: "nattläge" },
  },
  en: {
    call_staff: "Call staff", curtains_open: "Open curtains", curtains_close: "Close curtains",
    today: "Today", call_from: "Call from", answer: "Answer", decline: "Decline", hang_up: "Hang up",
    no_token: "This screen is not connected. Ask staff for help.",
    sending: "Calling staff …", called: "Staff have been called", acknowledged: "Staff have seen your call",
    acknowledged_by: "has seen your call", on_site: "Staff are with you", on_site_by: "is with you",
    nothing_planned: "Nothing planned", been: "✓ done",
    offline: "The screen lost its connection. Trying again …",
    curtains_failed: "The curtains do not answer. Call staff if you need help.",
    curtains_opening: "Opening the curtains …", curtains_closing: "Closing the curtains …",
    curtains_opened: "The curtains are opening", curtains_closed: "The curtains are closing",
    from: "From", ended: "The call has ended",
    parts: ["night", "morning", "late morning", "afternoon", "evening"],
    actions: { open: "curtains open", close: "curtains close", lock: "door locks",
      unlock: "door unlocks", show_message: "message", set_night_mode: "night mode" },
  },
};
const lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "sv";
const T = TEXTS[lang];
const locale = lang === "sv" ? "sv-SE" : "en-GB";
const $ = (id) => document.getElementById(id);

let zone = "Europe/Stockholm";
let nightWindow = "22:00-06:00";
let iceServers = [];
let screenState = {};
let call = null;
let callId = null;
let helpPress = null; // the press waiting for the controller's confirmation
let helpRetry = null;
let planItems = [];
let curtainTimer = null;
// A past plan item stays, marked "✓ klart", this long; older ones are hidden.
const PAST_SHOWN_MS = 60 * 60 * 1000;
// How long "Gardinerna går upp" stays after the curtains answered.
const CURTAIN_SHOWN_MS = 8000;

function token() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    localStorage.setItem("tryggbo-screen-token", hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem("tryggbo-screen-token");
}

function localParts(date) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat(locale, {
    timeZone: zone, weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date)) parts[p.type] = p.value;
  return parts;
}

function partOfDay(hour) {
  if (hour < 5) return T.parts[0];
  if (hour < 9) return T.parts[1];
  if (hour < 12) return T.parts[2];
  if (hour < 18) return T.parts[3];
  if (hour < 22) return T.parts[4];
  return T.parts[0];
}

function minutes(hhmm) { const [h, m] = hhmm.split(":").map(Number); return h * 60 + m; }

function inNight(hour, minute) {
  const [from, to] = nightWindow.split("-").map(minutes);
  const now = hour * 60 + minute;
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

export function timeText(date) {
  const p = localParts(date);
  return `${p.hour}.${p.minute}`; // Swedish 24-hour time: 14.30
}

let lastMinute = "";

function tick() {
  const now = new Date();
  const p = localParts(now);
  $("clock").textContent = `${p.hour}.${p.minute}`;
  $("date").textContent = `${p.weekday} ${p.day} ${p.month}`;
  const night = inNight(Number(p.hour), Number(p.minute)) || !!screenState.night_mode;
  $("part-of-day").textContent = night ? T.parts[0] : partOfDay(Number(p.hour));
  const quiet = (screenState.call || "idle") === "idle" && $("help-status").hidden;
  // at night only the clock, "natt", a staff message and the call button
  document.body.classList.toggle("night-view", night);
  document.body.classList.toggle("night", night && quiet); // never dim a call or a help call
  if (`${p.hour}.${p.minute}` !== lastMinute) { // once a minute: past items, a message's end
    lastMinute = `${p.hour}.${p.minute}`;
    renderPlan(planItems);
    renderMessage();
  }
}

function showHelp(kind, text) {
  const box = $("help-status");
  box.hidden = !kind;
  box.className = `help-status ${kind || ""}`;
  box.dataset.state = kind || "";
  box.textContent = text || "";
  tick();
}

/** The staff's message until its end time (the daemon clears it then too). */
function renderMessage() {
  const msg = screenState.message;
  const shown = !!msg && !(msg.until && new Date(msg.until) <= new Date());
  $("message").hidden = !shown;
  $("message-text").textContent = shown ? msg.text : "";
  $("message-from").textContent = shown && msg.from ? `${T.from}: ${msg.from}` : "";
}

function renderState(state) {
  screenState = state || {};
  renderMessage();
  const ringing = screenState.call === "ringing";
  $("incoming").hidden = !ringing;
  $("caller").textContent = screenState.caller || "";
  if (ringing) callId = screenState.call_id;
  if (screenState.call === "idle" && call) endCall();
  $("in-call").hidden = screenState.call !== "active" && !call;
  tick();
}

/** Today's plan: a past item is marked "✓ klart" for an hour, then hidden. */
function renderPlan(items) {
  planItems = items;
  const now = Date.now();
  const list = $("plan");
  list.replaceChildren();
  const shown = items.filter((item) => !item.at || new Date(item.at).getTime() > now - PAST_SHOWN_MS);
  if (!shown.length) {
    const li = document.createElement("li");
    li.textContent = T.nothing_planned;
    list.append(li);
  }
  for (const item of shown) {
    const li = document.createElement("li");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = item.at ? timeText(new Date(item.at)) : T.today;
    li.append(time, document.createTextNode(item.what || T.actions[item.action] || item.action));
    if (item.at && new Date(item.at).getTime() <= now) {
      li.className = "past";
      const mark = document.createElement("span");
      mark.className = "been";
      mark.textContent = T.been;
      li.append(" ", mark);
    }
    list.append(li);
  }
}

/** What the curtains are doing: pressed (waiting), moving, or not answering. */
function showCurtain(kind, text) {
  clearTimeout(curtainTimer);
  const box = $("curtain-status");
  box.hidden = !kind;
  box.dataset.state = kind || "";
  box.className = `curtain-status ${kind || ""}`;
  box.textContent = text || "";
  const busy = kind === "pending";
  for (const id of ["curtains-open", "curtains-close"]) {
    $(id).disabled = busy;
    $(id).setAttribute("aria-busy", String(busy));
  }
  if (kind === "moving" || kind === "failed") curtainTimer = setTimeout(() => showCurtain(null), CURTAIN_SHOWN_MS);
}

function endCall() {
  if (call) call.close();
  call = null;
  $("in-call").hidden = true;
}

const credential = token();
if (!credential) {
  $("no-token").hidden = false;
} else {
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = T[el.dataset.t];
  document.documentElement.lang = lang;
  const sock = pageSocket("/api/screen/ws", credential, {
    onOpen() { $("link-status").hidden = true; if (helpPress) sendHelp(); },
    onClose() { $("link-status").hidden = false; $("link-status").textContent = T.offline; },
    onRefused(msg) { $("no-token").hidden = false; $("no-token").dataset.code = msg.code; },
    onMessage(msg) { handle(msg); },
  });

  function sendHelp() { sock.send({ type: "help", press: helpPress }); }

  async function handle(msg) {
    switch (msg.type) {
      case "welcome":
        zone = msg.timezone; nightWindow = msg.night_window; iceServers = msg.ice_servers || [];
        document.body.dataset.apartment = msg.apartment;
        tick();
        break;
      case "state": renderState(msg.data); break;
      case "plan": renderPlan(msg.items || []); break;
      case "help_confirmed":
        if (helpPress && msg.presses.includes(helpPress)) {
          helpPress = null;
          clearInterval(helpRetry);
          $("call-staff").disabled = false;
        }
        renderHelp(msg, true);
        break;
      case "help_status": renderHelp(msg, false); break;
      case "call_start":
        callId = msg.call_id;
        $("incoming").hidden = true;
        $("in-call").hidden = false;
        break;
      case "signal":
        if (call && msg.call_id === callId) await call.signal(msg.data);
        break;
      case "ended": // also a call that failed or was never the daemon's: clear it
        endCall();
        $("incoming").hidden = true;
        break;
      case "curtain":
        if (msg.ok) showCurtain("moving", msg.action === "open" ? T.curtains_opened : T.curtains_closed);
        else showCurtain("failed", T.curtains_failed);
        break;
      default: break;
    }
  }

  function renderHelp(msg, confirmed) {
    if (helpPress) return; // still waiting for our own press
    const state = msg.alarm_state;
    if (state === "acknowledged") showHelp("acknowledged", msg.acked_by ? `${msg.acked_by} ${T.acknowledged_by}` : T.acknowledged);
    else if (state === "on_site") showHelp("on-site", msg.on_site_by ? `${msg.on_site_by} ${T.on_site_by}` : T.on_site);
    else if (state === "open" || confirmed) showHelp("confirmed", T.called);
    else showHelp(null);
  }

  $("call-staff").addEventListener("click", () => {
    helpPress = helpPress || (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    $("call-staff").disabled = true;
    showHelp("sending", T.sending);
    sendHelp();
    clearInterval(helpRetry);
    helpRetry = setInterval(sendHelp, 2000); // until the controller confirms
  });
  function curtains(action) {
    if (!sock.send({ type: "curtain", action })) { showCurtain("failed", T.curtains_failed); return; }
    showCurtain("pending", action === "open" ? T.curtains_opening : T.curtains_closing);
  }
  $("curtains-open").addEventListener("click", () => curtains("open"));
  $("curtains-close").addEventListener("click", () => curtains("close"));
  document.body.addEventListener("pointerdown", () => sock.send({ type: "touch" }), { passive: true });

  $("accept").addEventListener("click", async () => {
    const id = callId;
    $("incoming").hidden = true;
    $("in-call").hidden = false;
    const mine = new VideoCall({
      iceServers,
      sendSignal: (data) => sock.send({ type: "signal", call_id: id, data }),
      localVideo: $("local-video"), remoteVideo: $("remote-video"),
      onState: (s) => {
        $("call-state").dataset.state = s;
        if (s === "failed" && call === mine) { sock.send({ type: "hangup", call_id: id }); endCall(); }
      },
    });
    call = mine;
    try {
      await mine.addMedia(await camera());
    } catch (err) { // no camera or microphone: the call cannot be taken
      if (call === mine) endCall();
      sock.send({ type: "decline", call_id: id });
      return;
    }
    if (call !== mine) return; // ended while the camera started
    if (!sock.send({ type: "accept", call_id: id })) { // not connected: it still rings
      endCall();
      $("incoming").hidden = screenState.call !== "ringing";
    }
  });
  $("decline").addEventListener("click", () => sock.send({ type: "decline", call_id: callId }));
  $("hangup").addEventListener("click", () => {
    sock.send({ type: "hangup", call_id: callId });
    endCall();
  });

  setInterval(tick, 1000);
  setInterval(() => sock.send({ type: "plan" }), 5 * 60 * 1000);
  tick();
}
