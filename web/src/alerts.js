// Alerts: the rules (admin: create a webhook rule and see its secret once,
// delete), fired alerts, dead letters with replay (admin) and the event log.
// Refreshed every 5 s while open.
import { api } from "./api.js";
import { h, field, status } from "./dom.js";

const eventTypes = [
  "io.geotrack.geofence.entered", "io.geotrack.geofence.exited", "io.geotrack.geofence.dwelled",
  "io.geotrack.trip.started", "io.geotrack.trip.ended", "io.geotrack.stop.started", "io.geotrack.stop.ended",
];
const refreshMs = 5000;
const shown = 100;

// newest reads up to 10 pages of an oldest-first listing since from and
// returns the last n, newest first.
async function newest(name, key, query, n, signal) {
  let items = [];
  let cursor = "";
  for (let i = 0; i < 10; i++) {
    const page = await api(name, { ...query, limit: 1000, cursor }, { signal });
    items = items.concat(page[key] || []);
    cursor = page.next || "";
    if (!cursor) break;
  }
  return items.slice(-n).reverse();
}

export function alertsView(panel, ctx) {
  const admin = ctx.user.admin;
  const rulesBox = h("section", { id: "rules", "aria-labelledby": "rules-h" });
  const firedBox = h("section", { id: "fired", "aria-labelledby": "fired-h" });
  const deadBox = h("section", { id: "dead", "aria-labelledby": "dead-h" });
  const logBox = h("section", { id: "eventlog", "aria-labelledby": "eventlog-h" });
  panel.append(h("h2", {}, "Alerts"), rulesBox, firedBox, deadBox, logBox);
  const controller = new AbortController();
  const signal = controller.signal;
  let timer = 0;
  ctx.onCleanup(() => { controller.abort(); clearTimeout(timer); });

  function ruleForm() {
    const name = field("Rule name", { id: "rule-name", required: true, maxlength: 200 });
    const url = field("Webhook URL", { id: "rule-url", type: "url", required: true, placeholder: "https://…" });
    const devices = field("Devices", { id: "rule-devices" }, "Comma-separated ids; empty: every device");
    const on = h("fieldset", { id: "rule-on" }, h("legend", {}, "On events"),
      eventTypes.map((t, i) => h("label", { class: "check" },
        h("input", { type: "checkbox", value: t, checked: i === 0 }), " " + t.replace("io.geotrack.", ""))));
    const secretBox = h("div", { id: "rule-secret", "aria-live": "assertive" });
    const form = h("form", { id: "rule-form", onsubmit: async (e) => {
      e.preventDefault();
      const types = [...on.querySelectorAll("input:checked")].map((i) => i.value);
      if (!types.length) {
        status("Pick at least one event type.", "error");
        return;
      }
      const rule = { name: name.input.value.trim(), on: types, webhook: { url: url.input.value.trim() } };
      const ids = devices.input.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (ids.length) rule.devices = ids;
      try {
        const r = await api("rules", {}, { method: "POST", body: rule });
        // The only time the secret is shown: the listing never has it.
        secretBox.replaceChildren(h("p", {}, "Webhook secret of ", h("strong", {}, rule.name), " — copy it now, it is not shown again:"),
          h("code", { class: "secret", tabindex: 0 }, r.secret));
        form.reset();
        refreshRules();
      } catch (err) {
        status(err.message, "error");
      }
    } }, h("h4", {}, "New webhook rule"), name.el, url.el, devices.el, on, h("button", { type: "submit", id: "rule-create" }, "Create rule"));
    return [form, secretBox];
  }

  const rulesList = h("ul", { class: "rows", id: "rules-list" });
  async function refreshRules() {
    try {
      const r = await api("rules", {}, { signal });
      rulesList.replaceChildren(...r.rules.map((rule) => h("li", { "data-rule": rule.id },
        h("strong", {}, rule.name), " ", h("span", {}, rule.on.map((t) => t.replace("io.geotrack.", "")).join(", ")),
        " → ", h("span", { class: "url" }, rule.webhook.url),
        h("button", { type: "button", class: "link danger", onclick: async () => {
          if (!confirm(`Delete rule ${rule.name}?`)) return;
          try {
            await api("rules", { id: rule.id }, { method: "DELETE" });
            refreshRules();
          } catch (err) {
            status(err.message, "error");
          }
        } }, "Delete"))));
      if (!r.rules.length) rulesList.replaceChildren(h("li", {}, "No rules yet."));
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
    }
  }
  if (admin) {
    rulesBox.append(h("h3", { id: "rules-h" }, "Rules"), rulesList, ...ruleForm());
    refreshRules();
  } else {
    rulesBox.append(h("h3", { id: "rules-h" }, "Rules"), h("p", {}, "Rules are managed with an admin token."));
  }

  const firedList = h("ul", { class: "rows", id: "fired-list" });
  const deadList = h("ul", { class: "rows", id: "dead-list" });
  const logList = h("ul", { class: "rows", id: "eventlog-list" });
  firedBox.append(h("h3", { id: "fired-h" }, "Fired alerts (last 24 h)"), firedList);
  deadBox.append(h("h3", { id: "dead-h" }, "Dead letters"), deadList);
  logBox.append(h("h3", { id: "eventlog-h" }, "Event log (last 24 h)"), logList);

  const alertRow = (a, replay) => h("li", { "data-alert": a.id, class: a.state },
    h("time", { datetime: a.fired_at }, new Date(a.fired_at).toLocaleString()), " ",
    h("strong", {}, a.name), ` · ${a.kind} · ${a.device} · ${a.state}`,
    a.last_error ? h("span", { class: "error" }, " · " + a.last_error) : null,
    replay && admin ? h("button", { type: "button", class: "link", onclick: async () => {
      try {
        await api("alerts", { replay: a.id }, { method: "POST" });
        status(`Replaying ${a.id}.`);
        refresh();
      } catch (err) {
        status(err.message, "error");
      }
    } }, "Replay") : null);

  async function refresh() {
    const from = new Date(Date.now() - 24 * 3600e3).toISOString();
    try {
      const [fired, dead, events] = await Promise.all([
        newest("alerts", "alerts", { from }, shown, signal),
        newest("alerts", "alerts", { dead: "true" }, shown, signal),
        newest("events", "events", { from }, shown, signal),
      ]);
      firedList.replaceChildren(...(fired.length ? fired.map((a) => alertRow(a, a.state === "delivered")) : [h("li", {}, "No alert fired.")]));
      deadList.replaceChildren(...(dead.length ? dead.map((a) => alertRow(a, true)) : [h("li", {}, "No dead letters.")]));
      logList.replaceChildren(...(events.length ? events.map((e) => h("li", { "data-event": e.id },
        h("time", { datetime: e.time }, new Date(e.time).toLocaleString()), " ",
        h("strong", {}, e.type.replace("io.geotrack.", "")), " · ", e.subject || "",
        e.data && e.data.name ? " · " + e.data.name : "")) : [h("li", {}, "No events.")]));
      document.body.dataset.alertsRefreshed = String(Date.now());
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
    }
    if (!signal.aborted) timer = setTimeout(refresh, refreshMs);
  }
  refresh();
}
