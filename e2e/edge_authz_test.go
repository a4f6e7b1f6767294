package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// edgeCaller is one row of the edge matrices: a credential and the tenant
// it belongs to ("" when it names none that can be trusted).
type edgeCaller struct {
	name, tok, tenant string
}

// edgeCallers are the roles and broken credentials every edge function is
// tried with, when the request reports device: tokens of the device role
// are for that device ("own") or another one ("other device").
func edgeCallers(t *testing.T, tenant, device string) []edgeCaller {
	t.Helper()
	future := time.Now().Add(time.Hour).Unix()
	return []edgeCaller{
		{"device own", token(t, tenant, auth.RoleDevice, device), tenant},
		{"device other device", token(t, tenant, auth.RoleDevice, "van-2"), tenant},
		{"viewer", token(t, tenant, auth.RoleViewer, ""), tenant},
		{"admin", token(t, tenant, auth.RoleAdmin, ""), tenant},
		{"service", token(t, tenant, auth.RoleService, ""), tenant},
		{"no token", "", ""},
		{"expired", signRaw(t, jwt.MapClaims{"tenant": tenant, "role": "device", "device": device, "exp": time.Now().Add(-time.Hour).Unix()}, testSecret), ""},
		{"wrong key", signRaw(t, jwt.MapClaims{"tenant": tenant, "role": "device", "device": device, "exp": future}, "another-secret-0123456789"), ""},
		{"garbage", "not.a.jwt", ""},
	}
}

// writeStatus is what a write of a device answers each caller when it is
// allowed (ok): only the device's own token, admin and service
// may report it; viewers and other devices are forbidden; broken
// credentials are unauthenticated.
func writeStatus(caller string, ok int) int {
	switch caller {
	case "device own", "admin", "service":
		return ok
	case "device other device", "viewer":
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// rawLog reads the edge raw log: every fix edge-ingest, owntracks and
// osmand received, with the tenant it was received for.
func rawLog(t *testing.T, c redis.UniversalClient) []redis.XMessage {
	t.Helper()
	msgs, err := c.XRange(context.Background(), redisstore.RawKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestEdgeFunctionsRoleTenantMatrix: edge-ingest, owntracks (Basic auth with
// the token as password, and Bearer) and osmand (?token= and Bearer), in
// EDGE_MODE, against every role and broken credential, for the caller's own
// tenant and another one. A refused request leaves the edge Redis exactly as
// it was; an accepted one adds one raw-log entry, for the token's tenant.
func TestEdgeFunctionsRoleTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{
		"REDIS_URL": rs.URL, "EDGE_NODE_ID": "site-1", "EDGE_MODE": "true",
		// No idle flush during the test: a refused request must leave
		// Redis byte for byte as it was, so nothing else may write.
		"EDGE_IDLE_AFTER": "1h", "EDGE_FLUSH_INTERVAL": "1h",
	}
	edgeIngest := startFunction(t, "edge-ingest", env)
	ownTracks := startFunction(t, "owntracks", env)
	osmAnd := startFunction(t, "osmand", env)
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	// Every request carries a new fix (a new second), so that an accepted
	// one is never a duplicate that stores nothing.
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	sec := 0
	next := func() time.Time { sec++; return start.Add(time.Duration(sec) * time.Second) }

	basic := func(user, tok string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+tok))
	}
	type protocol struct {
		name   string
		device string // the device id the request reports
		ok     int    // the status of an accepted request
		// build makes the request for caller tok; tenant is the tenant the
		// request itself names ("" when the protocol has no place for one).
		build func(tok, tenant string) request
	}
	protocols := []protocol{
		{"edge-ingest", "van-1", http.StatusAccepted, func(tok, tenant string) request {
			ce := map[string]any{"specversion": "1.0", "id": fmt.Sprintf("authz-%d", sec), "source": "urn:device:van-1",
				"type": "io.geotrack.location.reported", "subject": "van-1", "tenant": tenant,
				"data": json.RawMessage(fixAt("van-1", next(), 48.8566, 2.3522))}
			body, _ := json.Marshal(ce)
			h := hdr("Content-Type", "application/cloudevents+json")
			if tok != "" {
				h.Set("Authorization", "Bearer "+tok)
			}
			return request{http.MethodPost, edgeIngest.URL, h, body}
		}},
		// The OwnTracks device id is "<user>:<device>" (X-Limit-U/X-Limit-D).
		{"owntracks Basic", "jane:phone", http.StatusOK, func(tok, _ string) request {
			return ownTracksRequest(ownTracks.URL, hdr("Authorization", basic("jane", tok)), next())
		}},
		{"owntracks Bearer", "jane:phone", http.StatusOK, func(tok, _ string) request {
			h := http.Header{}
			if tok != "" {
				h.Set("Authorization", "Bearer "+tok)
			}
			return ownTracksRequest(ownTracks.URL, h, next())
		}},
		{"osmand ?token=", "van-1", http.StatusOK, func(tok, _ string) request {
			q := osmAndQuery(next())
			if tok != "" {
				q.Set("token", tok)
			}
			return request{http.MethodGet, osmAnd.URL + "?" + q.Encode(), nil, nil}
		}},
		{"osmand Bearer", "van-1", http.StatusOK, func(tok, _ string) request {
			h := http.Header{}
			if tok != "" {
				h.Set("Authorization", "Bearer "+tok)
			}
			return request{http.MethodGet, osmAnd.URL + "?" + osmAndQuery(next()).Encode(), h, nil}
		}},
	}
	for _, proto := range protocols {
		for _, own := range []bool{true, false} {
			// "own tenant": acme's credentials, the request naming acme
			// where the protocol can name a tenant (edge-ingest's CloudEvent
			// tenant extension). "another tenant": acme's credentials with
			// the request naming globex; the device protocols have no place
			// for a tenant, so there the token is globex's and the same
			// device id reported to acme before must be logged for globex.
			tenantCase, callerTenant, named := "own tenant", "acme", "acme"
			if !own {
				tenantCase, named = "another tenant", "globex"
				if proto.name != "edge-ingest" {
					callerTenant, named = "globex", ""
				}
			}
			for _, cl := range edgeCallers(t, callerTenant, proto.device) {
				t.Run(proto.name+"/"+tenantCase+"/"+cl.name, func(t *testing.T) {
					want := writeStatus(cl.name, proto.ok)
					if proto.name == "edge-ingest" && named != cl.tenant && want != http.StatusUnauthorized {
						want = http.StatusForbidden // an event for a tenant the token is not of
					}
					before, beforeLog := snapshot(t, client), rawLog(t, client)
					req := proto.build(cl.tok, named)
					r := call(t, req.method, req.url, "", req.header, req.body)
					if r.Status != want {
						t.Errorf("%s %s: %d, want %d (%s)", req.method, proto.name, r.Status, want, r.Body)
					}
					if r.Status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					if r.Status >= 300 {
						if after := snapshot(t, client); after != before {
							t.Errorf("a refused request changed the edge Redis:\nbefore %s\nafter %s", tail(before, 400), tail(after, 400))
						}
						return
					}
					added := rawLog(t, client)[len(beforeLog):]
					if len(added) != 1 || added[0].Values["tenant"] != cl.tenant {
						t.Fatalf("accepted request logged %v, want one fix for tenant %s", added, cl.tenant)
					}
					var logged struct{ Device string }
					if err := json.Unmarshal([]byte(fmt.Sprint(added[0].Values["fix"])), &logged); err != nil || logged.Device != proto.device {
						t.Errorf("logged fix %v (%v), want device %s", added[0].Values["fix"], err, proto.device)
					}
				})
			}
		}
	}
}

// fixAt is the JSON of a fix of device at ts.
func fixAt(device string, ts time.Time, lat, lon float64) string {
	return fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%v,"lon":%v,"acc":8}`, device, ts.UTC().Format(time.RFC3339), lat, lon)
}

// request is one HTTP request of a matrix row.
type request struct {
	method, url string
	header      http.Header
	body        []byte
}

// ownTracksRequest is an OwnTracks HTTP-mode location of device jane:phone
// (user jane, device phone, as the app sends them).
func ownTracksRequest(base string, h http.Header, ts time.Time) request {
	h.Set("Content-Type", "application/json")
	h.Set("X-Limit-U", "jane")
	h.Set("X-Limit-D", "phone")
	body := fmt.Sprintf(`{"_type":"location","lat":48.8566,"lon":2.3522,"tst":%d,"acc":8,"tid":"jp"}`, ts.Unix())
	return request{http.MethodPost, base, h, []byte(body)}
}

// osmAndQuery is an OsmAnd report of van-1 at ts, without credentials.
func osmAndQuery(ts time.Time) url.Values {
	return url.Values{"id": {"van-1"}, "lat": {"48.8566"}, "lon": {"2.3522"}, "timestamp": {fmt.Sprint(ts.Unix())}, "accuracy": {"8"}}
}

// TestForwarderRoleTenantMatrix: the forwarder takes no caller input. A
// POST (a cron tick, a wake-up event, or anyone's request) only drains the
// edge outbox to CLOUD_INGEST_URL with the forwarder's own service token,
// so it authenticates no caller: every role and broken credential, of the
// forwarder's tenant or another, gets the same 200, and whatever the body
// says (here a fix for the caller's tenant) is stored nowhere, at the edge
// or in the cloud. What is queued reaches the cloud under the forwarder's
// token's tenant only, whoever triggered the drain.
func TestForwarderRoleTenantMatrix(t *testing.T) {
	edgeRedis, cloudRedis := testenv.StartRedis(t), testenv.StartRedis(t)
	cloudIngest := startFunction(t, "ingest", map[string]string{"REDIS_URL": cloudRedis.URL})
	forwarder := startFunction(t, "forwarder", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "CLOUD_INGEST_URL": cloudIngest.URL,
		"EDGE_SERVICE_TOKEN": token(t, "acme", auth.RoleService, ""),
	})
	edgeClient, err := redisstore.Open(edgeRedis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edgeClient.Close() })
	cloudClient, err := redisstore.Open(cloudRedis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloudClient.Close() })

	ts := time.Now().Add(-time.Hour).Truncate(time.Second)
	body := func(tenant string) []byte {
		ts = ts.Add(time.Second)
		return []byte(`{"specversion":"1.0","id":"fw-` + fmt.Sprint(ts.Unix()) + `","source":"urn:device:van-1","type":"io.geotrack.location.reported",` +
			`"subject":"van-1","tenant":"` + tenant + `","data":` + fixAt("van-1", ts, 48.8566, 2.3522) + `}`)
	}
	for _, tenant := range []string{"acme", "globex"} {
		tenantCase := map[string]string{"acme": "own tenant", "globex": "another tenant"}[tenant]
		for _, cl := range edgeCallers(t, tenant, "van-1") {
			t.Run(tenantCase+"/"+cl.name, func(t *testing.T) {
				edgeBefore, cloudBefore := snapshot(t, edgeClient), snapshot(t, cloudClient)
				r := call(t, http.MethodPost, forwarder.URL, cl.tok, hdr("Content-Type", "application/cloudevents+json"), body(tenant))
				var res struct{ Sent, Backlog int }
				if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || res.Sent != 0 || res.Backlog != 0 {
					t.Errorf("POST: %d %s, want 200 with nothing sent from the empty outbox", r.Status, r.Body)
				}
				if r := call(t, http.MethodPut, forwarder.URL, cl.tok, nil, body(tenant)); r.Status != http.StatusMethodNotAllowed {
					t.Errorf("PUT: %d %s, want 405", r.Status, r.Body)
				}
				if snapshot(t, edgeClient) != edgeBefore {
					t.Error("the request's body changed the edge Redis")
				}
				if snapshot(t, cloudClient) != cloudBefore {
					t.Error("the request's body reached the cloud")
				}
			})
		}
	}

	t.Run("a drain triggered by anyone sends under the forwarder's tenant", func(t *testing.T) {
		// Queue one fix of acme's van-1 the way edge-ingest does.
		edgeIngest := startFunction(t, "edge-ingest", map[string]string{
			"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "EDGE_MODE": "true",
			"EDGE_IDLE_AFTER": "1s", "EDGE_FLUSH_INTERVAL": "200ms",
		})
		r := call(t, http.MethodPost, edgeIngest.URL, token(t, "acme", auth.RoleDevice, "van-1"),
			hdr("Content-Type", "application/cloudevents+json"), body("acme"))
		if r.Status != http.StatusAccepted {
			t.Fatalf("edge-ingest: %d %s", r.Status, r.Body)
		}
		ctx := context.Background()
		waitFor(t, "the fix to be queued", 10*time.Second, func() bool { return edgeClient.XLen(ctx, outboxKey).Val() > 0 })
		r = call(t, http.MethodPost, forwarder.URL, token(t, "globex", auth.RoleAdmin, ""), hdr("Content-Type", "application/cloudevents+json"), body("globex"))
		var res struct{ Sent int }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || res.Sent != 1 {
			t.Fatalf("drain triggered by globex's admin: %d %s, want 200 with 1 sent", r.Status, r.Body)
		}
		if n := cloudClient.Exists(ctx, "gt:{acme}:last").Val(); n != 1 {
			t.Error("the queued fix did not reach acme in the cloud")
		}
		if keys := cloudClient.Keys(ctx, "gt:{globex}:*").Val(); len(keys) != 0 {
			t.Errorf("globex's request put data in globex's cloud keys: %v", keys)
		}
	})
}
