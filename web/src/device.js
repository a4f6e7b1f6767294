// Device: a device's history over a range with playback, a speed/altitude
// chart, its trips and stops (the trips function) and GPX/GeoJSON export.
//
// The track is read a page (10,000 points) at a time and drawn after the
// first page, then redrawn as the rest arrives, so the first render does
// not wait for a long history. The track function on this branch has no
// server-side simplification: the browser thins the line and chart to
// displayPoints, and stops reading at maxPoints (the range must be
// narrowed beyond that).
import L from "leaflet";
import uPlot from "uplot";
import { api } from "./api.js";
import { h, field, status, localInput, download } from "./dom.js";

const pageSize = 10000;
const maxPoints = 200000;
const displayPoints = 5000;

// thin keeps at most n points, evenly by index, always the first and last.
export function thin(points, n) {
  if (points.length <= n) return points;
  const out = [];
  const step = (points.length - 1) / (n - 1);
  for (let i = 0; i < n; i++) out.push(points[Math.round(i * step)]);
  return out;
}

export function deviceView(panel, ctx, [deviceArg = ""]) {
  const now = new Date();
  const dev = field("Device", { id: "device-id", value: deviceArg, required: true, autocomplete: "off" });
  const from = field("From", { id: "device-from", type: "datetime-local", value: localInput(new Date(now - 24 * 3600e3)) });
  const to = field("To", { id: "device-to", type: "datetime-local", value: localInput(new Date(+now + 60e3)) });
  const info = h("p", { id: "track-info" });
  const player = h("div", { id: "player", hidden: true });
  const chartBox = h("div", { id: "chart", "aria-label": "Speed and altitude chart", role: "img" });
  const tripsBox = h("div", { id: "trips" });
  const exportBox = h("div", { class: "buttons", hidden: true },
    h("button", { type: "button", id: "export-gpx", onclick: () => exportAs("gpx") }, "Export GPX"),
    h("button", { type: "button", id: "export-geojson", onclick: () => exportAs("geojson") }, "Export GeoJSON"));
  const form = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); load(); } },
    dev.el, from.el, to.el, h("button", { type: "submit", id: "device-load" }, "Show history"));
  panel.append(h("h2", {}, "Device"), form, info, exportBox, player, chartBox, tripsBox);

  const group = L.layerGroup().addTo(ctx.layer);
  let points = [];
  let line = null;
  let cursor = null;
  let chart = null;
  let playing = 0;
  let controller = null;
  ctx.onCleanup(() => {
    clearInterval(playing);
    if (controller) controller.abort();
    if (chart) chart.destroy();
  });

  function range() {
    return {
      from: from.input.value ? new Date(from.input.value).toISOString() : undefined,
      to: to.input.value ? new Date(to.input.value).toISOString() : undefined,
    };
  }

  async function load() {
    const device = dev.input.value.trim();
    if (!device) return;
    if (location.hash !== "#/device/" + encodeURIComponent(device)) {
      history.replaceState(null, "", "#/device/" + encodeURIComponent(device));
    }
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    clearInterval(playing);
    points = [];
    group.clearLayers();
    line = cursor = null;
    info.textContent = "Loading…";
    const started = performance.now();
    let next = "";
    let firstRender = 0;
    try {
      do {
        const page = await api("track", { device, ...range(), limit: pageSize, cursor: next }, { signal });
        points = points.concat(page.points);
        next = page.next;
        draw(device, !firstRender);
        if (!firstRender) firstRender = performance.now() - started;
        info.textContent = `${points.length} points` + (next ? ", loading more…" : "") + ` (first drawn in ${Math.round(firstRender)} ms)`;
      } while (next && points.length < maxPoints);
      if (next) info.textContent = `${points.length} points (first drawn in ${Math.round(firstRender)} ms); stopped at ${maxPoints}: narrow the range to see the rest`;
      document.body.dataset.trackPoints = String(points.length);
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
      return;
    }
    loadTrips(device, signal);
  }

  function draw(device, fit) {
    const shown = thin(points, displayPoints);
    const lls = shown.map((p) => [p.lat, p.lon]);
    if (!line) line = L.polyline(lls, { color: "#b3261e", weight: 3 }).addTo(group);
    else line.setLatLngs(lls);
    if (fit && lls.length) ctx.map.fitBounds(line.getBounds().pad(0.1), { maxZoom: 16 });
    exportBox.hidden = points.length === 0;
    drawPlayer();
    drawChart(shown);
  }

  function drawPlayer() {
    if (!points.length) {
      player.hidden = true;
      return;
    }
    player.hidden = false;
    const slider = h("input", { type: "range", id: "playback", min: 0, max: points.length - 1, value: 0, step: 1, "aria-label": "Playback position" });
    const label = h("output", { id: "playback-time", for: "playback" });
    const play = h("button", { type: "button", id: "play" }, "Play");
    const show = (i) => {
      const p = points[i];
      if (!cursor) cursor = L.circleMarker([p.lat, p.lon], { radius: 8, color: "#fff", weight: 2, fillColor: "#146c2e", fillOpacity: 1 }).addTo(group);
      else cursor.setLatLng([p.lat, p.lon]);
      const speed = typeof p.speed === "number" ? ` · ${(p.speed * 3.6).toFixed(1)} km/h` : "";
      label.textContent = new Date(p.ts).toLocaleString() + speed;
    };
    slider.addEventListener("input", () => show(+slider.value));
    play.addEventListener("click", () => {
      if (playing) {
        clearInterval(playing);
        playing = 0;
        play.textContent = "Play";
        return;
      }
      if (+slider.value >= points.length - 1) slider.value = 0;
      const step = Math.max(1, Math.ceil(points.length / 400)); // about 20 s for any length
      play.textContent = "Pause";
      playing = setInterval(() => {
        const i = Math.min(points.length - 1, +slider.value + step);
        slider.value = i;
        show(i);
        if (i >= points.length - 1) {
          clearInterval(playing);
          playing = 0;
          play.textContent = "Play";
          document.body.dataset.played = "true";
        }
      }, 50);
    });
    player.replaceChildren(h("label", { for: "playback" }, "Playback"), slider, play, label);
    show(0);
  }

  function drawChart(shown) {
    const xs = shown.map((p) => Date.parse(p.ts) / 1000);
    const speed = shown.map((p) => (typeof p.speed === "number" ? p.speed * 3.6 : null));
    const alt = shown.map((p) => (typeof p.alt === "number" ? p.alt : null));
    if (chart) chart.destroy();
    const width = Math.max(260, chartBox.clientWidth || panel.clientWidth - 24);
    chart = new uPlot({
      width, height: 180,
      series: [{}, { label: "speed km/h", stroke: "#0b57d0", scale: "kmh" }, { label: "altitude m", stroke: "#7a5900", scale: "m" }],
      axes: [{}, { scale: "kmh", label: "km/h" }, { scale: "m", side: 1, label: "m", grid: { show: false } }],
    }, [xs, speed, alt], chartBox);
  }

  async function loadTrips(device, signal) {
    tripsBox.replaceChildren(h("h3", {}, "Trips and stops"), h("p", {}, "Loading…"));
    try {
      const r = await api("trips", { device, ...range() }, { signal });
      const rows = [
        ...r.trips.map((t) => ({ at: t.start, text: `Trip ${fmtDur(t.duration_s)}, ${(t.distance_m / 1000).toFixed(2)} km, max ${(t.max_speed * 3.6).toFixed(0)} km/h`, lat: t.start_lat, lon: t.start_lon, kind: "trip" })),
        ...r.stops.map((s) => ({ at: s.ts, text: `Stop ${fmtDur(s.duration_s)}`, lat: s.lat, lon: s.lon, kind: "stop" })),
      ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      for (const s of r.stops) {
        L.circleMarker([s.lat, s.lon], { radius: 5, color: "#7a5900", fillOpacity: 0.6 }).bindTooltip("stop " + fmtDur(s.duration_s)).addTo(group);
      }
      const list = h("ul", { class: "rows", id: "trips-list" }, rows.map((row) =>
        h("li", { class: row.kind },
          h("button", { type: "button", class: "link", onclick: () => ctx.map.setView([row.lat, row.lon], 16) }, new Date(row.at).toLocaleString()),
          " ", row.text)));
      const s = r.summary;
      tripsBox.replaceChildren(h("h3", {}, "Trips and stops"),
        h("p", {}, `${s.trips} trips, ${s.stops} stops, ${(s.distance_m / 1000).toFixed(2)} km` + (r.ongoing_trip ? " · a trip under way" : "")),
        rows.length ? list : h("p", {}, "No finished trip or stop in this range."));
    } catch (e) {
      if (!signal.aborted) tripsBox.replaceChildren(h("h3", {}, "Trips and stops"), h("p", { class: "error" }, e.message));
    }
  }

  function exportAs(format) {
    const device = dev.input.value.trim();
    if (format === "geojson") {
      const fc = { type: "FeatureCollection", features: [{ type: "Feature",
        properties: { device, coordTimes: points.map((p) => p.ts) },
        geometry: { type: "LineString", coordinates: points.map((p) => (typeof p.alt === "number" ? [p.lon, p.lat, p.alt] : [p.lon, p.lat])) } }] };
      download(device + ".geojson", "application/geo+json", JSON.stringify(fc));
      return;
    }
    const esc = (s) => String(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const pts = points.map((p) => `<trkpt lat="${p.lat}" lon="${p.lon}">` + (typeof p.alt === "number" ? `<ele>${p.alt}</ele>` : "") + `<time>${esc(p.ts)}</time></trkpt>`).join("");
    download(device + ".gpx", "application/gpx+xml",
      `<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="geotrack" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>${esc(device)}</name><trkseg>${pts}</trkseg></trk></gpx>\n`);
  }

  if (deviceArg) load();
  else dev.input.focus();
}

function fmtDur(s) {
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
