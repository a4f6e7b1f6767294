package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/geotrack/geotrack/internal/testenv"
)

// fakeOIDCProvider is an OIDC provider on loopback for the dashboard's
// login: discovery, an authorization endpoint that logs the user in at
// once (no form) and sends the browser back with a code, a token endpoint
// that checks the code's PKCE verifier (S256) and redirect URI before it
// issues an RS256 ID token, and the JWKS the functions verify it with.
type fakeOIDCProvider struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	claims   jwt.MapClaims // tenant, role, sub of the user who logs in

	mu        sync.Mutex
	codes     map[string]pendingCode
	issued    []string // ID tokens issued
	refusals  []string // why token requests were refused
	challenge []string // the code_challenge_method of each authorization
}

type pendingCode struct {
	challenge, redirectURI string
}

func startFakeOIDCProvider(t *testing.T, clientID string, claims jwt.MapClaims) *fakeOIDCProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeOIDCProvider{key: key, clientID: clientID, claims: claims, codes: map[string]pendingCode{}}
	b64 := base64.RawURLEncoding.EncodeToString
	mux := http.NewServeMux()
	// The browser reads discovery and posts to the token endpoint from the
	// dashboard's origin: both answer CORS, as real providers do.
	cors := func(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"jwks_uri": p.srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"code_challenge_methods_supported": []string{"S256"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		p.challenge = append(p.challenge, q.Get("code_challenge_method"))
		p.mu.Unlock()
		if q.Get("response_type") != "code" || q.Get("client_id") != clientID || q.Get("code_challenge") == "" || q.Get("state") == "" {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := b64(randomBytes(t, 16))
		p.mu.Lock()
		p.codes[code] = pendingCode{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
		p.mu.Unlock()
		back, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		refuse := func(why string) {
			p.mu.Lock()
			p.refusals = append(p.refusals, why)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": why})
		}
		if err := r.ParseForm(); err != nil {
			refuse("form: " + err.Error())
			return
		}
		p.mu.Lock()
		pending, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code")) // a code is used once
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case r.PostForm.Get("grant_type") != "authorization_code":
			refuse("grant_type " + r.PostForm.Get("grant_type"))
			return
		case !ok:
			refuse("unknown or used code")
			return
		case r.PostForm.Get("client_id") != clientID:
			refuse("client_id " + r.PostForm.Get("client_id"))
			return
		case r.PostForm.Get("redirect_uri") != pending.redirectURI:
			refuse("redirect_uri " + r.PostForm.Get("redirect_uri") + " is not the authorization's " + pending.redirectURI)
			return
		case b64(sum[:]) != pending.challenge:
			refuse("code_verifier does not match the S256 code_challenge")
			return
		}
		c := jwt.MapClaims{"iss": p.srv.URL, "aud": clientID, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range p.claims {
			c[k] = v
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		idToken, err := tok.SignedString(key)
		if err != nil {
			refuse("sign: " + err.Error())
			return
		}
		p.mu.Lock()
		p.issued = append(p.issued, idToken)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// An opaque access token: the dashboard must pick the ID token,
		// the one with tenant and role.
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque-" + b64(randomBytes(t, 8)), "token_type": "Bearer",
			"expires_in": 3600, "id_token": idToken})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Error(err)
	}
	return b
}

func (p *fakeOIDCProvider) state() (issued, refusals, challenge []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.issued...), append([]string(nil), p.refusals...), append([]string(nil), p.challenge...)
}

// TestDashboardOIDCLogin: with OIDC_ISSUER and DASHBOARD_OIDC_CLIENT_ID the
// login page offers the provider; the browser goes there, comes back with
// a code, exchanges it with its PKCE verifier, keeps the ID token in
// sessionStorage (the query gone from the address), and the functions
// accept that token: the fleet is listed. A redirect whose state no login
// of this tab started is refused, with no token kept.
func TestDashboardOIDCLogin(t *testing.T) {
	const clientID = "geotrack-dashboard"
	provider := startFakeOIDCProvider(t, clientID, jwt.MapClaims{"sub": "alice", "tenant": "demo", "role": "admin"})
	rs := testenv.StartRedis(t)
	base, _ := dashboardDev(t, rs.URL, 3, "OIDC_ISSUER="+provider.srv.URL, "OIDC_AUDIENCE="+clientID, "DASHBOARD_OIDC_CLIENT_ID="+clientID)
	dashboardURL := base + "/function/dashboard/"

	errs := &browserErrors{}
	ctx := startBrowser(t, errs)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browserDo(t, ctx, errs, 30*time.Second, what, actions...)
	}
	str := func(js string) string {
		t.Helper()
		return browserString(t, ctx, js)
	}
	waitFor := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				issued, refusals, _ := provider.state()
				t.Fatalf("%s: not within 20s (status %q; provider issued %d tokens, refused %v; browser errors %v)", what,
					str(`document.getElementById("status")?.textContent || ""`), len(issued), refusals, errs.list())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	run("open the dashboard", chromedp.Navigate(dashboardURL))
	waitFor("the provider offered", `document.getElementById("oidc-login")`)
	if got, want := str(`document.getElementById("oidc-login").textContent`), "Log in with "+strings.TrimPrefix(provider.srv.URL, "http://"); got != want {
		t.Errorf("login button %q, want %q", got, want)
	}
	run("log in with the provider", chromedp.Click(chromedp.ID("oidc-login")))
	waitFor("logged in as the provider's admin", `document.getElementById("role")?.textContent === "admin"`)
	issued, refusals, challenge := provider.state()
	if len(issued) != 1 || len(refusals) != 0 || len(challenge) != 1 || challenge[0] != "S256" {
		t.Fatalf("provider: issued %d tokens, refused %v, challenge methods %v: want one S256 login", len(issued), refusals, challenge)
	}
	if got := str(`sessionStorage.getItem("geotrack.token")`); got != issued[0] {
		t.Fatalf("the page keeps token %.40q…, want the provider's ID token", got)
	}
	if got := str(`location.search + location.hash`); got != "#/fleet" {
		t.Fatalf("after the login the address ends in %q: want the code and state gone (#/fleet)", got)
	}
	if got := str(`document.getElementById("tenant").textContent`); got != "tenant demo" {
		t.Fatalf("tenant shown %q, want tenant demo", got)
	}
	// The functions verify the provider's token (OIDC_ISSUER): the fleet reads.
	waitFor("the simulated fleet listed with the OIDC token", `document.querySelectorAll('#fleet-list li[data-device^="sim-"]').length === 3`)

	// A redirect no login of this tab started: refused, nothing kept.
	run("log out", chromedp.Click(chromedp.ID("logout")))
	waitFor("the login page", `document.getElementById("oidc-login")`)
	run("a forged redirect", chromedp.Navigate(dashboardURL+"?code=stolen&state=forged"))
	waitFor("the forged redirect refused", `document.getElementById("status")?.textContent.includes("state")`)
	if got := str(`(sessionStorage.getItem("geotrack.token") || "") + "|" + location.search + "|" + (document.getElementById("role")?.textContent || "")`); got != "||" {
		t.Fatalf("after a forged redirect: token|query|role = %q, want none", got)
	}
	if _, refusals, _ := provider.state(); len(refusals) != 0 {
		t.Fatalf("the forged code reached the provider: %v", refusals)
	}
	if e := errs.list(); len(e) > 0 {
		t.Fatalf("browser console errors:\n%s", strings.Join(e, "\n"))
	}
	t.Logf("OIDC login: one S256 code exchange, ID token kept, fleet read with it; forged state refused (provider %s)", provider.srv.URL)
}
