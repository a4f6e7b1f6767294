package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// cloud is the foundation's functions served against one Redis.
type cloud struct {
	ingest, position, nearby, track *proc
	redis                           redis.UniversalClient
}

func startCloud(t *testing.T, redisURL string) *cloud {
	t.Helper()
	env := map[string]string{"REDIS_URL": redisURL}
	c := &cloud{
		ingest:   startFunction(t, "ingest", env),
		position: startFunction(t, "position", env),
		nearby:   startFunction(t, "nearby", env),
		track:    startFunction(t, "track", env),
	}
	client, err := redisstore.Open(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c.redis = client
	return c
}

type summary struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
}

type point struct {
	Device    string   `json:"device"`
	TS        string   `json:"ts"`
	Lat       float64  `json:"lat"`
	Lon       float64  `json:"lon"`
	Speed     *float64 `json:"speed"`
	DistanceM float64  `json:"distance_m"`
}

type trackPage struct {
	Device string  `json:"device"`
	Points []point `json:"points"`
	Next   string  `json:"next"`
}

// base is an hour ago, so fixes are inside hot-history retention whenever
// the tests run.
var base = time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)

// tsMS is ts(sec) as the functions write it (UTC, milliseconds).
func tsMS(sec int) string {
	return base.Add(time.Duration(sec) * time.Second).Format("2006-01-02T15:04:05.000Z")
}

func ts(sec int) string { return base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano) }

func fixJSON(device string, sec int, lat, lon float64) string {
	dev := ""
	if device != "" {
		dev = fmt.Sprintf(`"device":%q,`, device)
	}
	return fmt.Sprintf(`{%s"ts":%q,"lat":%g,"lon":%g,"speed":3.5,"acc":4}`, dev, ts(sec), lat, lon)
}

func ingestOK(t *testing.T, c *cloud, tok string, h http.Header, body string, wantAccepted int) summary {
	t.Helper()
	r := call(t, http.MethodPost, c.ingest.URL, tok, h, []byte(body))
	if r.Status != http.StatusAccepted {
		t.Fatalf("ingest: status %d, body %s", r.Status, r.Body)
	}
	var s summary
	r.JSON(t, &s)
	if s.Accepted != wantAccepted {
		t.Fatalf("ingest accepted %d, want %d: %s", s.Accepted, wantAccepted, r.Body)
	}
	return s
}

func getTrack(t *testing.T, c *cloud, tok, query string) trackPage {
	t.Helper()
	r := call(t, http.MethodGet, c.track.URL+"?"+query, tok, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("track %s: %d %s", query, r.Status, r.Body)
	}
	var p trackPage
	r.JSON(t, &p)
	return p
}

// TestFoundation runs the first slice end to end on one Redis server.
func TestFoundation(t *testing.T) {
	rs := testenv.StartRedis(t)
	c := startCloud(t, rs.URL)
	runFoundation(t, c)
}

// TestFoundationOnRedisCluster runs the same slice on a 3-master cluster:
// every key a request touches must hash to one slot.
func TestFoundationOnRedisCluster(t *testing.T) {
	cl := testenv.StartRedisCluster(t, 3)
	c := startCloud(t, cl.URL)
	runFoundation(t, c)
}

func runFoundation(t *testing.T, c *cloud) {
	svc := token(t, "acme", auth.RoleService, "")
	viewer := token(t, "acme", auth.RoleViewer, "")

	t.Run("binary mode, device from subject", func(t *testing.T) {
		h := hdr("Ce-Specversion", "1.0", "Ce-Id", "bin-1", "Ce-Source", "urn:test", "Ce-Type", "io.geotrack.location.reported",
			"Ce-Subject", "truck-1", "Content-Type", "application/json")
		ingestOK(t, c, svc, h, fixJSON("", 0, 51.5007, -0.1246), 1)
	})
	t.Run("structured mode", func(t *testing.T) {
		body := fmt.Sprintf(`{"specversion":"1.0","id":"st-1","source":"urn:test","type":"io.geotrack.location.reported",
			"subject":"truck-2","datacontenttype":"application/json","data":[%s,%s]}`,
			fixJSON("", 0, 51.5010, -0.1200), fixJSON("", 10, 51.5020, -0.1210))
		ingestOK(t, c, svc, hdr("Content-Type", "application/cloudevents+json"), body, 2)
	})
	t.Run("structured event posted as plain JSON", func(t *testing.T) {
		body := fmt.Sprintf(`{"specversion":"1.0","id":"st-2","source":"urn:test","type":"io.geotrack.location.reported","data":%s}`,
			fixJSON("truck-3", 0, 51.5100, -0.1300))
		ingestOK(t, c, svc, hdr("Content-Type", "application/json"), body, 1)
	})
	t.Run("batch mode with charset", func(t *testing.T) {
		body := "["
		for i := 0; i < 3; i++ {
			if i > 0 {
				body += ","
			}
			body += fmt.Sprintf(`{"specversion":"1.0","id":"b-%d","source":"urn:test","type":"io.geotrack.location.reported","data":%s}`,
				i, fixJSON("truck-4", 20+i, 51.52+float64(i)*0.001, -0.13))
		}
		body += "]"
		ingestOK(t, c, svc, hdr("Content-Type", "application/cloudevents-batch+json; charset=utf-8"), body, 3)
	})
	t.Run("plain JSON from a connector", func(t *testing.T) {
		h := hdr("Content-Type", "application/json", "X-Topic", "io.geotrack.location.reported")
		ingestOK(t, c, svc, h, "["+fixJSON("truck-5", 0, 51.4, -0.2)+"]", 1)
	})

	t.Run("position", func(t *testing.T) {
		r := call(t, http.MethodGet, c.position.URL+"?device=truck-2", viewer, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d %s", r.Status, r.Body)
		}
		var p point
		r.JSON(t, &p)
		if p.Device != "truck-2" || p.TS != tsMS(10) || p.Lat != 51.502 || p.Speed == nil || *p.Speed != 3.5 {
			t.Fatalf("latest = %+v", p)
		}
		r = call(t, http.MethodGet, c.position.URL+"?device=nobody", viewer, nil, nil)
		var e struct{ Error string }
		r.JSON(t, &e)
		if r.Status != http.StatusNotFound || e.Error == "" {
			t.Fatalf("unknown device: %d %s", r.Status, r.Body)
		}
	})

	t.Run("nearby nearest first", func(t *testing.T) {
		r := call(t, http.MethodGet, c.nearby.URL+"?lat=51.5007&lon=-0.1246&radius=5000&limit=10", viewer, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d %s", r.Status, r.Body)
		}
		var res struct{ Devices []point }
		r.JSON(t, &res)
		if len(res.Devices) < 3 || res.Devices[0].Device != "truck-1" || res.Devices[0].DistanceM > 1 {
			t.Fatalf("nearby = %+v", res.Devices)
		}
		for i := 1; i < len(res.Devices); i++ {
			if res.Devices[i].DistanceM < res.Devices[i-1].DistanceM {
				t.Fatalf("not nearest first: %+v", res.Devices)
			}
		}
		for _, d := range res.Devices {
			if d.Device == "truck-5" {
				t.Fatalf("truck-5 is ~14 km away, outside 5 km: %+v", d)
			}
		}
		r = call(t, http.MethodGet, c.nearby.URL+"?lat=51.5007&lon=-0.1246&radius=5000&limit=1", viewer, nil, nil)
		r.JSON(t, &res)
		if len(res.Devices) != 1 {
			t.Fatalf("limit=1 gave %d", len(res.Devices))
		}
	})

	t.Run("duplicates acknowledged and stored once", func(t *testing.T) {
		body := fmt.Sprintf(`{"specversion":"1.0","id":"dup-1","source":"urn:test","type":"io.geotrack.location.reported","data":[%s,%s]}`,
			fixJSON("truck-6", 0, 51.5, -0.1), fixJSON("truck-6", 1, 51.5001, -0.1))
		h := hdr("Content-Type", "application/cloudevents+json")
		ingestOK(t, c, svc, h, body, 2)
		s := ingestOK(t, c, svc, h, body, 0)
		if s.Duplicates != 2 {
			t.Fatalf("redelivery duplicates = %d, want 2", s.Duplicates)
		}
		// The same fixes without an event id: deduplicated by device+ts.
		s = ingestOK(t, c, svc, hdr("Content-Type", "application/json"), "["+fixJSON("truck-6", 0, 51.5, -0.1)+"]", 0)
		if s.Duplicates != 1 {
			t.Fatalf("plain resend duplicates = %d, want 1", s.Duplicates)
		}
		if p := getTrack(t, c, viewer, "device=truck-6"); len(p.Points) != 2 {
			t.Fatalf("history has %d points, want 2", len(p.Points))
		}
	})

	t.Run("out of order never moves latest backwards", func(t *testing.T) {
		h := hdr("Content-Type", "application/json")
		ingestOK(t, c, svc, h, "["+fixJSON("truck-7", 100, 51.60, -0.1)+"]", 1)
		ingestOK(t, c, svc, h, "["+fixJSON("truck-7", 50, 51.55, -0.1)+","+fixJSON("truck-7", 75, 51.57, -0.1)+"]", 2)
		var p point
		call(t, http.MethodGet, c.position.URL+"?device=truck-7", viewer, nil, nil).JSON(t, &p)
		if p.TS != tsMS(100) || p.Lat != 51.60 {
			t.Fatalf("latest moved backwards: %+v", p)
		}
		tr := getTrack(t, c, viewer, "device=truck-7")
		if len(tr.Points) != 3 || tr.Points[0].TS != tsMS(50) || tr.Points[2].TS != tsMS(100) {
			t.Fatalf("history not in time order: %+v", tr.Points)
		}
		// nearby must show the latest too
		var res struct{ Devices []point }
		call(t, http.MethodGet, c.nearby.URL+"?lat=51.60&lon=-0.1&radius=10&limit=5", viewer, nil, nil).JSON(t, &res)
		if len(res.Devices) != 1 || res.Devices[0].Device != "truck-7" {
			t.Fatalf("nearby after out-of-order: %+v", res.Devices)
		}
	})

	t.Run("pagination walks every point once", func(t *testing.T) {
		body := "["
		for i := 0; i < 25; i++ {
			if i > 0 {
				body += ","
			}
			body += fixJSON("walker", i, 51.5+float64(i)*0.0001, -0.1)
		}
		body += "]"
		ingestOK(t, c, svc, hdr("Content-Type", "application/json"), body, 25)
		seen := map[string]bool{}
		q := url.Values{"device": {"walker"}, "limit": {"10"}, "from": {ts(0)}, "to": {ts(24)}}
		pages := 0
		for {
			p := getTrack(t, c, viewer, q.Encode())
			pages++
			for _, pt := range p.Points {
				if seen[pt.TS] {
					t.Fatalf("point %s returned twice", pt.TS)
				}
				seen[pt.TS] = true
			}
			if p.Next == "" {
				break
			}
			q.Set("cursor", p.Next)
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 25 || pages != 3 {
			t.Fatalf("saw %d points in %d pages, want 25 in 3", len(seen), pages)
		}
		p := getTrack(t, c, viewer, "device=walker&from="+url.QueryEscape(ts(5))+"&to="+url.QueryEscape(ts(9)))
		if len(p.Points) != 5 {
			t.Fatalf("from/to window gave %d points, want 5", len(p.Points))
		}
	})

	t.Run("geojson and gpx parse back", func(t *testing.T) {
		r := call(t, http.MethodGet, c.track.URL+"?device=walker&format=geojson&limit=100", viewer, nil, nil)
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/geo+json" {
			t.Fatalf("geojson: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		var fc struct {
			Type     string `json:"type"`
			Features []struct {
				Geometry struct {
					Type        string      `json:"type"`
					Coordinates [][]float64 `json:"coordinates"`
				} `json:"geometry"`
				Properties struct {
					CoordTimes []string `json:"coordTimes"`
				} `json:"properties"`
			} `json:"features"`
		}
		if err := json.Unmarshal(r.Body, &fc); err != nil {
			t.Fatal(err)
		}
		if fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].Geometry.Type != "LineString" ||
			len(fc.Features[0].Geometry.Coordinates) != 25 || len(fc.Features[0].Properties.CoordTimes) != 25 {
			t.Fatalf("geojson = %s", r.Body)
		}
		if got := fc.Features[0].Geometry.Coordinates[3]; got[0] != -0.1 || got[1] != 51.5003 {
			t.Fatalf("coordinate order [lon,lat] broken: %v", got)
		}
		r = call(t, http.MethodGet, c.track.URL+"?device=walker&format=gpx&limit=100", viewer, nil, nil)
		var doc struct {
			XMLName xml.Name `xml:"gpx"`
			Version string   `xml:"version,attr"`
			Trk     []struct {
				Seg []struct {
					Pts []struct {
						Lat  float64 `xml:"lat,attr"`
						Lon  float64 `xml:"lon,attr"`
						Time string  `xml:"time"`
					} `xml:"trkpt"`
				} `xml:"trkseg"`
			} `xml:"trk"`
		}
		if err := xml.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("gpx: %v\n%s", err, r.Body)
		}
		if doc.Version != "1.1" || len(doc.Trk) != 1 || len(doc.Trk[0].Seg) != 1 || len(doc.Trk[0].Seg[0].Pts) != 25 {
			t.Fatalf("gpx = %s", r.Body)
		}
		if pt := doc.Trk[0].Seg[0].Pts[0]; pt.Time != tsMS(0) || pt.Lat != 51.5 {
			t.Fatalf("first trkpt = %+v", pt)
		}
	})
}
