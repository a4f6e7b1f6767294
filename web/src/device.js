// Device: a device's history over a range with playback, a speed/altitude
// chart, its trips and stops (the trips function) and GPX/GeoJSON export.
//
// Long histories are simplified by the server, not shipped whole: the page
// asks for one page of at most `budget` points (sized to the map's width);
// when the range holds no more, that is the exact series. Otherwise it asks
// track?all=true&max_points= for the overview, in a few time slices read in
// parallel and drawn as each arrives, so the first render waits for a slice,
// not the whole range. Zooming or panning re-requests the visible time
// window the same way (exact when it is small enough), drawn over the
// overview. Playback and the chart use the overview series; the exports
// stream the whole range from track (all=true, every point).
import L from "leaflet";
import uPlot from "uplot";
import { api } from "./api.js";
import { h, field, status, localInput, download } from "./dom.js";

// overviewSlices is how many time slices of an overview are read at once:
// the server simplifies them in parallel and the first drawn arrives after
// about a quarter of the read.
const overviewSlices = 4;

// budgetFor is how many points a view of width px needs: about two a pixel,
// within what one page and one max_points request allow.
export function budgetFor(px) {
  return Math.min(8000, Math.max(1000, Math.round(2 * (px || 0))));
}

// timeSlices splits [from, to] (ms) into n equal slices.
export function timeSlices(from, to, n) {
  const out = [];
  const step = (to - from) / n;
  for (let i = 0; i < n; i++) out.push([from + i * step, i === n - 1 ? to : from + (i + 1) * step]);
  return out;
}

// joinSlices concatenates slices in time order, once per instant (slices
// share their bounds).
export function joinSlices(slices) {
  const out = [];
  for (const s of slices) {
    for (const p of s || []) {
      if (out.length && out[out.length - 1].ts === p.ts) continue;
      out.push(p);
    }
  }
  return out;
}

// series reads [from, to] of device as at most about `budget` points:
// {points, exact}. onPart(runs) is called as slices arrive, runs being the
// contiguous series read so far (for drawing before the end).
async function series(device, from, to, budget, signal, onPart = () => {}) {
  const probe = await api("track", { device, from: iso(from), to: iso(to), limit: budget }, { signal });
  if (!probe.next) {
    onPart([probe.points]);
    return { points: probe.points, exact: true };
  }
  // The range's data starts at the probe's first point.
  const start = Math.max(from ?? -Infinity, Date.parse(probe.points[0].ts));
  const end = to ?? Date.now();
  const slices = timeSlices(start, end, overviewSlices);
  const parts = new Array(slices.length);
  const per = Math.max(2, Math.ceil(budget / slices.length));
  await Promise.all(slices.map(async ([a, b], i) => {
    const r = await api("track", { device, from: iso(a), to: iso(b), all: "true", max_points: per }, { signal });
    parts[i] = r.points;
    const runs = [];
    let run = null;
    for (const p of parts) {
      if (!p) { run = null; continue; }
      if (!run) runs.push((run = []));
      for (const x of p) run.push(x);
    }
    onPart(runs);
  }));
  return { points: joinSlices(parts), exact: false };
}

function iso(ms) {
  return ms === undefined || ms === null ? undefined : new Date(ms).toISOString();
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
    h("button", { type: "button", id: "export-geojson", onclick: () => exportAs("geojson") }, "Export GeoJSON"),
    // The privacy function's ZIP (GDPR Art. 15/20: every tier, events,
    // alerts, preferences, audit entries, a manifest) is for admins only.
    ctx.user.admin ? h("button", { type: "button", id: "export-privacy", onclick: () => exportPrivacy() }, "Export all data (ZIP)") : null);
  const form = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); load(); } },
    dev.el, from.el, to.el, h("button", { type: "submit", id: "device-load" }, "Show history"));
  panel.append(h("h2", {}, "Device"), form, info, exportBox, player, chartBox, tripsBox);

  const group = L.layerGroup().addTo(ctx.layer);
  const detailGroup = L.layerGroup().addTo(group);
  let points = []; // the overview series: drawn, played back, charted
  let exact = true; // points is every point of the range
  let loaded = null; // {device, from, to} of the overview
  let line = null;
  let cursor = null;
  let chart = null;
  let playing = 0;
  let controller = null;
  let detailController = null;
  let detailTimer = 0;
  // A move makes the detail being read for the previous view stale: it is
  // dropped at once, and the new view's is read once the map rests.
  const onMove = () => {
    if (detailController) detailController.abort();
    clearTimeout(detailTimer);
    detailTimer = setTimeout(refine, 250);
  };
  ctx.map.on("moveend", onMove);
  ctx.onCleanup(() => {
    clearInterval(playing);
    clearTimeout(detailTimer);
    ctx.map.off("moveend", onMove);
    if (controller) controller.abort();
    if (detailController) detailController.abort();
    if (chart) chart.destroy();
  });

  function range() {
    return {
      from: from.input.value ? Date.parse(new Date(from.input.value).toISOString()) : undefined,
      to: to.input.value ? Date.parse(new Date(to.input.value).toISOString()) : undefined,
    };
  }

  function budget() {
    return budgetFor(ctx.map.getSize().x);
  }

  async function load() {
    const device = dev.input.value.trim();
    if (!device) return;
    if (location.hash !== "#/device/" + encodeURIComponent(device)) {
      history.replaceState(null, "", "#/device/" + encodeURIComponent(device));
    }
    if (controller) controller.abort();
    if (detailController) detailController.abort();
    clearTimeout(detailTimer);
    controller = new AbortController();
    const signal = controller.signal;
    // The overview fits the map as it arrives, unless the user moves the
    // map meanwhile: then the user's view stays.
    const movesAtLoad = ctx.userMoves();
    clearInterval(playing);
    points = [];
    loaded = null;
    group.clearLayers();
    detailGroup.clearLayers().addTo(group);
    line = cursor = null;
    for (const k of ["trackPoints", "trackMode", "trackFirstRenderMs", "trackOverviewMs", "trackDetailPoints", "trackDetailMode", "trackDetailView"]) delete document.body.dataset[k];
    info.textContent = "Loading…";
    const { from: f, to: t } = range();
    const started = performance.now();
    let firstRender = 0;
    try {
      const r = await series(device, f, t, budget(), signal, (runs) => {
        if (signal.aborted) return; // another load started: this one's slices are stale
        drawLine(runs);
        if (!firstRender) fitLine(movesAtLoad);
        if (!firstRender) {
          firstRender = performance.now() - started;
          document.body.dataset.trackFirstRenderMs = String(Math.round(firstRender));
          info.textContent = `Loading… (first drawn in ${Math.round(firstRender)} ms)`;
        }
      });
      if (signal.aborted) return;
      points = r.points;
      exact = r.exact;
      loaded = { device, from: f, to: t };
      const took = performance.now() - started;
      drawLine([points]);
      if (!exact || !firstRender) fitLine(movesAtLoad);
      exportBox.hidden = points.length === 0;
      drawPlayer();
      drawChart(points);
      info.textContent = (exact ? `${points.length} points` : `${points.length} points simplified by the server from a longer history; zoom in for detail`) +
        ` (first drawn in ${Math.round(firstRender)} ms, complete in ${Math.round(took)} ms)`;
      document.body.dataset.trackMode = exact ? "exact" : "simplified";
      document.body.dataset.trackOverviewMs = String(Math.round(took));
      document.body.dataset.trackPoints = String(points.length);
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
      return;
    }
    loadTrips(device, signal);
  }

  function drawLine(runs) {
    const lls = runs.map((run) => run.map((p) => [p.lat, p.lon]));
    if (!line) line = L.polyline(lls, { color: "#b3261e", weight: 3 }).addTo(group);
    else line.setLatLngs(lls);
  }

  // fitLine fits the map to the overview drawn so far unless the user moved
  // the map since `since` (the ctx.userMoves() read when the load started).
  function fitLine(since) {
    const bounds = line.getBounds();
    if (bounds.isValid()) ctx.fit(bounds.pad(0.1), 16, since);
  }

  // refine draws the visible part of a simplified overview at the view's
  // resolution: the time window of the overview points in view (one point
  // beyond on each side), read again with the same budget.
  async function refine() {
    if (exact || !loaded || !points.length) return;
    const bounds = ctx.map.getBounds();
    let first = -1, last = -1;
    points.forEach((p, i) => {
      if (bounds.contains([p.lat, p.lon])) {
        if (first < 0) first = i;
        last = i;
      }
    });
    if (detailController) detailController.abort();
    if (first < 0 || (first === 0 && last === points.length - 1)) {
      detailGroup.clearLayers();
      delete document.body.dataset.trackDetailPoints;
      delete document.body.dataset.trackDetailMode;
      delete document.body.dataset.trackDetailView;
      return;
    }
    const a = Date.parse(points[Math.max(0, first - 1)].ts);
    const b = Date.parse(points[Math.min(points.length - 1, last + 1)].ts);
    detailController = new AbortController();
    const signal = detailController.signal;
    try {
      const r = await series(loaded.device, a, b, budget(), signal);
      if (signal.aborted) return; // the map moved on: this detail is of an older view
      detailGroup.clearLayers();
      L.polyline(r.points.map((p) => [p.lat, p.lon]), { color: "#b3261e", weight: 3 }).addTo(detailGroup);
      document.body.dataset.trackDetailPoints = String(r.points.length);
      document.body.dataset.trackDetailMode = r.exact ? "exact" : "simplified";
      document.body.dataset.trackDetailOverviewPoints = String(last - first + 1);
      const c = ctx.map.getCenter();
      document.body.dataset.trackDetailView = `${c.lat},${c.lng},${ctx.map.getZoom()}`;
      info.textContent = `${points.length} points in the overview; the view shows ${r.points.length} points` +
        (r.exact ? " (every point)" : " (simplified)") + ` from ${new Date(a).toLocaleString()} to ${new Date(b).toLocaleString()}`;
    } catch (e) {
      if (!signal.aborted) status(e.message, "error");
    }
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
    const zoom = h("button", { type: "button", id: "zoom-cursor", onclick: () => ctx.show(cursor.getLatLng(), 17) }, "Zoom here");
    const show = (i) => {
      const p = points[i];
      if (!cursor) cursor = L.circleMarker([p.lat, p.lon], { radius: 8, color: "#fff", weight: 2, fillColor: "#146c2e", fillOpacity: 1 }).addTo(group);
      else cursor.setLatLng([p.lat, p.lon]);
      const speed = typeof p.speed === "number" ? ` · ${(p.speed * 3.6).toFixed(1)} km/h` : "";
      label.textContent = new Date(p.ts).toLocaleString() + speed;
      label.dataset.lat = String(p.lat);
      label.dataset.lon = String(p.lon);
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
    player.replaceChildren(h("label", { for: "playback" }, "Playback"), slider, play, zoom, label);
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
    if (ctx.cfg.site === "edge") {
      tripsBox.replaceChildren(h("h3", {}, "Trips and stops"), h("p", {}, "Trips and stops are computed in the cloud; this edge node shows the track only."));
      return;
    }
    tripsBox.replaceChildren(h("h3", {}, "Trips and stops"), h("p", {}, "Loading…"));
    try {
      const { from: f, to: t } = range();
      const r = await api("trips", { device, from: iso(f), to: iso(t) }, { signal });
      const rows = [
        ...r.trips.map((t) => ({ at: t.start, text: `Trip ${fmtDur(t.duration_s)}, ${(t.distance_m / 1000).toFixed(2)} km, max ${(t.max_speed * 3.6).toFixed(0)} km/h`, lat: t.start_lat, lon: t.start_lon, kind: "trip" })),
        ...r.stops.map((s) => ({ at: s.ts, text: `Stop ${fmtDur(s.duration_s)}`, lat: s.lat, lon: s.lon, kind: "stop" })),
      ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      for (const s of r.stops) {
        L.circleMarker([s.lat, s.lon], { radius: 5, color: "#7a5900", fillOpacity: 0.6 }).bindTooltip("stop " + fmtDur(s.duration_s)).addTo(group);
      }
      const list = h("ul", { class: "rows", id: "trips-list" }, rows.map((row) =>
        h("li", { class: row.kind },
          h("button", { type: "button", class: "link", onclick: () => ctx.show([row.lat, row.lon], 16) }, new Date(row.at).toLocaleString()),
          " ", row.text)));
      const s = r.summary;
      tripsBox.replaceChildren(h("h3", {}, "Trips and stops"),
        h("p", {}, `${s.trips} trips, ${s.stops} stops, ${(s.distance_m / 1000).toFixed(2)} km` + (r.ongoing_trip ? " · a trip under way" : "")),
        rows.length ? list : h("p", {}, "No finished trip or stop in this range."));
    } catch (e) {
      if (!signal.aborted) tripsBox.replaceChildren(h("h3", {}, "Trips and stops"), h("p", { class: "error" }, e.message));
    }
  }

  // exportAs downloads the whole range from track, every point (all=true
  // streams it), whatever the map shows.
  async function exportAs(format) {
    const device = loaded ? loaded.device : dev.input.value.trim();
    const r = loaded || range();
    const button = document.getElementById("export-" + format);
    button.disabled = true;
    status(`Exporting ${device}.${format}…`);
    try {
      const resp = await api("track", { device, from: iso(r.from), to: iso(r.to), all: "true", format }, { raw: true });
      const blob = await resp.blob();
      download(device + "." + format, format === "gpx" ? "application/gpx+xml" : "application/geo+json", blob);
      status(`Exported ${device}.${format} (${(blob.size / 1e6).toFixed(1)} MB)`);
    } catch (e) {
      status(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // exportPrivacy downloads the device's whole record from the privacy
  // function as a ZIP (streamed by the server, every tier).
  async function exportPrivacy() {
    const device = loaded ? loaded.device : dev.input.value.trim();
    const button = document.getElementById("export-privacy");
    button.disabled = true;
    status(`Exporting all data of ${device}…`);
    try {
      const resp = await api("privacy", { device, format: "zip" }, { raw: true });
      const blob = await resp.blob();
      download(device + "-privacy.zip", "application/zip", blob);
      status(`Exported ${device}-privacy.zip (${(blob.size / 1e6).toFixed(1)} MB)`);
    } catch (e) {
      status(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  if (deviceArg) load();
  else dev.input.focus();
}

function fmtDur(s) {
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
