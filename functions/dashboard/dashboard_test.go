package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/geotrack/geotrack/functions/dashboard"
)

var bundle = fstest.MapFS{
	"index.html": {Data: []byte("<!doctype html><title>geotrack</title>")},
	"app.js":     {Data: []byte("console.log(1)")},
	"app.css":    {Data: []byte("body{}")},
}

func defaults() dashboard.Config {
	return dashboard.Config{TileURL: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", TileAttribution: "© OSM", APIURL: "../"}
}

func TestServe(t *testing.T) {
	h, err := dashboard.New(defaults(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
		body, location, ct string
	}{
		{name: "index at the root", path: "/", status: 200, body: "<!doctype html>", ct: "text/html; charset=utf-8"},
		{name: "a file", path: "/app.js", status: 200, body: "console.log(1)", ct: "text/javascript; charset=utf-8"},
		{name: "a file behind the edge ingress's prefix", path: "/dashboard/app.css", status: 200, body: "body{}", ct: "text/css; charset=utf-8"},
		{name: "index behind a prefix", path: "/dashboard/", status: 200, body: "<!doctype html>"},
		{name: "stripped prefix without its slash", path: "", status: 301, location: "dashboard/"},
		{name: "folder without its slash, query kept", path: "/dashboard?x=1", status: 301, location: "dashboard/?x=1"},
		{name: "the client config", path: "/config.json", status: 200, body: `{"tileURL":"https://tile.openstreetmap.org/{z}/{x}/{y}.png"`, ct: "application/json"},
		{name: "HEAD", method: http.MethodHead, path: "/app.js", status: 200},
		{name: "unknown file", path: "/nope.js", status: 404, body: `{"error":"no file /nope.js in the dashboard"}`},
		{name: "POST refused", method: http.MethodPost, path: "/", status: 405, body: `"error":"method POST not allowed`},
		{name: "revalidation", path: "/app.js", header: map[string]string{"If-None-Match": "*"}, status: 304},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/", nil)
			req.URL.Path, req.URL.RawQuery, _ = strings.Cut(c.path, "?")
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
				t.Fatalf("%s %q = %d %q, want %d with %q", method, c.path, rec.Code, rec.Body, c.status, c.body)
			}
			if got := rec.Header().Get("Location"); got != c.location {
				t.Errorf("Location = %q, want %q", got, c.location)
			}
			if c.ct != "" && rec.Header().Get("Content-Type") != c.ct {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), c.ct)
			}
			if c.status == 200 && (rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("headers %v: want an ETag and nosniff", rec.Header())
			}
		})
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	cases := []struct {
		name     string
		cfg      dashboard.Config
		want     []string
		wantNone string
	}{
		{"tiles and same-origin API", defaults(), []string{"script-src 'self'", "img-src 'self' data: blob: https://tile.openstreetmap.org", "connect-src 'self';"}, "unsafe-eval"},
		{"no base map", dashboard.Config{APIURL: "../"}, []string{"img-src 'self' data: blob:;"}, "openstreetmap"},
		{"subdomain tiles and an API elsewhere", dashboard.Config{TileURL: "https://{s}.tile.example.org/{z}/{x}/{y}.png", APIURL: "https://api.example.com/function/"},
			[]string{"img-src 'self' data: blob: https://*.tile.example.org", "connect-src 'self' https://api.example.com"}, "unsafe-eval"},
		{"OIDC login", dashboard.Config{APIURL: "../", OIDCIssuer: "https://id.example.com/realms/fleet", OIDCClientID: "dash"},
			[]string{"connect-src 'self' https://id.example.com;"}, "realms"},
		{"edge site", dashboard.Config{APIURL: "../", Site: "edge"}, []string{"connect-src 'self';"}, "unsafe-eval"},
		{"OIDC issuer without a client: no login, no connection", dashboard.Config{APIURL: "../", OIDCIssuer: "https://id.example.com"},
			[]string{"connect-src 'self';"}, "id.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := dashboard.New(c.cfg, bundle)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			csp := rec.Header().Get("Content-Security-Policy")
			for _, w := range c.want {
				if !strings.Contains(csp, w) {
					t.Errorf("CSP %q lacks %q", csp, w)
				}
			}
			if strings.Contains(csp, c.wantNone) {
				t.Errorf("CSP %q has %q", csp, c.wantNone)
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config.json", nil))
			var cc dashboard.ClientConfig
			if err := json.Unmarshal(rec.Body.Bytes(), &cc); err != nil || cc.TileURL != c.cfg.TileURL || cc.APIURL != c.cfg.APIURL {
				t.Errorf("config.json %s: %v", rec.Body, err)
			}
			// The login is offered with an issuer and a client, never half.
			wantLogin := c.cfg.OIDCIssuer != "" && c.cfg.OIDCClientID != ""
			if wantLogin && (cc.OIDCIssuer != c.cfg.OIDCIssuer || cc.OIDCClientID != c.cfg.OIDCClientID || cc.OIDCScope != "openid") {
				t.Errorf("config.json %s: want the OIDC login of %s", rec.Body, c.cfg.OIDCIssuer)
			}
			wantSite := c.cfg.Site
			if wantSite == "" {
				wantSite = "cloud"
			}
			if cc.Site != wantSite {
				t.Errorf("config.json %s: want site %q", rec.Body, wantSite)
			}
			if !wantLogin && (cc.OIDCIssuer != "" || cc.OIDCClientID != "") {
				t.Errorf("config.json %s: want no OIDC login", rec.Body)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name  string
		cfg   dashboard.Config
		files fstest.MapFS
		want  string
	}{
		{"tile URL not http", dashboard.Config{TileURL: "file:///etc/{z}", APIURL: "../"}, bundle, "TILE_URL"},
		{"tile URL relative", dashboard.Config{TileURL: "/tiles/{z}/{x}/{y}.png", APIURL: "../"}, bundle, "TILE_URL"},
		{"API URL empty", dashboard.Config{}, bundle, "API_URL"},
		{"API URL javascript", dashboard.Config{APIURL: "javascript:alert(1)"}, bundle, "API_URL"},
		{"OIDC issuer relative", dashboard.Config{APIURL: "../", OIDCIssuer: "/realms/x", OIDCClientID: "dash"}, bundle, "OIDC_ISSUER"},
		{"OIDC issuer not http", dashboard.Config{APIURL: "../", OIDCIssuer: "ftp://id.example.com", OIDCClientID: "dash"}, bundle, "OIDC_ISSUER"},
		{"unknown site", dashboard.Config{APIURL: "../", Site: "moon"}, bundle, "DASHBOARD_SITE"},
		{"OIDC client without an issuer", dashboard.Config{APIURL: "../", OIDCClientID: "dash"}, bundle, "DASHBOARD_OIDC_CLIENT_ID"},
		{"no index.html", defaults(), fstest.MapFS{"app.js": {Data: []byte("x")}}, "index.html"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := dashboard.New(c.cfg, c.files); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error naming %s", err, c.want)
			}
		})
	}
}

// TestEmbeddedBundle: the committed bundle is what the binary serves.
func TestEmbeddedBundle(t *testing.T) {
	h, err := dashboard.New(defaults(), dashboard.Files())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/app.js", "/app.css", "/THIRD_PARTY_LICENSES.txt"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d (%d bytes)", p, rec.Code, rec.Body.Len())
		}
	}
}
