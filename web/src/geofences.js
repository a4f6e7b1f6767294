// Geofences: the tenant's fences on the map and in a list; admins draw new
// ones (polygons or circles), edit and delete them, saved through the
// geofences function.
import L from "leaflet";
import { api } from "./api.js";
import { h, field, status } from "./dom.js";
import { Drawing } from "./draw.js";

export function geofencesView(panel, ctx) {
  const admin = ctx.user.admin;
  const fencesLayer = L.layerGroup().addTo(ctx.layer);
  const list = h("ul", { id: "fence-list", class: "rows" });
  const editor = h("div", { id: "fence-editor" });
  panel.append(h("h2", {}, "Geofences"), list, editor);
  let fences = [];
  // Leaving the view drops the reads still on the way.
  const controller = new AbortController();
  const signal = controller.signal;

  async function refresh() {
    try {
      fences = [];
      let cursor = "";
      do {
        const page = await api("geofences", { limit: 1000, cursor }, { signal });
        fences = fences.concat(page.features || []);
        cursor = page.next || "";
      } while (cursor && fences.length < 10000);
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
      return;
    }
    if (signal.aborted) return;
    fencesLayer.clearLayers();
    for (const f of fences) {
      const g = f.geometry;
      const style = { color: "#6750a4", weight: 2, fillOpacity: 0.15 };
      const shape = g.type === "Point"
        ? L.circle([g.coordinates[1], g.coordinates[0]], { ...style, radius: f.properties.radius_m })
        : L.geoJSON(f, { style });
      shape.bindTooltip(f.properties.name).addTo(fencesLayer);
      if (admin) shape.on("click", () => edit(f));
    }
    list.replaceChildren(...fences.map((f) => h("li", { "data-fence": f.id },
      h("strong", {}, f.properties.name), " ",
      h("span", {}, f.geometry.type === "Point" ? `circle ${Math.round(f.properties.radius_m)} m` : f.geometry.type.toLowerCase()),
      f.properties.dwell_s ? h("span", {}, ` · dwell ${f.properties.dwell_s} s`) : null,
      admin ? h("button", { type: "button", class: "link", onclick: () => edit(f) }, "Edit") : null)));
    if (!fences.length) list.replaceChildren(h("li", {}, "No fences yet."));
  }

  let drawing = null;
  function edit(fence) {
    if (drawing) drawing.stop(), drawing.group.remove();
    const props = fence ? fence.properties : {};
    const name = field("Name", { id: "fence-name", value: props.name || "", required: true, maxlength: 200 });
    const dwell = field("Dwell (s)", { id: "fence-dwell", type: "number", min: 0, value: props.dwell_s ?? "" }, "Seconds inside before a dwelled event; empty: none");
    const devices = field("Devices", { id: "fence-devices", value: (props.devices || []).join(", ") }, "Comma-separated ids; empty: every device");
    const kind = field("Shape", { id: "fence-kind", tag: "select", options: [h("option", { value: "polygon" }, "Polygon"), h("option", { value: "circle" }, "Circle")] });
    const radius = field("Radius (m)", { id: "fence-radius", type: "number", min: 1, max: 100000, value: props.radius_m || 200 });
    const coords = field("Corners", { id: "fence-coords", tag: "textarea", rows: 5, spellcheck: "false" }, "Click the map to add corners (a circle: its centre), or type one \"lat, lon\" per line");
    drawing = new Drawing(ctx.map, ctx.layer, (text) => { coords.input.value = text; });
    if (fence) {
      const g = fence.geometry;
      if (g.type === "Point") drawing.set("circle", [[g.coordinates[1], g.coordinates[0]]], props.radius_m);
      else if (g.type === "Polygon") drawing.set("polygon", g.coordinates[0].slice(0, -1).map(([lon, lat]) => [lat, lon]));
      kind.input.value = drawing.kind;
      coords.input.value = drawing.text();
    }
    const syncKind = () => {
      radius.el.hidden = kind.input.value !== "circle";
      drawing.stop();
      drawing.kind = kind.input.value;
      drawing.clear();
      drawing.start(kind.input.value);
    };
    kind.input.addEventListener("change", syncKind);
    radius.el.hidden = kind.input.value !== "circle";
    radius.input.addEventListener("input", () => drawing.setRadius(+radius.input.value || 1));
    coords.input.addEventListener("change", () => {
      const err = drawing.fromText(coords.input.value);
      if (err) status(err, "error");
    });
    drawing.start(kind.input.value);

    const save = async (e) => {
      e.preventDefault();
      const shape = drawing.geometry();
      if (shape.error) {
        status(shape.error, "error");
        return;
      }
      const properties = { name: name.input.value.trim() };
      if (dwell.input.value !== "") properties.dwell_s = +dwell.input.value;
      const ids = devices.input.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (ids.length) properties.devices = ids;
      if (shape.radius_m) properties.radius_m = shape.radius_m;
      const feature = { type: "Feature", properties, geometry: shape.geometry };
      try {
        if (fence) await api("geofences", { id: fence.id }, { method: "PUT", body: feature, contentType: "application/geo+json" });
        else await api("geofences", {}, { method: "POST", body: feature, contentType: "application/geo+json" });
        status(`Saved fence ${properties.name}.`);
        close();
        refresh();
      } catch (err) {
        status(err.message, "error");
      }
    };
    const remove = async () => {
      if (!confirm(`Delete fence ${props.name}?`)) return;
      try {
        await api("geofences", { id: fence.id }, { method: "DELETE" });
        status(`Deleted fence ${props.name}.`);
        close();
        refresh();
      } catch (err) {
        status(err.message, "error");
      }
    };
    editor.replaceChildren(h("form", { onsubmit: save, id: "fence-form" },
      h("h3", {}, fence ? `Edit ${props.name}` : "New fence"),
      name.el, dwell.el, devices.el, kind.el, radius.el, coords.el,
      h("div", { class: "buttons" },
        h("button", { type: "submit", id: "fence-save" }, "Save"),
        h("button", { type: "button", onclick: () => drawing.clear() }, "Clear shape"),
        fence ? h("button", { type: "button", class: "danger", onclick: remove }, "Delete") : null,
        h("button", { type: "button", onclick: close }, "Cancel"))));
    name.input.focus();
  }

  function close() {
    if (drawing) {
      drawing.stop();
      drawing.group.remove();
      drawing = null;
    }
    editor.replaceChildren(admin ? h("button", { type: "button", id: "fence-new", onclick: () => edit(null) }, "New fence")
      : h("p", {}, "Viewers see fences; an admin token edits them."));
  }

  ctx.onCleanup(() => {
    controller.abort();
    if (drawing) drawing.stop();
  });
  close();
  refresh();
}
