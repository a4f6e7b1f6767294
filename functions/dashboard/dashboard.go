// Package dashboard is the web dashboard: a single-page app (web/ in the
// repository, bundled into dist/ by scripts/build-dashboard.sh and embedded
// here) served as an http.Handler, since it needs the request path, which
// the go-http SDK's Request lacks. It serves files and /config.json only;
// everything else the browser asks of the other functions with the user's
// token, so the dashboard itself needs no secret.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// Files is the embedded bundle (index.html, app.js, app.css, licences).
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is embedded above; it cannot be missing
	}
	return sub
}

// ClientConfig is /config.json, what the app reads at start.
type ClientConfig struct {
	TileURL         string `json:"tileURL"`
	TileAttribution string `json:"tileAttribution"`
	APIURL          string `json:"apiURL"`
	// OIDCIssuer and OIDCClientID are set together, when the dashboard
	// offers the OIDC login.
	OIDCIssuer   string `json:"oidcIssuer,omitempty"`
	OIDCClientID string `json:"oidcClientID,omitempty"`
	OIDCScope    string `json:"oidcScope,omitempty"`
	// Site is "cloud" or "edge" (DASHBOARD_SITE).
	Site string `json:"site"`
}

type file struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the dashboard.
type Handler struct {
	files map[string]file // "/index.html" → file
	csp   string
}

// New builds the dashboard over files (Files(), or a test's fstest.MapFS).
func New(cfg Config, files fs.FS) (*Handler, error) {
	if err := checkURL("TILE_URL", cfg.TileURL, true); err != nil {
		return nil, err
	}
	if err := checkURL("API_URL", cfg.APIURL, false); err != nil {
		return nil, err
	}
	if err := checkURL("OIDC_ISSUER", cfg.OIDCIssuer, true); err != nil {
		return nil, err
	}
	switch cfg.Site {
	case "":
		cfg.Site = "cloud"
	case "cloud", "edge":
	default:
		return nil, fmt.Errorf("dashboard: DASHBOARD_SITE %q is not cloud or edge", cfg.Site)
	}
	if cfg.OIDCClientID != "" && cfg.OIDCIssuer == "" {
		return nil, fmt.Errorf("dashboard: DASHBOARD_OIDC_CLIENT_ID is set without OIDC_ISSUER")
	}
	h := &Handler{files: map[string]file{}, csp: contentSecurityPolicy(cfg)}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		h.add("/"+p, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: read bundle: %w", err)
	}
	if _, ok := h.files["/index.html"]; !ok {
		return nil, fmt.Errorf("dashboard: the bundle has no index.html (run scripts/build-dashboard.sh)")
	}
	client := ClientConfig{TileURL: cfg.TileURL, TileAttribution: cfg.TileAttribution, APIURL: cfg.APIURL, Site: cfg.Site}
	if cfg.OIDCIssuer != "" && cfg.OIDCClientID != "" {
		client.OIDCIssuer, client.OIDCClientID, client.OIDCScope = cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCScope
		if client.OIDCScope == "" {
			client.OIDCScope = "openid"
		}
	}
	cc, err := json.Marshal(client)
	if err != nil {
		return nil, fmt.Errorf("dashboard: encode config: %w", err)
	}
	h.add("/config.json", cc)
	return h, nil
}

func (h *Handler) add(name string, body []byte) {
	sum := sha256.Sum256(body)
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = http.DetectContentType(body)
	}
	h.files[name] = file{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: ct}
}

// checkURL accepts empty (when allowed), an absolute http(s) URL, or for
// API_URL a relative path.
func checkURL(name, raw string, emptyOK bool) error {
	if raw == "" {
		if emptyOK {
			return nil
		}
		return fmt.Errorf("dashboard: %s is empty", name)
	}
	u, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0", "{s}", "a").Replace(raw))
	if err != nil {
		return fmt.Errorf("dashboard: %s %q: %w", name, raw, err)
	}
	if u.IsAbs() && u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("dashboard: %s %q: want an http or https URL", name, raw)
	}
	if (name == "TILE_URL" || name == "OIDC_ISSUER") && !u.IsAbs() {
		return fmt.Errorf("dashboard: %s %q: want an absolute http or https URL", name, raw)
	}
	return nil
}

// contentSecurityPolicy allows the bundle's own files, the tile server's
// images and calls to the API: nothing else loads, no inline script runs.
func contentSecurityPolicy(cfg Config) string {
	img := "'self' data: blob:"
	if u, err := url.Parse(strings.NewReplacer("{s}", "a").Replace(cfg.TileURL)); err == nil && u.Host != "" {
		host := u.Host
		if cfg.TileURL != "" && strings.Contains(cfg.TileURL, "{s}") {
			host = "*." + strings.SplitN(u.Host, ".", 2)[1]
		}
		img += " " + u.Scheme + "://" + host
	}
	connect := "'self'"
	if u, err := url.Parse(cfg.APIURL); err == nil && u.IsAbs() {
		connect += " " + u.Scheme + "://" + u.Host
	}
	// The OIDC login reads the discovery document and exchanges the code
	// from the browser, on the issuer's origin.
	if u, err := url.Parse(cfg.OIDCIssuer); err == nil && u.IsAbs() && cfg.OIDCClientID != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src " + img +
		"; connect-src " + connect + "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: the dashboard is read with GET")
		return
	}
	name, redirect := h.fileOf(r.URL.Path)
	if redirect != "" {
		// The app's relative URLs (app.js, ../position) need the slash.
		if r.URL.RawQuery != "" {
			redirect += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", redirect)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	f, ok := h.files[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no file %s in the dashboard", name))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Revalidated every time: a new release must never mix files of two
	// builds, and a 304 costs one round trip.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if strings.HasSuffix(name, ".html") {
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// fileOf maps a request path to a file of the bundle, whatever prefix the
// platform leaves on it: the OpenFaaS gateway strips /function/dashboard,
// geotrack dev strips it too, an edge node's ingress passes /dashboard/…
// through. The bundle is flat, so the last segment names the file and a
// path ending in "/" is index.html. A last segment without a dot that is no
// file ("", "dashboard") is the app's folder without its slash: redirect,
// relative, so the prefix is kept.
func (h *Handler) fileOf(p string) (name, redirect string) {
	if p == "" {
		return "", "dashboard/"
	}
	base := path.Base(p)
	switch {
	case strings.HasSuffix(p, "/"):
		return "/index.html", ""
	case h.files["/"+base].body != nil:
		return "/" + base, ""
	case !strings.Contains(base, "."):
		return "", base + "/"
	}
	return p, "" // not in the bundle: 404
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
