// Fleet: the latest position of every device, polled once a second with
// position?all=true&since=… (only the devices that moved come back), drawn
// through a Supercluster index (in a worker, cluster-worker.js) so 10,000+
// devices stay a few hundred shapes on the map and the page never waits for
// the index. A cluster is a button (Tab reaches it, Enter or Space zooms
// in); a single device is reached from the list, whose rows are links.
import L from "leaflet";
import { api } from "./api.js";
import { h, age, status } from "./dom.js";

const pollMs = 1000;
// Fixes can reach the store late (an edge node forwarding its backlog);
// asking again for a minute before the newest one seen catches them.
const overlapMs = 60000;
const listRows = 200;

export function fleetView(panel, ctx) {
  const devices = new Map(); // id → fix
  let newest = 0; // ms of the newest fix seen
  let fitted = false;
  const movesAtOpen = ctx.userMoves(); // the first answer fits the map unless the user moved it since
  let centredOn = ""; // the single device the search matched, shown once
  const worker = new Worker("cluster-worker.js");
  let seq = 0;
  const shapes = L.layerGroup().addTo(ctx.layer);

  const search = h("input", { id: "fleet-search", type: "search", placeholder: "device id", autocomplete: "off" });
  const count = h("p", { id: "fleet-count" }, "Loading…");
  const list = h("ul", { id: "fleet-list", class: "rows" });
  panel.append(
    h("h2", {}, "Fleet"),
    h("div", { class: "field" }, h("label", { for: "fleet-search" }, "Search devices"), search),
    count,
    list,
  );
  search.addEventListener("input", () => renderList());

  function renderList() {
    const q = search.value.trim().toLowerCase();
    const now = Date.now();
    const ids = [...devices.keys()].filter((id) => !q || id.toLowerCase().includes(q)).sort();
    count.textContent = `${devices.size} devices` + (q ? `, ${ids.length} match` : "") + (ids.length > listRows ? `, first ${listRows} shown` : "");
    list.replaceChildren(...ids.slice(0, listRows).map((id) => {
      const f = devices.get(id);
      const battery = typeof f.battery === "number" ? Math.round(f.battery * 100) + " %" : "–";
      return h("li", { "data-device": id },
        h("a", { href: "#/device/" + encodeURIComponent(id) }, id),
        h("span", { class: "age", title: f.ts }, "seen " + age(now - Date.parse(f.ts)) + " ago"),
        h("span", { class: "battery" }, "battery " + battery),
        h("span", { class: "coords" }, f.lat.toFixed(5) + ", " + f.lon.toFixed(5)));
    }));
    // A search matching one device shows it, once: the polls that follow
    // redraw the list, they do not take the map back to it.
    if (ids.length === 1 && q) {
      if (centredOn !== ids[0]) {
        centredOn = ids[0];
        const f = devices.get(ids[0]);
        ctx.show([f.lat, f.lon], Math.max(ctx.map.getZoom(), 12));
      }
    } else {
      centredOn = "";
    }
  }

  // renderMap asks the worker for the clusters of the view; the answer
  // to the latest question is drawn.
  function renderMap() {
    const b = ctx.map.getBounds();
    const bbox = [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()), Math.min(85, b.getNorth())];
    worker.postMessage({ type: "clusters", bbox, zoom: Math.round(ctx.map.getZoom()), seq: ++seq });
  }

  worker.onmessage = (e) => {
    if (e.data.seq !== seq) return; // the view moved since
    // The clusters are redrawn as devices move: the keyboard focus goes to
    // the new cluster nearest the one focused (within a cluster's radius).
    const focused = shapes.getLayers().find((m) => m.getElement?.() === document.activeElement);
    const focusedAt = focused ? ctx.map.latLngToContainerPoint(focused.getLatLng()) : null;
    let refocus = null;
    let nearest = 40;
    shapes.clearLayers();
    for (const c of e.data.clusters) {
      if (c.count) {
        const size = 26 + Math.min(24, Math.log10(c.count) * 8);
        const expand = () => ctx.show([c.lat, c.lon], c.expandTo);
        const marker = L.marker([c.lat, c.lon], {
          icon: L.divIcon({ className: "cluster", html: String(c.count), iconSize: [size, size] }),
          keyboard: true, // tabindex 0, role button
          autoPanOnFocus: false, // tabbing through the clusters does not move the map
          title: c.count + " devices",
        }).on("click", expand).addTo(shapes);
        const el = marker.getElement();
        el.setAttribute("aria-label", `${c.count} devices: zoom in`);
        el.addEventListener("keydown", (ev) => {
          if (ev.key !== "Enter" && ev.key !== " ") return;
          ev.preventDefault();
          expand();
        });
        if (focusedAt) {
          const d = ctx.map.latLngToContainerPoint([c.lat, c.lon]).distanceTo(focusedAt);
          if (d < nearest) {
            nearest = d;
            refocus = el;
          }
        }
      } else {
        L.circleMarker([c.lat, c.lon], { radius: 6, color: "#fff", weight: 2, fillColor: "#0b57d0", fillOpacity: 1 })
          .bindTooltip(c.id)
          .on("click", () => { location.hash = "#/device/" + encodeURIComponent(c.id); })
          .addTo(shapes);
      }
    }
    if (refocus) refocus.focus({ preventScroll: true });
    document.body.dataset.fleetShapes = String(shapes.getLayers().length);
    document.body.dataset.fleetZoom = String(ctx.map.getZoom());
  };

  let stopped = false;
  let timer = 0;
  const controller = new AbortController();
  async function poll() {
    try {
      const since = newest ? new Date(newest - overlapMs).toISOString() : undefined;
      const page = await api("position", { all: "true", since }, { signal: controller.signal });
      if (stopped) return; // the view was left: its answer is not drawn
      const started = performance.now();
      const moved = [];
      for (const f of page.fixes) {
        const old = devices.get(f.device);
        if (!old || old.ts !== f.ts) {
          devices.set(f.device, f);
          moved.push([f.device, f.lon, f.lat]);
        }
        newest = Math.max(newest, Date.parse(f.ts));
      }
      if (moved.length) worker.postMessage({ type: "update", points: moved });
      if (!fitted && devices.size) {
        fitted = true;
        const pts = [...devices.values()].map((f) => [f.lat, f.lon]);
        ctx.fit(L.latLngBounds(pts).pad(0.2), 14, movesAtOpen);
      }
      if (moved.length) renderMap();
      renderList();
      // Read by the browser test and whoever measures the page at scale.
      document.body.dataset.fleetPolled = String(Date.now());
      document.body.dataset.fleetRenderMs = String(Math.round(performance.now() - started));
    } catch (e) {
      if (stopped) return;
      status(e.message, "error");
    }
    if (!stopped) timer = setTimeout(poll, pollMs);
  }
  const onMove = () => renderMap();
  ctx.map.on("moveend", onMove);
  ctx.onCleanup(() => {
    stopped = true;
    controller.abort();
    clearTimeout(timer);
    ctx.map.off("moveend", onMove);
    worker.terminate();
  });
  poll();
}
