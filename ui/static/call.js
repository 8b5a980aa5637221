// A relative's video call page: /ui/call.html#t=<invitation link token>.
// The token is only ever sent to /api/calls/invitation and /api/calls/ws.
// Swedish or English: ?lang=sv|en, else the browser's language, and a button to switch.
import { VideoCall, camera, pageSocket } from "/ui/rtc.js";

const TEXTS = {
  sv: {
    title: "Tryggbo – videosamtal", other_language: "English", call_with: "Videosamtal med", call: "Ring",
    hang_up: "Lägg på", link_broken: "Länken fungerar inte",
    open_now: "Det är besökstid nu: du kan ringa.",
    closed_now: "Det är inte besökstid nu, så du kan inte ringa. Nästa besökstid: {when}.",
    no_next: "ingen inom en vecka", at: "kl.",
    ringing: "Det ringer hos {who} …", refused_hours: "Samtal går bara under besökstid. Nästa besökstid: {when}.",
    busy: "Skärmen är upptagen just nu. Försök igen om en stund.",
    no_answer_screen: "Skärmen svarar inte just nu. Försök igen senare.",
    connecting: "Samtalet kopplas …", connected: "Samtalet pågår",
    declined: "Samtalet besvarades inte den här gången.", nobody: "Ingen svarade.", ended: "Samtalet är avslutat.",
    link_lost: "Förbindelsen bröts.", calling: "Ringer upp …", no_connection: "Ingen förbindelse. Försök igen.",
    already_calling: "Du ringer redan.", went_wrong: "Något gick fel. Försök igen.",
    refusals: {
      invitation_expired: ["Länken har gått ut", "Inbjudan gäller inte längre. Be personalen om en ny länk."],
      invitation_revoked: ["Länken är återkallad", "Personalen har dragit tillbaka inbjudan. Be dem om en ny länk."],
      invitation_invalid: ["Länken fungerar inte", "Länken är ogiltig. Kontrollera att hela länken kom med."],
      throttled: ["För många försök", "För många ogiltiga länkar har prövats härifrån. Vänta en stund och försök igen."],
    },
  },
  en: {
    title: "Tryggbo – video call", other_language: "Svenska", call_with: "Video call with", call: "Call",
    hang_up: "Hang up", link_broken: "The link does not work",
    open_now: "It is visiting hours now: you can call.",
    closed_now: "It is not visiting hours now, so you cannot call. Next visiting hours: {when}.",
    no_next: "none within a week", at: "at",
    ringing: "Calling {who} …", refused_hours: "Calls are only possible during visiting hours. Next visiting hours: {when}.",
    busy: "The screen is busy right now. Try again in a while.",
    no_answer_screen: "The screen does not answer right now. Try again later.",
    connecting: "Connecting the call …", connected: "The call is on",
    declined: "The call was not answered this time.", nobody: "Nobody answered.", ended: "The call has ended.",
    link_lost: "The connection was lost.", calling: "Calling …", no_connection: "No connection. Try again.",
    already_calling: "You are already calling.", went_wrong: "Something went wrong. Try again.",
    refusals: {
      invitation_expired: ["The link has expired", "The invitation is no longer valid. Ask the staff for a new link."],
      invitation_revoked: ["The link was revoked", "The staff have withdrawn the invitation. Ask them for a new link."],
      invitation_invalid: ["The link does not work", "The link is not valid. Check that the whole link came along."],
      throttled: ["Too many attempts", "Too many invalid links were tried from here. Wait a while and try again."],
    },
  },
};

function chosenLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "sv" || asked === "en") return asked;
  const preferred = (navigator.languages || [navigator.language || "sv"]).map((l) => l.slice(0, 2));
  const first = preferred.find((l) => l === "sv" || l === "en");
  return first || "sv";
}

let lang = chosenLanguage();
let T = TEXTS[lang];
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("t") || "";
let info = null;
let call = null;
let callId = null;
let sock = null;
let lastStatus = null; // [key, params, kind]: redrawn when the language changes
let refusal = null;

function fill(text, params = {}) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

function applyLanguage() {
  T = TEXTS[lang];
  document.documentElement.lang = lang;
  document.title = T.title;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = T[el.dataset.t];
  $("lang-toggle").textContent = T.other_language;
  $("lang-toggle").lang = lang === "sv" ? "en" : "sv";
  if (info) renderVisiting(info.visiting);
  if (lastStatus) status(...lastStatus);
  if (refusal) refuse(...refusal);
}

function refuse(code, message) {
  refusal = [code, message];
  const [title, text] = T.refusals[code] || [T.link_broken, message || ""];
  $("refusal-title").textContent = title;
  $("refusal-text").textContent = text;
  $("refusal").hidden = false;
  $("refusal").dataset.code = code;
  $("lobby").hidden = true;
  endCall();
}

function when(iso) {
  const d = new Date(iso);
  const parts = {};
  const locale = lang === "sv" ? "sv-SE" : "en-GB";
  for (const p of new Intl.DateTimeFormat(locale, { timeZone: info.timezone, weekday: "long", day: "numeric",
    month: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(d)) parts[p.type] = p.value;
  const clock = lang === "sv" ? `${parts.hour}.${parts.minute}` : `${parts.hour}:${parts.minute}`;
  return `${parts.weekday} ${parts.day} ${parts.month} ${T.at} ${clock}`;
}

/** Visiting hours: outside them "Ring" looks inactive and the reason is beside it. A
 * press still asks the daemon, which decides (the page may be out of date). */
function renderVisiting(v) {
  info.visiting = v;
  $("visiting").dataset.open = v.open;
  $("visiting").textContent = v.open
    ? T.open_now
    : fill(T.closed_now, { when: v.next_open ? when(v.next_open) : T.no_next });
  $("call").setAttribute("aria-disabled", String(!v.open));
}

function status(key, params, kind) {
  lastStatus = [key, params, kind];
  $("status").textContent = key ? fill(T[key], params) : "";
  $("status").className = `status ${kind || ""}`;
  $("status").dataset.kind = kind || "";
}

function endCall() {
  if (call) call.close();
  call = null;
  $("in-call").hidden = true;
  document.body.classList.remove("in-call");
  $("call").disabled = false;
}

async function handle(msg) {
  switch (msg.type) {
    case "welcome": renderVisiting(msg.visiting); break;
    case "ringing": callId = msg.call_id; status("ringing", { who: info.resident }, "ringing"); break;
    case "refused":
      $("call").disabled = false;
      if (msg.code === "outside_visiting_hours") {
        status("refused_hours", { when: msg.next_open ? when(msg.next_open) : "–" }, "refused");
        $("status").dataset.nextOpen = msg.next_open || "";
        renderVisiting({ ...info.visiting, open: false, next_open: msg.next_open || null });
      } else if (msg.code === "busy") status("busy", {}, "refused");
      else status("no_answer_screen", {}, "refused");
      break;
    case "accepted":
      status("connecting", {}, "connecting");
      $("in-call").hidden = false;
      document.body.classList.add("in-call"); // the video and "Lägg på" fill the screen
      call = new VideoCall({
        iceServers: info.ice_servers,
        sendSignal: (data) => sock.send({ type: "signal", call_id: callId, data }),
        localVideo: $("local-video"), remoteVideo: $("remote-video"),
        onState: (s) => { $("call-state").dataset.state = s; if (s === "connected") status("connected", {}, "connected"); },
      });
      await call.addMedia(await camera());
      await call.offer();
      break;
    case "signal": if (call) await call.signal(msg.data); break;
    case "declined": status("declined", {}, "declined"); endCall(); break;
    case "ended":
      status(msg.by === "no_answer" ? "nobody" : "ended", {}, "ended");
      endCall();
      break;
    case "error": // the daemon's message is English for its log: say it in the page's words
      status(msg.code === "busy" ? "already_calling" : "went_wrong", {}, "refused");
      $("status").dataset.code = msg.code || "";
      $("call").disabled = false;
      break;
    default: break;
  }
}

/** Read the invitation again (visiting hours open and close while the page is open). */
async function refresh() {
  const resp = await fetch("/api/calls/invitation", { headers: { "X-Invitation": token, Accept: "application/json" } });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    refuse(body?.error?.code || "invitation_invalid", body?.error?.message);
    return null;
  }
  return body;
}

async function start() {
  applyLanguage();
  $("lang-toggle").addEventListener("click", () => { lang = lang === "sv" ? "en" : "sv"; applyLanguage(); });
  info = await refresh();
  if (!info) return;
  $("resident").textContent = info.resident;
  renderVisiting(info.visiting);
  $("lobby").hidden = false;
  sock = pageSocket("/api/calls/ws", token, {
    onMessage: handle,
    onRefused: (msg) => refuse(msg.code, msg.message),
    onClose: () => { if (call) { status("link_lost", {}, "ended"); endCall(); } },
  });
  $("call").addEventListener("click", () => {
    $("call").disabled = true;
    status("calling", {}, "calling");
    if (!sock.send({ type: "call" })) { status("no_connection", {}, "refused"); $("call").disabled = false; }
  });
  $("hangup").addEventListener("click", () => {
    sock.send({ type: "hangup" });
    status("ended", {}, "ended");
    endCall();
  });
  setInterval(async () => {
    if (call || !$("refusal").hidden) return;
    const fresh = await refresh();
    if (fresh) renderVisiting(fresh.visiting);
  }, 60 * 1000);
}

start();
