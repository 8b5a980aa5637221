// Device types as the server declares them (GET /api/device-types, from
// devices/contract/types/): the one place that draws a device's state and controls.
// A new device type is drawn by registering it; nothing here names a type.
import { api } from "/ui/api.js";
import { addStrings, t } from "/ui/i18n.js";
import { escapeHtml } from "/ui/format.js";

const types = new Map(); // type name -> its description, in the registry's order

export async function loadDeviceTypes() {
  const resp = await api("GET", "/api/device-types");
  if (!resp.ok) return;
  for (const spec of resp.data.types) {
    types.set(spec.type, spec);
    for (const [lang, labels] of Object.entries(spec.labels)) {
      const mine = {};
      for (const [key, text] of Object.entries(labels)) {
        mine[`${spec.type}.${key}`] = text;
        // an alarm kind's label is the alarm list's too
        if (key.startsWith("alarm_")) mine[key] = text;
      }
      addStrings(lang, mine);
    }
  }
}

function label(type, key) {
  return t(`${type}.${key}`);
}

/** The apartment's devices in the registry's type order. */
export function devicesInOrder(apt) {
  const order = [...types.keys()];
  return [...apt.devices].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

let batteryLow = 15; // the site's battery_low_percent (GET /api/site)

/** The site's threshold under which a `low` percent (a battery) stands out. */
export function setBatteryLow(percent) {
  if (Number.isFinite(percent)) batteryLow = percent;
}

function fieldText(type, field, value) {
  if (value === null || value === undefined) return "";
  if (field.kind === "percent" && field.ends) {
    if (value === 0 || value === 100) return escapeHtml(label(type, `${field.name}_${value}`));
    return escapeHtml(t(`${type}.${field.name}_pct`, { n: value }));
  }
  if (field.kind === "percent") return `${label(type, `field_${field.name}`)} ${value}\u00a0%`;
  if (field.kind === "text") {
    const text = typeof value === "object" ? value.text : value;
    return text ? `“${escapeHtml(text)}”` : "";
  }
  const key = field.kind === "bool" ? String(Boolean(value)) : String(value);
  return escapeHtml(label(type, `${field.name}_${key}`));
}

function dataValue(value) {
  if (value !== null && typeof value === "object") return "";
  return escapeHtml(String(value ?? ""));
}

/** Whether a field's value is the normal state, drawn quietly (the type declares it). */
function isQuiet(field, value) {
  if (value === null || value === undefined) return true;
  if (field.quiet.includes("*")) return true;
  if (field.kind === "percent") return !field.low || value >= batteryLow;
  const key = field.kind === "bool" ? String(Boolean(value)) : String(value);
  return field.quiet.includes(key);
}

/** Whether the device is not as its last command left it (the action's `sets`, with
 *  `{arg}` its argument), once it is no longer busy carrying it out: a curtain moved
 *  by hand or stuck. */
function notAsOrdered(spec, twin) {
  const desired = twin?.desired;
  const state = twin?.state;
  const sets = desired?.action ? spec.actions[desired.action]?.sets : null;
  if (!state || !sets || !Object.keys(sets).length) return false;
  if (Object.entries(spec.busy ?? {}).some(([f, values]) => values.includes(state[f]))) return false;
  return Object.entries(sets).some(([f, want]) => {
    const value = typeof want === "string" ? want.replace(/^\{(\w+)\}$/, (_, a) => desired.args?.[a]) : want;
    return String(state[f]) !== String(value);
  });
}

/** The exceptions of a device, as texts: each field not in its normal state, not as
 *  its last command left it, and no contact (offline or silent). Empty when all is as
 *  it should be. */
export function exceptions(entry, twin) {
  const spec = types.get(entry.type);
  if (!spec) return [];
  const out = [];
  const reach = twin?.availability ?? "unknown";
  if (reach === "offline" || reach === "stale") out.push(t("device_no_contact", { device: label(entry.type, "label") }));
  const state = twin?.state;
  if (!state) return out;
  if (notAsOrdered(spec, twin)) {
    out.push({ html: escapeHtml(t("device_not_as_ordered", { device: label(entry.type, "label") })), field: "ordered" });
  }
  for (const f of spec.fields) {
    if (isQuiet(f, state[f.name])) continue;
    const text = fieldText(entry.type, f, state[f.name]);
    if (text) out.push({ html: text, field: f.name });
  }
  return out;
}

/** A device's `<dt>`/`<dd>`: its type's label, then each declared field's text; the
 *  `<dd>` (class the type, `data-<field>` each value; `id` when given) is what tests
 *  and styles select. `compact` (the overview): only the exceptions, else a quiet dot. */
export function deviceCell(entry, twin, { id = "", availability = false, compact = false } = {}) {
  const spec = types.get(entry.type);
  if (!spec) return "";
  const state = twin?.state;
  const data = spec.fields.map((f) => ` data-${f.name}="${state ? dataValue(state[f.name]) : "unknown"}"`).join("");
  let parts;
  let quiet = false;
  if (compact) {
    parts = exceptions(entry, twin).map((e) => (typeof e === "string"
      ? `<span class="exc" data-field="reach">${escapeHtml(e)}</span>`
      : `<span class="exc" data-field="${e.field}">${e.html}</span>`));
    quiet = parts.length === 0;
    if (quiet) parts = [`<span class="ok-dot" aria-hidden="true"></span><span class="visually-hidden">${escapeHtml(t("as_usual"))}</span>`];
  } else {
    parts = state
      ? spec.fields.map((f) => {
        const text = fieldText(entry.type, f, state[f.name]);
        return text ? `<span data-field="${f.name}" title="${escapeHtml(label(entry.type, `field_${f.name}`))}">${text}</span>` : "";
      }).filter(Boolean)
      : [escapeHtml(t("unknown"))];
    if (availability) parts.push(escapeHtml(t(twin?.availability ?? "unknown")));
  }
  return `<dt${compact ? ' class="visually-hidden"' : ""}>${escapeHtml(label(entry.type, "label"))}</dt>`
    + `<dd class="${escapeHtml(entry.type)}${quiet ? " quiet" : ""}"${id ? ` id="${escapeHtml(id)}"` : ""} data-device="${escapeHtml(entry.id)}"${data}>${parts.join(compact ? " " : " · ")}</dd>`;
}

/** Whether the signed-in person may send `action` to a device of the apartment: what
 *  the server said (`may` of each device in GET /api/site), never a rule of our own. */
export function mayCommand(apt, action) {
  return apt.devices.some((d) => (d.may ?? []).includes(action));
}

function inputHtml(type, control, input) {
  const id = `in-${control.action}-${input.arg}`;
  const name = escapeHtml(label(type, `arg_${input.arg}`));
  if (input.kind === "sender") return "";
  if (input.kind === "number") {
    return `<label>${name} <input type="number" id="${id}"${input.min !== null ? ` min="${input.min}"` : ""}${input.max !== null ? ` max="${input.max}"` : ""}${input.default !== null ? ` value="${escapeHtml(input.default)}"` : ""}></label>`;
  }
  const kind = input.kind === "datetime" ? "datetime-local" : "text";
  return `<label>${name} <input type="${kind}" id="${id}"${input.max_length ? ` maxlength="${input.max_length}"` : ""}></label>`;
}

/** One fieldset per device that has controls; buttons `btn-<action>`. */
export function controlsHtml(apt) {
  return devicesInOrder(apt).map((entry) => {
    const spec = types.get(entry.type);
    const allowed = (spec?.controls ?? []).filter((c) => (entry.may ?? []).includes(c.action));
    if (!allowed.length) return "";
    const body = allowed.map((c) => c.inputs.map((i) => inputHtml(entry.type, c, i)).join("")
      + `<button type="button" id="btn-${c.action}"${c.danger ? ' class="danger"' : ""}>${escapeHtml(label(entry.type, `action_${c.action}`))}</button>`).join("\n");
    return `<fieldset data-device="${escapeHtml(entry.id)}"><legend>${escapeHtml(label(entry.type, "label"))}</legend>${body}</fieldset>`;
  }).join("");
}

/** The args of a control from its inputs; null (after a message) when one is missing. */
function argsOf(control, me) {
  const args = {};
  for (const input of control.inputs) {
    if (input.kind === "sender") { args[input.arg] = me.display_name || me.username; continue; }
    const raw = document.getElementById(`in-${control.action}-${input.arg}`).value.trim();
    if (!raw) {
      if (input.required) return null;
      continue;
    }
    if (input.kind === "number") args[input.arg] = Number(raw);
    else if (input.kind === "datetime") args[input.arg] = new Date(raw).toISOString();
    else args[input.arg] = raw;
  }
  return args;
}

/** Wire each control: `send(device, action, args, button)`; a control that asks a
 *  reason calls `askReason(device, action)` instead. */
export function bindControls(apt, me, send, askReason, onMissing) {
  for (const entry of apt.devices) {
    for (const control of types.get(entry.type)?.controls ?? []) {
      const button = document.getElementById(`btn-${control.action}`);
      if (!button) continue;
      button.onclick = () => {
        if (control.ask_reason) { askReason(entry, control.action); return; }
        const args = argsOf(control, me);
        if (args === null) { onMissing(label(entry.type, `action_${control.action}`)); return; }
        send(entry.id, control.action, args, button);
      };
    }
  }
}

/** The first control of the apartment that asks for a reason and that the person may
 *  use, as [device, action]. */
export function reasonControl(apt) {
  for (const entry of devicesInOrder(apt)) {
    const control = types.get(entry.type)?.controls.find((c) => c.ask_reason && (entry.may ?? []).includes(c.action));
    if (control) return [entry, control.action];
  }
  return null;
}

/** Label of a device type's action (the reason dialog's title). */
export function actionLabel(type, action) {
  return label(type, `action_${action}`);
}

/** The argument a schedule's form asks for (an action's one property), or null. */
function scheduleArg(args) {
  const props = Object.entries(args.properties ?? {});
  if (!props.length) return null;
  const [name, schema] = props[0];
  const plain = schema.anyOf ? schema.anyOf.find((s) => s.type !== "null") : schema;
  return {
    name, bool: plain.type === "boolean", min: plain.minimum, max: plain.maximum,
    required: (args.required ?? []).includes(name),
  };
}

/** Actions a schedule may run: each type's own actions that hold a device (no
 *  maintenance, no call ring), with at most one number or yes/no argument; as
 *  `{name, arg, label}`, labelled "type: action". */
export function scheduleActions() {
  const out = new Map();
  for (const [type, spec] of types) {
    for (const [name, action] of Object.entries(spec.actions)) {
      const props = Object.values(action.args.properties ?? {});
      if (action.maintenance || !action.held || props.length > 1 || out.has(name)) continue;
      const arg = scheduleArg(action.args);
      if (props.length && !arg.bool && !["integer", "number"].includes(
        (props[0].anyOf ?? [props[0]]).find((s) => s.type !== "null").type)) continue;
      out.set(name, { name, arg, label: `${label(type, "label")}: ${label(type, `action_${name}`)}` });
    }
  }
  return [...out.values()];
}
