// The API client: every call carries the user's bearer token, and every
// error becomes an Error with the server's {"error"} text.

const tokenKey = "geotrack.token";

let apiBase = "../";

export function setAPIBase(url) {
  apiBase = url.endsWith("/") ? url : url + "/";
}

// The token lives in sessionStorage: it survives a reload, not the tab.
export function token() {
  return sessionStorage.getItem(tokenKey) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// claims decodes the token's payload for display (tenant, role, device,
// exp). It is not verified here: every function verifies the token itself.
export function claims(t) {
  const parts = (t || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const c = JSON.parse(json);
    return typeof c === "object" && c ? c : null;
  } catch {
    return null;
  }
}

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls function name with query (an object; undefined and "" values
// are left out) and returns the decoded JSON (null for 204), or the raw
// Response when opts.raw.
export async function api(name, query = {}, opts = {}) {
  const url = new URL(apiBase + name, location.href);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Authorization: "Bearer " + token() };
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = opts.contentType || "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  const resp = await fetch(url, { method: opts.method || "GET", headers, body, signal: opts.signal });
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try {
      const e = await resp.json();
      if (e && e.error) msg = e.error;
    } catch {
      // not JSON: keep the status line
    }
    // An expired or revoked token: the page goes back to the login.
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("geotrack:unauthorized", { detail: msg }));
    throw new APIError(resp.status, `${name}: ${msg}`);
  }
  if (opts.raw) return resp;
  if (resp.status === 204) return null;
  return resp.json();
}
