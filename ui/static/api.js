// Talking to the daemon: JSON over HTTP with the session cookie and CSRF header,
// and the live WebSocket with reconnect.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 401) {
    location.href = "/ui/login.html";
    throw new ApiError(401, null);
  }
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  return { status: resp.status, ok: resp.ok, data };
}

export function connectLive(onMessage, onStatus) {
  let delay = 250;
  let socket = null;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/ws`);
    socket.addEventListener("open", () => { delay = 250; onStatus(true); });
    socket.addEventListener("message", (ev) => {
      const msg = JSON.parse(ev.data);  // a burst comes as one "batch" of messages
      (msg.type === "batch" ? msg.data : [msg]).forEach(onMessage);
    });
    socket.addEventListener("close", () => {
      onStatus(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    });
  };
  open();
  return () => socket?.close();
}
