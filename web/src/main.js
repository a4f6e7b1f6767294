// The geotrack dashboard: a hash-routed single-page app over the pack's
// functions. Views: login, fleet, device, geofences, alerts, preferences.
import "./app.css";
import L from "leaflet";
import { setAPIBase, token, setToken, claims } from "./api.js";
import { h, status } from "./dom.js";
import { fleetView } from "./fleet.js";
import { deviceView } from "./device.js";
import { geofencesView } from "./geofences.js";
import { alertsView } from "./alerts.js";
import { preferencesView } from "./preferences.js";
import { startLogin, finishLogin } from "./oidc.js";

const views = { fleet: fleetView, device: deviceView, geofences: geofencesView, alerts: alertsView, preferences: preferencesView };

// An edge node has position and track, not the cloud's geofences, rules
// or preferences (DASHBOARD_SITE=edge): only these views are offered.
const edgeViews = new Set(["fleet", "device"]);

// ctx is what every view gets: the map, a layer group of its own, the
// user, a way to register a cleanup (timers) for when it is left, and the
// two ways a view moves the map (ctx.show, ctx.fit: see moveRules).
const ctx = { map: null, layer: null, user: null, cleanups: [], cfg: {} };

function setupMap(cfg) {
  // No zoom animation: Leaflet ends an animated zoom by moving to its
  // target 250 ms later even when another view was set meanwhile (and
  // ignores an animated zoom asked for during one). That lost the first
  // "Zoom here" after the fleet's search had started a zoom just before
  // the route changed: the map went back to the searched device at zoom 12.
  const map = L.map("map", { preferCanvas: true, worldCopyJump: true, keyboard: true, zoomAnimation: false }).setView([51.5, -0.12], 4);
  if (cfg.tileURL) {
    L.tileLayer(cfg.tileURL, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("offline");
    map.attributionControl.addAttribution("no base map (offline)");
  }
  return map;
}

// The #token= fragment logs in and is removed from the address at once;
// a fragment is never sent to a server, so the token reaches no log.
function loginFromFragment() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/fleet");
}

function currentUser() {
  const t = token();
  if (!t) return null;
  const c = claims(t);
  if (!c || !c.tenant || !c.role) return null;
  if (c.exp && c.exp * 1000 < Date.now()) return null;
  return { tenant: c.tenant, role: c.role, device: c.device, exp: c.exp, admin: c.role === "admin" };
}

function renderWho(user) {
  const who = document.getElementById("who");
  const nav = document.getElementById("nav");
  who.replaceChildren();
  nav.hidden = !user;
  if (!user) return;
  who.append(
    h("span", { id: "tenant" }, "tenant ", h("strong", {}, user.tenant)),
    " ",
    h("span", { id: "role", class: "role " + user.role }, user.role),
    " ",
    h("button", { type: "button", id: "logout", onclick: () => { setToken(""); location.hash = "#/login"; } }, "Log out"),
  );
}

function loginView(panel) {
  const input = h("textarea", { id: "token", rows: 4, autocomplete: "off", spellcheck: "false", required: true });
  const form = h("form", { class: "login", onsubmit: (e) => {
    e.preventDefault();
    const t = input.value.trim();
    const c = claims(t);
    if (!c || !c.tenant || !c.role) {
      status("That is not a geotrack token (a JWT with tenant and role).", "error");
      return;
    }
    setToken(t);
    location.hash = "#/fleet";
  } },
  h("h2", {}, "Log in"),
  h("label", { for: "token" }, "Token"),
  input,
  h("small", {}, "Paste a viewer or admin token (geotrack token --role viewer), or open a link ending in #token=…"),
  h("button", { type: "submit" }, "Log in"));
  panel.replaceChildren(form);
  const cfg = ctx.cfg;
  if (cfg.oidcIssuer && cfg.oidcClientID) {
    const sso = h("button", { type: "button", id: "oidc-login", onclick: async () => {
      sso.disabled = true;
      try {
        await startLogin(cfg);
      } catch (e) {
        status(e.message, "error");
        sso.disabled = false;
      }
    } }, "Log in with " + new URL(cfg.oidcIssuer).host);
    panel.prepend(h("div", { class: "login" }, h("h2", {}, "Single sign-on"), sso));
    sso.focus();
    return;
  }
  input.focus();
}

// moveRules gives ctx the two ways a view moves the map, so that the view
// the user asked for last is the one shown:
//   - ctx.show(center, zoom): a move the user asked for (a button, a
//     search match, a cluster), at once;
//   - ctx.fit(bounds, maxZoom, since): fit loaded data, unless the user
//     moved the map since `since`, a ctx.userMoves() read when the view
//     asked for the data: a late answer never undoes the user's move.
// The user's own moves on the map (drag, wheel, keys, taps) are counted
// from the events that start them.
function moveRules(map) {
  let userMoves = 0;
  for (const type of ["pointerdown", "wheel", "keydown"]) {
    map.getContainer().addEventListener(type, () => { userMoves++; }, { capture: true, passive: true });
  }
  ctx.userMoves = () => userMoves;
  ctx.show = (center, zoom) => {
    userMoves++;
    map.setView(center, zoom, { animate: false });
  };
  ctx.fit = (bounds, maxZoom, since) => {
    if (userMoves !== since) return false;
    map.fitBounds(bounds, { maxZoom, animate: false });
    return true;
  };
}

function leave() {
  for (const f of ctx.cleanups.splice(0)) {
    try { f(); } catch (e) { console.warn(e); }
  }
  ctx.layer.clearLayers();
  // A pan still running (inertia after a drag) belongs to the view left.
  ctx.map.stop();
}

function route() {
  loginFromFragment();
  const user = currentUser();
  ctx.user = user;
  renderWho(user);
  const panel = document.getElementById("panel");
  leave();
  const [, name = "", ...rest] = location.hash.replace(/^#/, "").split("/");
  if (!user) {
    if (token()) status("The token has expired or is not valid: log in again.", "error");
    loginView(panel);
    return;
  }
  if (user.role !== "viewer" && user.role !== "admin") {
    panel.replaceChildren(h("p", {}, `Role ${user.role} cannot use the dashboard: log in with a viewer or admin token.`));
    return;
  }
  const offered = (v) => views[v] && (ctx.cfg.site !== "edge" || edgeViews.has(v));
  const view = offered(name) ? name : "fleet";
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
  panel.replaceChildren();
  views[view](panel, ctx, rest.map(decodeURIComponent));
}

async function start() {
  let cfg = { tileURL: "", tileAttribution: "", apiURL: "../" };
  try {
    const resp = await fetch("config.json");
    if (resp.ok) cfg = await resp.json();
  } catch (e) {
    status("config.json: " + e.message, "error");
  }
  setAPIBase(cfg.apiURL);
  ctx.cfg = cfg;
  for (const a of document.querySelectorAll("#nav a")) {
    if (cfg.site === "edge" && !edgeViews.has(a.dataset.view)) a.remove();
  }
  // Back from the OIDC provider: exchange the code before routing.
  try {
    const t = await finishLogin(cfg);
    if (t) setToken(t);
  } catch (e) {
    status(e.message, "error");
  }
  ctx.map = setupMap(cfg);
  ctx.layer = L.layerGroup().addTo(ctx.map);
  moveRules(ctx.map);
  ctx.onCleanup = (f) => ctx.cleanups.push(f);
  window.addEventListener("hashchange", route);
  window.addEventListener("geotrack:unauthorized", (e) => {
    setToken("");
    status("Logged out: " + e.detail, "error");
    if (location.hash !== "#/login") location.hash = "#/login";
  });
  // The skip link must not change the hash: that is the router's.
  document.querySelector(".skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("panel").focus();
  });
  // A narrow window stacks panel and map: the map must learn its new size.
  window.addEventListener("resize", () => ctx.map.invalidateSize());
  route();
}

// The longest main-thread task seen (Long Tasks API, where the browser has
// it): what "the page stalls" means, read by the scale test.
if (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes?.includes("longtask")) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      document.body.dataset.longestTaskMs = String(Math.max(+(document.body.dataset.longestTaskMs || 0), Math.round(e.duration)));
    }
  }).observe({ type: "longtask", buffered: true });
}

start();
