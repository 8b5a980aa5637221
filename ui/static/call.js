// A relative's video call page: /ui/call.html#t=<invitation link token>.
// The token is only ever sent to /api/calls/invitation and /api/calls/ws.
import { VideoCall, camera, pageSocket } from "/ui/rtc.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("t") || "";
let info = null;
let call = null;
let callId = null;
let sock = null;

const REFUSALS = {
  invitation_expired: ["Länken har gått ut", "Inbjudan gäller inte längre. Be personalen om en ny länk."],
  invitation_revoked: ["Länken är återkallad", "Personalen har dragit tillbaka inbjudan. Be dem om en ny länk."],
  invitation_invalid: ["Länken fungerar inte", "Länken är ogiltig. Kontrollera att hela länken kom med."],
  throttled: ["För många försök", "För många ogiltiga länkar har prövats härifrån. Vänta en stund och försök igen."],
};

function refuse(code, message) {
  const [title, text] = REFUSALS[code] || ["Länken fungerar inte", message || ""];
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
  for (const p of new Intl.DateTimeFormat("sv-SE", { timeZone: info.timezone, weekday: "long", day: "numeric",
    month: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(d)) parts[p.type] = p.value;
  return `${parts.weekday} ${parts.day} ${parts.month} kl. ${parts.hour}.${parts.minute}`;
}

function renderVisiting(v) {
  $("visiting").dataset.open = v.open;
  $("visiting").textContent = v.open
    ? "Det är besökstid nu: du kan ringa."
    : `Det är inte besökstid nu. Nästa möjlighet: ${v.next_open ? when(v.next_open) : "ingen inom en vecka"}.`;
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind || ""}`;
  $("status").dataset.kind = kind || "";
}

function endCall() {
  if (call) call.close();
  call = null;
  $("in-call").hidden = true;
  $("call").disabled = false;
}

async function handle(msg) {
  switch (msg.type) {
    case "welcome": renderVisiting(msg.visiting); break;
    case "ringing": callId = msg.call_id; status("Det ringer hos " + info.resident + " …", "ringing"); break;
    case "refused":
      $("call").disabled = false;
      if (msg.code === "outside_visiting_hours") {
        status(`Samtal går bara under besökstid. Nästa möjlighet: ${msg.next_open ? when(msg.next_open) : "–"}.`, "refused");
        $("status").dataset.nextOpen = msg.next_open || "";
      } else if (msg.code === "busy") status("Skärmen är upptagen just nu. Försök igen om en stund.", "refused");
      else status("Skärmen svarar inte just nu. Försök igen senare.", "refused");
      break;
    case "accepted":
      status("Samtalet kopplas …", "connecting");
      $("in-call").hidden = false;
      call = new VideoCall({
        iceServers: info.ice_servers,
        sendSignal: (data) => sock.send({ type: "signal", call_id: callId, data }),
        localVideo: $("local-video"), remoteVideo: $("remote-video"),
        onState: (s) => { $("call-state").dataset.state = s; if (s === "connected") status("Samtalet pågår", "connected"); },
      });
      await call.addMedia(await camera());
      await call.offer();
      break;
    case "signal": if (call) await call.signal(msg.data); break;
    case "declined": status("Samtalet besvarades inte den här gången.", "declined"); endCall(); break;
    case "ended":
      status(msg.by === "no_answer" ? "Ingen svarade." : "Samtalet är avslutat.", "ended");
      endCall();
      break;
    case "error": status(msg.message, "refused"); $("call").disabled = false; break;
    default: break;
  }
}

async function start() {
  const resp = await fetch("/api/calls/invitation", { headers: { "X-Invitation": token, Accept: "application/json" } });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    refuse(body?.error?.code || "invitation_invalid", body?.error?.message);
    return;
  }
  info = body;
  $("resident").textContent = info.resident;
  renderVisiting(info.visiting);
  $("lobby").hidden = false;
  sock = pageSocket("/api/calls/ws", token, {
    onMessage: handle,
    onRefused: (msg) => refuse(msg.code, msg.message),
    onClose: () => { if (call) { status("Förbindelsen bröts.", "ended"); endCall(); } },
  });
  $("call").addEventListener("click", () => {
    $("call").disabled = true;
    status("Ringer upp …", "calling");
    if (!sock.send({ type: "call" })) { status("Ingen förbindelse. Försök igen.", "refused"); $("call").disabled = false; }
  });
  $("hangup").addEventListener("click", () => {
    sock.send({ type: "hangup" });
    status("Samtalet är avslutat.", "ended");
    endCall();
  });
}

start();
