// Preferences: the tenant's defaults or one device's overrides (tracking
// on/paused, report interval, edge filter, privacy zones drawn on the map),
// saved through the preferences function (admin). Keys the form does not
// show (trips, retention, other filter keys) are kept as they were.
import L from "leaflet";
import { api } from "./api.js";
import { h, field, status } from "./dom.js";

export function preferencesView(panel, ctx, [deviceArg = ""]) {
  const admin = ctx.user.admin;
  const zonesLayer = L.layerGroup().addTo(ctx.layer);
  const which = field("Device", { id: "prefs-device", value: deviceArg, autocomplete: "off" }, "Empty: the tenant's defaults");
  const pick = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); load(); } },
    which.el, h("button", { type: "submit", id: "prefs-load" }, "Open"));
  const body = h("div", { id: "prefs-body" });
  panel.append(h("h2", {}, "Preferences"), pick, body);
  let picking = null;
  let controller = null;
  ctx.onCleanup(() => {
    if (picking) ctx.map.off("click", picking);
    if (controller) controller.abort();
  });

  async function load() {
    const device = which.input.value.trim();
    // An answer to an older question (another device, or a view left) is
    // dropped: it would draw and fit that device's zones.
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    const movesAtLoad = ctx.userMoves();
    let doc;
    try {
      doc = await api("preferences", { device }, { signal });
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
      return;
    }
    if (signal.aborted) return;
    render(device, doc.preferences || {}, doc.version, movesAtLoad);
  }

  function render(device, prefs, version, movesAtLoad) {
    const num = (v) => (v === undefined || v === null ? "" : v);
    const tracking = field("Tracking", { id: "prefs-tracking", tag: "select", disabled: !admin, options: [
      h("option", { value: "" }, device ? "inherit" : "on (default)"), h("option", { value: "on" }, "on"), h("option", { value: "paused" }, "paused")] });
    tracking.input.value = prefs.tracking || "";
    const interval = field("Report interval (s)", { id: "prefs-interval", type: "number", min: 1, max: 86400, disabled: !admin, value: num(prefs.report?.interval_s) });
    const displacement = field("Report displacement (m)", { id: "prefs-displacement", type: "number", min: 0, max: 100000, disabled: !admin, value: num(prefs.report?.displacement_m) });
    const minInterval = field("Edge filter: minimum interval (s)", { id: "prefs-min-interval", type: "number", min: 0, disabled: !admin, value: num(prefs.filter?.min_interval_s) });
    const epsilon = field("Edge filter: simplification tolerance (m)", { id: "prefs-epsilon", type: "number", min: 0, disabled: !admin, value: num(prefs.filter?.epsilon_m) });
    const zones = (prefs.privacy_zones || []).map((z) => ({ ...z }));
    const zoneList = h("ul", { class: "rows", id: "zone-list" });

    function drawZones() {
      zonesLayer.clearLayers();
      for (const z of zones) {
        L.circle([z.lat, z.lon], { radius: z.radius_m, color: "#7d5260", dashArray: "4" }).bindTooltip("privacy zone " + z.name).addTo(zonesLayer);
      }
      zoneList.replaceChildren(...zones.map((z, i) => h("li", {},
        h("strong", {}, z.name), ` ${z.lat.toFixed(5)}, ${z.lon.toFixed(5)}, ${Math.round(z.radius_m)} m`,
        admin ? h("button", { type: "button", class: "link danger", onclick: () => { zones.splice(i, 1); drawZones(); } }, "Remove") : null)));
      if (!zones.length) zoneList.replaceChildren(h("li", {}, "No privacy zones."));
      if (zones.length) ctx.fit(L.featureGroup(zonesLayer.getLayers()).getBounds().pad(0.5), 15, movesAtLoad);
    }

    const zoneName = field("Zone name", { id: "zone-name", maxlength: 64, value: "home" });
    const zoneRadius = field("Zone radius (m)", { id: "zone-radius", type: "number", min: 1, max: 100000, value: 150 });
    const addZone = h("button", { type: "button", id: "zone-add", onclick: () => {
      if (picking) ctx.map.off("click", picking);
      ctx.map.getContainer().classList.add("drawing");
      status("Click the zone's centre on the map.");
      picking = (e) => {
        ctx.map.off("click", picking);
        picking = null;
        ctx.map.getContainer().classList.remove("drawing");
        zones.push({ name: zoneName.input.value.trim() || "zone", lat: +e.latlng.lat.toFixed(6), lon: +e.latlng.lng.toFixed(6), radius_m: +zoneRadius.input.value || 150 });
        drawZones();
      };
      ctx.map.on("click", picking);
    } }, "Draw a zone on the map");

    const save = async (e) => {
      e.preventDefault();
      const next = { ...prefs };
      const set = (obj, key, input) => {
        if (input.value === "") delete obj[key];
        else obj[key] = +input.value;
      };
      if (tracking.input.value) next.tracking = tracking.input.value;
      else delete next.tracking;
      next.report = { ...(prefs.report || {}) };
      set(next.report, "interval_s", interval.input);
      set(next.report, "displacement_m", displacement.input);
      if (!Object.keys(next.report).length) delete next.report;
      next.filter = { ...(prefs.filter || {}) };
      set(next.filter, "min_interval_s", minInterval.input);
      set(next.filter, "epsilon_m", epsilon.input);
      if (!Object.keys(next.filter).length) delete next.filter;
      if (zones.length) next.privacy_zones = zones;
      else delete next.privacy_zones;
      try {
        const r = await api("preferences", { device }, { method: "PUT", body: next });
        status(`Saved preferences of ${device || "the tenant"}` + (r && r.version ? ` (version ${r.version}).` : "."));
        load();
      } catch (err) {
        status(err.message, "error");
      }
    };
    body.replaceChildren(h("form", { id: "prefs-form", onsubmit: save },
      h("h3", {}, device ? `Device ${device}` : "Tenant defaults", version ? ` (version ${version})` : ""),
      tracking.el, interval.el, displacement.el, minInterval.el, epsilon.el,
      h("fieldset", {}, h("legend", {}, "Privacy zones"), zoneList, admin ? [zoneName.el, zoneRadius.el, addZone] : null),
      admin ? h("button", { type: "submit", id: "prefs-save" }, "Save") : h("p", {}, "Viewers see preferences; an admin token changes them.")));
    drawZones();
  }
  load();
}
