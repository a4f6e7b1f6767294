// OIDC login: authorization code with PKCE (S256), all in the browser, for a
// public client (no secret). The dashboard's own URL is the redirect URI;
// the code comes back in its query, is exchanged at the provider's token
// endpoint with the verifier only this tab holds (sessionStorage), and the
// query is removed from the address at once. The token is kept like a
// pasted one (sessionStorage); every function verifies it (OIDC_ISSUER).
import { claims } from "./api.js";

const pendingKey = "geotrack.oidc";

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

// pkceChallenge is base64url(SHA-256(verifier)), RFC 7636's S256.
export async function pkceChallenge(verifier) {
  return b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

// redirectURI is the dashboard's address without query or fragment: the
// one to register at the provider.
export function redirectURI() {
  return location.origin + location.pathname;
}

async function discover(issuer) {
  const url = issuer.replace(/\/$/, "") + "/.well-known/openid-configuration";
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`OIDC discovery ${url}: ${resp.status} ${resp.statusText}`);
  const doc = await resp.json();
  if (!doc.authorization_endpoint || !doc.token_endpoint) throw new Error(`OIDC discovery ${url}: no authorization_endpoint or token_endpoint`);
  if (doc.code_challenge_methods_supported && !doc.code_challenge_methods_supported.includes("S256")) {
    throw new Error(`OIDC provider ${issuer} does not support PKCE S256`);
  }
  return doc;
}

// startLogin sends the browser to the provider's authorization endpoint.
export async function startLogin(cfg) {
  if (!window.crypto?.subtle) throw new Error("OIDC login needs a secure context (https, or http on localhost)");
  const doc = await discover(cfg.oidcIssuer);
  const verifier = randomString(48);
  const state = randomString(24);
  sessionStorage.setItem(pendingKey, JSON.stringify({ verifier, state, tokenEndpoint: doc.token_endpoint, redirectURI: redirectURI() }));
  const url = new URL(doc.authorization_endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.oidcClientID);
  url.searchParams.set("redirect_uri", redirectURI());
  url.searchParams.set("scope", cfg.oidcScope || "openid");
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", await pkceChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  location.assign(url.toString());
}

// finishLogin handles the provider's redirect back (?code=&state= or
// ?error=): it returns the token, or null when the address is no such
// redirect, and throws on a refused or forged one. The query is removed
// from the address whatever the outcome.
export async function finishLogin(cfg) {
  if (!cfg.oidcIssuer || !cfg.oidcClientID) return null;
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return null;
  history.replaceState(null, "", location.pathname + "#/fleet");
  const pending = JSON.parse(sessionStorage.getItem(pendingKey) || "null");
  sessionStorage.removeItem(pendingKey);
  if (q.has("error")) throw new Error(`OIDC login refused: ${q.get("error")}${q.get("error_description") ? ": " + q.get("error_description") : ""}`);
  if (!pending || q.get("state") !== pending.state) throw new Error("OIDC login: the answer does not match a login started in this tab (state); log in again");
  const resp = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: q.get("code"),
      redirect_uri: pending.redirectURI,
      client_id: cfg.oidcClientID,
      code_verifier: pending.verifier,
    }),
  });
  let body = {};
  try {
    body = await resp.json();
  } catch {
    // not JSON: reported below by status
  }
  if (!resp.ok) throw new Error(`OIDC token endpoint: ${body.error || resp.status}${body.error_description ? ": " + body.error_description : ""}`);
  // The token geotrack verifies carries tenant and role: the access token
  // when it is such a JWT, else the ID token.
  for (const t of [body.access_token, body.id_token]) {
    const c = claims(t);
    if (c && c.tenant && c.role) return t;
  }
  throw new Error("OIDC login: the provider's tokens carry no tenant and role claims (map them in the provider)");
}
