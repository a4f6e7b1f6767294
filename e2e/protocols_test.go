package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestDeviceProtocols drives owntracks and osmand in cloud mode the way the
// OwnTracks app and Traccar Client do, and reads the result back.
func TestDeviceProtocols(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL}
	ot := startFunction(t, "owntracks", env)
	osm := startFunction(t, "osmand", env)
	position := startFunction(t, "position", env)
	client := startCloud(t, rs.URL) // for snapshots and the ingest-side checks
	viewer := token(t, "acme", auth.RoleViewer, "")
	now := time.Now().Unix()

	basic := func(user, tok string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+tok))
	}
	phoneTok := token(t, "acme", auth.RoleDevice, "jane:phone")

	t.Run("owntracks location", func(t *testing.T) {
		body := fmt.Sprintf(`{"_type":"location","lat":52.52,"lon":13.405,"tst":%d,"acc":12,"alt":40,"vel":36,"cog":90,"batt":57,"tid":"jp","conn":"m"}`, now-10)
		r := call(t, http.MethodPost, ot.URL, "", hdr("Content-Type", "application/json", "X-Limit-U", "jane", "X-Limit-D", "phone",
			"Authorization", basic("jane", phoneTok)), []byte(body))
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "[]" {
			t.Fatalf("owntracks: %d %s", r.Status, r.Body)
		}
		var p point
		var raw struct {
			Speed, Battery, Heading float64
		}
		res := call(t, http.MethodGet, position.URL+"?device=jane:phone", viewer, nil, nil)
		res.JSON(t, &p)
		res.JSON(t, &raw)
		if res.Status != 200 || p.Lat != 52.52 || raw.Speed != 10 || raw.Battery != 0.57 || raw.Heading != 90 {
			t.Fatalf("stored: %d %s", res.Status, res.Body)
		}
	})
	t.Run("owntracks ?u=&d= and other message types", func(t *testing.T) {
		for _, body := range []string{
			`{"_type":"transition","event":"enter","desc":"Home","tst":1,"lat":1,"lon":1,"wtst":1,"acc":1,"t":"c"}`,
			`{"_type":"lwt","tst":1}`, `{"_type":"waypoints","waypoints":[]}`, `{"_type":"status"}`, ``,
		} {
			r := call(t, http.MethodPost, ot.URL+"?u=jane&d=phone", "", hdr("Content-Type", "application/json",
				"Authorization", basic("jane", phoneTok)), []byte(body))
			if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "[]" {
				t.Fatalf("%s: %d %s", body, r.Status, r.Body)
			}
		}
	})
	t.Run("owntracks bad input", func(t *testing.T) {
		before := snapshot(t, client.redis)
		cases := []struct{ body, want string }{
			{`{"_type":"location","lat":95,"lon":1,"tst":` + fmt.Sprint(now) + `}`, "lat"},
			{`{"_type":"location","lat":1,"lon":1}`, "tst"},
			{`{"lat":1}`, "_type"},
			{`{"_type":"location",`, "body"},
		}
		for _, tc := range cases {
			r := call(t, http.MethodPost, ot.URL+"?u=jane&d=phone", "", hdr("Authorization", basic("jane", phoneTok)), []byte(tc.body))
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.want) {
				t.Errorf("%s: %d %s (want 400 naming %s)", tc.body, r.Status, r.Body, tc.want)
			}
		}
		r := call(t, http.MethodPost, ot.URL+"?u=jane&d=tablet", "", hdr("Authorization", basic("jane", phoneTok)),
			[]byte(fmt.Sprintf(`{"_type":"location","lat":1,"lon":1,"tst":%d}`, now)))
		if r.Status != http.StatusForbidden {
			t.Errorf("another device's token: %d %s", r.Status, r.Body)
		}
		r = call(t, http.MethodPost, ot.URL+"?u=jane&d=phone", "", hdr("Authorization", basic("jane", "wrong")), []byte(`{"_type":"status"}`))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("bad password: %d", r.Status)
		}
		if snapshot(t, client.redis) != before {
			t.Fatal("rejected OwnTracks input changed Redis")
		}
	})

	t.Run("GeoJSON and GPX documents through ingest", func(t *testing.T) {
		svc := token(t, "acme", auth.RoleService, "")
		t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		ts := func(i int) string { return t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339) }
		docs := []struct{ device, contentType, body string }{
			{"geo-1", "application/geo+json", fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature",
				"properties":{"coordTimes":[%q,%q,%q]},
				"geometry":{"type":"LineString","coordinates":[[13.40,52.52,35],[13.41,52.521,36],[13.42,52.522,37]]}}]}`, ts(0), ts(1), ts(2))},
			{"gpx-1", "application/gpx+xml", fmt.Sprintf(`<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
				<trk><trkseg><trkpt lat="52.52" lon="13.40"><ele>35</ele><time>%s</time></trkpt>
				<trkpt lat="52.521" lon="13.41"><time>%s</time></trkpt><trkpt lat="52.522" lon="13.42"><time>%s</time></trkpt></trkseg></trk></gpx>`, ts(0), ts(1), ts(2))},
		}
		for _, d := range docs {
			r := call(t, http.MethodPost, client.ingest.URL+"?device="+d.device, svc, hdr("Content-Type", d.contentType), []byte(d.body))
			var s summary
			r.JSON(t, &s)
			if r.Status != http.StatusAccepted || s.Accepted != 3 {
				t.Fatalf("%s: %d %s", d.contentType, r.Status, r.Body)
			}
			if p := getTrack(t, client, viewer, "device="+d.device); len(p.Points) != 3 || p.Points[2].Lat != 52.522 {
				t.Fatalf("%s stored %+v", d.contentType, p.Points)
			}
		}
		// A document without times is refused, naming where.
		r := call(t, http.MethodPost, client.ingest.URL+"?device=gpx-2", svc, hdr("Content-Type", "application/gpx+xml"),
			[]byte(`<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>`))
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "trkpt[0].time") {
			t.Fatalf("untimed GPX: %d %s", r.Status, r.Body)
		}
	})

	trackerTok := token(t, "acme", auth.RoleDevice, "tracker-9")
	t.Run("osmand query with token", func(t *testing.T) {
		q := url.Values{"id": {"tracker-9"}, "lat": {"48.2082"}, "lon": {"16.3738"}, "timestamp": {fmt.Sprint(now - 5)},
			"speed": {"10"}, "bearing": {"180"}, "altitude": {"170"}, "accuracy": {"8"}, "batt": {"88"}, "token": {trackerTok}}
		r := call(t, http.MethodGet, osm.URL+"?"+q.Encode(), "", nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("osmand GET: %d %s", r.Status, r.Body)
		}
		var got struct {
			Lat, Speed float64
			Attrs      map[string]string
		}
		call(t, http.MethodGet, position.URL+"?device=tracker-9", viewer, nil, nil).JSON(t, &got)
		if got.Lat != 48.2082 || got.Speed < 5.14 || got.Speed > 5.15 {
			t.Fatalf("stored %+v (speed must be 10 kn = 5.144 m/s)", got)
		}
	})
	t.Run("osmand form post and Traccar Client JSON", func(t *testing.T) {
		form := url.Values{"deviceid": {"tracker-9"}, "location": {"48.21,16.38"}, "timestamp": {time.Unix(now-4, 0).UTC().Format("2006-01-02 15:04:05")}}
		r := call(t, http.MethodPost, osm.URL+"?token="+trackerTok, "", hdr("Content-Type", "application/x-www-form-urlencoded"), []byte(form.Encode()))
		if r.Status != http.StatusOK {
			t.Fatalf("form: %d %s", r.Status, r.Body)
		}
		js := fmt.Sprintf(`{"device_id":"tracker-9","location":{"timestamp":%q,"coords":{"latitude":48.22,"longitude":16.39,"speed":3,"heading":10,"accuracy":5,"altitude":100},"battery":{"level":0.5},"is_moving":true,"odometer":1200}}`,
			time.Unix(now-3, 0).UTC().Format(time.RFC3339))
		r = call(t, http.MethodPost, osm.URL, trackerTok, hdr("Content-Type", "application/json"), []byte(js))
		if r.Status != http.StatusOK {
			t.Fatalf("json: %d %s", r.Status, r.Body)
		}
		var p point
		call(t, http.MethodGet, position.URL+"?device=tracker-9", viewer, nil, nil).JSON(t, &p)
		if p.Lat != 48.22 {
			t.Fatalf("latest is %+v, want the JSON fix", p)
		}
	})
	t.Run("osmand bad input", func(t *testing.T) {
		before := snapshot(t, client.redis)
		cases := []struct{ query, want string }{
			{"id=tracker-9&lat=91&lon=1", "lat"},
			{"id=tracker-9&lat=1", "lon"},
			{"lat=1&lon=1", "id"},
			{"id=tracker-9&lat=1&lon=1&timestamp=tomorrow", "timestamp"},
			{"id=tracker-9&lat=abc&lon=1", "lat"},
		}
		for _, tc := range cases {
			r := call(t, http.MethodGet, osm.URL+"?"+tc.query+"&token="+trackerTok, "", nil, nil)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.want) {
				t.Errorf("%s: %d %s (want 400 naming %s)", tc.query, r.Status, r.Body, tc.want)
			}
		}
		if r := call(t, http.MethodGet, osm.URL+"?id=tracker-9&lat=1&lon=1", "", nil, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("no token: %d", r.Status)
		}
		if snapshot(t, client.redis) != before {
			t.Fatal("rejected OsmAnd input changed Redis")
		}
	})
}
