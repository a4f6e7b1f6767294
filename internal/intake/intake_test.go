package intake_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func parser() intake.Parser {
	return intake.Parser{Now: func() time.Time { return now }}
}

// fixJSON is one valid fix object; device "" leaves the device out.
func fixJSON(device string, lat float64) string {
	if device == "" {
		return fmt.Sprintf(`{"ts":"2026-11-25T10:00:00Z","lat":%g,"lon":2}`, lat)
	}
	return fmt.Sprintf(`{"device":%q,"ts":"2026-11-25T10:00:00Z","lat":%g,"lon":2}`, device, lat)
}

func plain(data string) events.Envelope {
	return events.Envelope{Mode: events.ModePlain, ContentType: "application/json", Data: []byte(data)}
}

func ce(id, data string) events.Envelope {
	return events.Envelope{
		Mode: events.ModeStructured, ID: id, Source: "src", Type: events.TypeLocationReported,
		ContentType: "application/json", Data: []byte(data), TraceParent: "tp-" + id,
	}
}

func devices(groups []intake.Group) []string {
	var out []string
	for _, g := range groups {
		for _, f := range g.Fixes {
			out = append(out, f.Device)
		}
	}
	return out
}

func requestError(t *testing.T, err error) *httpkit.Error {
	t.Helper()
	var re *httpkit.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *httpkit.Error", err, err)
	}
	return re
}

func TestParseAccepted(t *testing.T) {
	cases := []struct {
		name    string
		env     events.Envelope
		devices []string
	}{
		{"plain single", plain(fixJSON("truck-1", 1)), []string{"truck-1"}},
		{"plain array", plain("[" + fixJSON("a", 1) + "," + fixJSON("b", 2) + "]"), []string{"a", "b"}},
		{"subject default", func() events.Envelope {
			e := plain("[" + fixJSON("", 1) + "," + fixJSON("explicit", 2) + "]")
			e.Subject = "from-subject"
			return e
		}(), []string{"from-subject", "explicit"}},
		{"text/plain", func() events.Envelope {
			e := plain(fixJSON("a", 1))
			e.ContentType = "text/plain; charset=utf-8"
			return e
		}(), []string{"a"}},
		{"+json suffix", func() events.Envelope {
			e := plain(fixJSON("a", 1))
			e.ContentType = "application/vnd.geotrack+json"
			return e
		}(), []string{"a"}},
		{"empty type accepted", func() events.Envelope {
			e := ce("e1", fixJSON("a", 1))
			e.Type = ""
			return e
		}(), []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			groups, rejected, err := parser().Parse([]events.Envelope{tc.env})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(rejected) != 0 {
				t.Fatalf("rejected: %+v", rejected)
			}
			if got := devices(groups); strings.Join(got, ",") != strings.Join(tc.devices, ",") {
				t.Fatalf("devices %v, want %v", got, tc.devices)
			}
			if len(groups) != 1 {
				t.Fatalf("%d groups, want 1", len(groups))
			}
			g := groups[0]
			if g.ID != tc.env.ID || g.Source != tc.env.Source || g.TraceParent != tc.env.TraceParent {
				t.Fatalf("group identity %+v from envelope %+v", g, tc.env)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	with := func(e events.Envelope, mod func(*events.Envelope)) events.Envelope {
		mod(&e)
		return e
	}
	cases := []struct {
		name   string
		env    events.Envelope
		status int
		field  string
		msg    string // substring of the message
	}{
		{"unknown type plain", with(plain(fixJSON("a", 1)), func(e *events.Envelope) { e.Type = "io.example.other" }),
			http.StatusBadRequest, "type", "io.example.other"},
		{"unknown type event", with(ce("e1", fixJSON("a", 1)), func(e *events.Envelope) { e.Type = events.TypeEdgeStored }),
			http.StatusBadRequest, "type", events.TypeLocationReported},
		{"unsupported plain", with(plain("<gpx/>"), func(e *events.Envelope) { e.ContentType = "application/xml" }),
			http.StatusUnsupportedMediaType, "content-type", "application/xml"},
		{"unsupported event", with(ce("e1", "<gpx/>"), func(e *events.Envelope) { e.ContentType = "application/xml" }),
			http.StatusUnsupportedMediaType, "datacontenttype", "application/xml"},
		{"unsupported binary", with(ce("e1", "x"), func(e *events.Envelope) { e.Mode = events.ModeBinary; e.ContentType = "image/png" }),
			http.StatusUnsupportedMediaType, "datacontenttype", "image/png"},
		{"unparseable plain", with(plain("{}"), func(e *events.Envelope) { e.ContentType = "bad/type/x" }),
			http.StatusUnsupportedMediaType, "content-type", "cannot parse"},
		{"empty content type", with(plain("{}"), func(e *events.Envelope) { e.ContentType = "" }),
			http.StatusUnsupportedMediaType, "content-type", "cannot parse"},
		{"unparseable event", with(ce("e1", "{}"), func(e *events.Envelope) { e.ContentType = ";" }),
			http.StatusUnsupportedMediaType, "datacontenttype", "cannot parse"},
		{"malformed JSON", plain(`{"device":`), http.StatusBadRequest, "body", "malformed"},
		{"empty array", plain(`[]`), http.StatusBadRequest, "body", "empty array"},
		{"scalar", plain(`42`), http.StatusBadRequest, "body", "expected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			groups, rejected, err := parser().Parse([]events.Envelope{tc.env})
			re := requestError(t, err)
			if re.Status != tc.status || re.Field != tc.field || !strings.Contains(re.Msg, tc.msg) {
				t.Fatalf("got %d %q %q, want %d %q containing %q", re.Status, re.Field, re.Msg, tc.status, tc.field, tc.msg)
			}
			if !strings.HasPrefix(re.Error(), tc.field+": ") {
				t.Fatalf("Error() %q does not name %q", re.Error(), tc.field)
			}
			if groups != nil || rejected != nil {
				t.Fatalf("partial result with error: %+v %+v", groups, rejected)
			}
		})
	}
}

func TestParseBatchOfEnvelopes(t *testing.T) {
	badType := ce("e2", fixJSON("b", 1))
	badType.Type = "io.example.other"
	badMedia := ce("e4", "x")
	badMedia.ContentType = "application/xml"
	envs := []events.Envelope{
		ce("e1", "["+fixJSON("a", 1)+","+fixJSON("a", 95)+"]"), // fixes 0 (ok), 1 (lat)
		badType,                           // event rejected, consumes no index
		ce("e3", "["+fixJSON("c", 1)+"]"), // fix 2
		badMedia,                          // event rejected
		ce("e5", `[{"device":"d","lat":1,"lon":2},`+fixJSON("d", 3)+`]`),             // fixes 3 (ts), 4 (ok)
		ce("e6", `{"device":"all bad","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`), // fix 5 (device)
	}
	groups, rejected, err := parser().Parse(envs)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	wantGroups := []struct {
		id      string
		devices string
	}{{"e1", "a"}, {"e3", "c"}, {"e5", "d"}}
	if len(groups) != len(wantGroups) {
		t.Fatalf("%d groups, want %d: %+v", len(groups), len(wantGroups), groups)
	}
	for i, w := range wantGroups {
		g := groups[i]
		if g.ID != w.id || g.Source != "src" || g.TraceParent != "tp-"+w.id || strings.Join(devices([]intake.Group{g}), ",") != w.devices {
			t.Errorf("group %d: %+v, want id %s devices %s", i, g, w.id, w.devices)
		}
	}
	if n := intake.Count(groups); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}

	want := []struct {
		index int
		event string
		field string
	}{
		{1, "e1", "lat"},
		{2, "e2", "type"},
		{3, "e4", "datacontenttype"},
		{3, "e5", "ts"},
		{5, "e6", "device"},
	}
	if len(rejected) != len(want) {
		t.Fatalf("%d rejections, want %d: %+v", len(rejected), len(want), rejected)
	}
	for i, w := range want {
		r := rejected[i]
		if r.Index != w.index || r.Event != w.event || !strings.HasPrefix(r.Error, w.field+": ") {
			t.Errorf("rejection %d: %+v, want index %d event %s field %s", i, r, w.index, w.event, w.field)
		}
	}
}

func TestParsePlainRejectionsHaveNoEvent(t *testing.T) {
	groups, rejected, err := parser().Parse([]events.Envelope{plain("[" + fixJSON("a", 1) + `,{"device":"b"},` + fixJSON("c", -100) + "]")})
	if err != nil {
		t.Fatal(err)
	}
	if intake.Count(groups) != 1 || len(rejected) != 2 {
		t.Fatalf("groups %+v rejected %+v", groups, rejected)
	}
	for i, want := range []struct {
		index int
		field string
	}{{1, "ts"}, {2, "lat"}} {
		r := rejected[i]
		if r.Index != want.index || r.Event != "" || !strings.HasPrefix(r.Error, want.field+":") {
			t.Errorf("rejection %d: %+v, want %+v", i, r, want)
		}
	}
}

func TestParseAllInvalidKeepsNoGroup(t *testing.T) {
	groups, rejected, err := parser().Parse([]events.Envelope{plain(fixJSON("", 1))}) // no device, no subject
	if err != nil {
		t.Fatal(err)
	}
	if groups != nil || len(rejected) != 1 || !strings.HasPrefix(rejected[0].Error, "device:") {
		t.Fatalf("groups %+v rejected %+v", groups, rejected)
	}
}

func TestParseFutureRelativeToNow(t *testing.T) {
	data := `{"device":"a","ts":"2026-11-26T13:00:00Z","lat":1,"lon":2}` // 25h after now
	_, rejected, err := parser().Parse([]events.Envelope{plain(data)})
	if err != nil || len(rejected) != 1 || !strings.HasPrefix(rejected[0].Error, "ts:") {
		t.Fatalf("rejected %+v err %v", rejected, err)
	}
	later := intake.Parser{Now: func() time.Time { return now.Add(2 * time.Hour) }}
	groups, rejected, err := later.Parse([]events.Envelope{plain(data)})
	if err != nil || len(rejected) != 0 || intake.Count(groups) != 1 {
		t.Fatalf("with a later clock: groups %+v rejected %+v err %v", groups, rejected, err)
	}
}

func batch(n int, device string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fixJSON(device, 1)
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestParseTooManyFixes(t *testing.T) {
	half := fix.MaxBatch/2 + 1
	cases := []struct {
		name   string
		envs   []events.Envelope
		status int
	}{
		{"exactly MaxBatch over two events", []events.Envelope{ce("e1", batch(fix.MaxBatch/2, "a")), ce("e2", batch(fix.MaxBatch/2, "b"))}, 0},
		{"over MaxBatch over two events", []events.Envelope{ce("e1", batch(half, "a")), ce("e2", batch(half, "b"))}, http.StatusRequestEntityTooLarge},
		{"over MaxBatch in one plain array", []events.Envelope{plain(batch(fix.MaxBatch+1, "a"))}, http.StatusBadRequest},
		{"invalid fixes count too", []events.Envelope{ce("e1", batch(half, "bad device")), ce("e2", batch(half, "b"))}, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			groups, _, err := parser().Parse(tc.envs)
			if tc.status == 0 {
				if err != nil || intake.Count(groups) != fix.MaxBatch {
					t.Fatalf("Count %d, err %v", intake.Count(groups), err)
				}
				return
			}
			re := requestError(t, err)
			if re.Status != tc.status || re.Field != "body" {
				t.Fatalf("got %d %q %q, want %d body", re.Status, re.Field, re.Msg, tc.status)
			}
			if groups != nil {
				t.Fatalf("groups returned with error")
			}
		})
	}
}

func TestParseCustomDecoder(t *testing.T) {
	const mt = "application/x-test"
	var gotSubject string
	p := parser()
	p.Decoders = map[string]intake.DataDecoder{
		mt: func(data []byte, subject string) ([]fix.Fix, error) {
			gotSubject = subject
			switch string(data) {
			case "field-error":
				return nil, &fix.FieldError{Field: "trkpt", Msg: "no lat"}
			case "other-error":
				return nil, errors.New("truncated document")
			case "too-many":
				return make([]fix.Fix, fix.MaxBatch+1), nil
			}
			return []fix.Fix{
				{Device: subject, TS: now.Add(-time.Minute), Lat: 1, Lon: 2},
				{Device: subject, TS: now, Lat: 99, Lon: 2}, // invalid lat: rejected after decoding
				{Device: subject, TS: now, Lat: 3, Lon: 4},
			}, nil
		},
	}
	env := func(data string) events.Envelope {
		return events.Envelope{Mode: events.ModeBinary, ID: "g1", Type: events.TypeLocationReported,
			Subject: "gpx-dev", ContentType: mt + "; charset=utf-8", Data: []byte(data)}
	}

	groups, rejected, err := p.Parse([]events.Envelope{env("ok")})
	if err != nil {
		t.Fatal(err)
	}
	if gotSubject != "gpx-dev" {
		t.Errorf("decoder got subject %q", gotSubject)
	}
	if intake.Count(groups) != 2 || groups[0].ID != "g1" {
		t.Errorf("groups %+v", groups)
	}
	if len(rejected) != 1 || rejected[0].Index != 1 || rejected[0].Event != "g1" || !strings.HasPrefix(rejected[0].Error, "lat:") {
		t.Errorf("rejected %+v", rejected)
	}

	errCases := []struct {
		data   string
		status int
		field  string
	}{
		{"field-error", http.StatusBadRequest, "trkpt"},
		{"other-error", http.StatusBadRequest, "body"},
		{"too-many", http.StatusRequestEntityTooLarge, "body"},
	}
	for _, tc := range errCases {
		t.Run(tc.data, func(t *testing.T) {
			_, _, err := p.Parse([]events.Envelope{env(tc.data)})
			re := requestError(t, err)
			if re.Status != tc.status || re.Field != tc.field {
				t.Fatalf("got %d %q %q, want %d %q", re.Status, re.Field, re.Msg, tc.status, tc.field)
			}
		})
	}

	// An unsupported type lists the registered decoders.
	e := env("ok")
	e.ContentType = "application/xml"
	_, _, err = p.Parse([]events.Envelope{e})
	if re := requestError(t, err); re.Status != http.StatusUnsupportedMediaType || !strings.Contains(re.Msg, mt) {
		t.Fatalf("415 message %q does not list %s", re.Msg, mt)
	}
}

func TestValidate(t *testing.T) {
	fixes := []fix.Fix{
		{Device: "a", TS: now, Lat: 1, Lon: 2},
		{Device: "", TS: now, Lat: 1, Lon: 2},
		{Device: "b", TS: now, Lat: 1, Lon: 181},
		{Device: "c", TS: now, Lat: 1, Lon: 2, Battery: fix.Float(0.5)},
		{Device: "d", Lat: 1, Lon: 2},
	}
	g, rejected := parser().Validate(fixes)
	if g.ID != "" || g.Source != "" {
		t.Errorf("Validate group has an event identity: %+v", g)
	}
	if got := strings.Join(devices(g.Groups()), ","); got != "a,c" {
		t.Errorf("accepted %q, want a,c", got)
	}
	want := []struct {
		index int
		field string
	}{{1, "device"}, {2, "lon"}, {4, "ts"}}
	if len(rejected) != len(want) {
		t.Fatalf("rejected %+v", rejected)
	}
	for i, w := range want {
		if rejected[i].Index != w.index || rejected[i].Event != "" || !strings.HasPrefix(rejected[i].Error, w.field+":") {
			t.Errorf("rejection %d: %+v, want %+v", i, rejected[i], w)
		}
	}

	empty, rejected := parser().Validate([]fix.Fix{{Device: "x"}})
	if empty.Groups() != nil || len(rejected) != 1 {
		t.Errorf("all invalid: groups %+v rejected %+v", empty.Groups(), rejected)
	}
	if g, r := parser().Validate(nil); g.Groups() != nil || r != nil {
		t.Errorf("nil input: %+v %+v", g, r)
	}
}

func TestAuthorize(t *testing.T) {
	groups := []intake.Group{
		{Fixes: []fix.Fix{{Device: "d1"}, {Device: "d1"}}},
		{Fixes: []fix.Fix{{Device: "d1"}}},
	}
	mixed := []intake.Group{
		{Fixes: []fix.Fix{{Device: "d1"}}},
		{Fixes: []fix.Fix{{Device: "d1"}, {Device: "d2"}}},
	}
	cases := []struct {
		name   string
		p      auth.Principal
		groups []intake.Group
		want   error
	}{
		{"device own", auth.Principal{Tenant: "t", Role: auth.RoleDevice, Device: "d1"}, groups, nil},
		{"device other", auth.Principal{Tenant: "t", Role: auth.RoleDevice, Device: "d1"}, mixed, auth.ErrForbidden},
		{"device none", auth.Principal{Tenant: "t", Role: auth.RoleDevice, Device: "d9"}, groups, auth.ErrForbidden},
		{"service any", auth.Principal{Tenant: "t", Role: auth.RoleService}, mixed, nil},
		{"admin any", auth.Principal{Tenant: "t", Role: auth.RoleAdmin}, mixed, nil},
		{"viewer", auth.Principal{Tenant: "t", Role: auth.RoleViewer}, groups, auth.ErrForbidden},
		{"viewer empty", auth.Principal{Tenant: "t", Role: auth.RoleViewer}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := intake.Authorize(tc.p, tc.groups)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want wrapping %v", err, tc.want)
			}
		})
	}
	err := intake.Authorize(auth.Principal{Tenant: "t", Role: auth.RoleDevice, Device: "d1"}, mixed)
	if err == nil || !strings.Contains(err.Error(), `"d2"`) {
		t.Fatalf("error %v does not name the other device", err)
	}
}

func TestSummaryStatus(t *testing.T) {
	rej := []intake.Rejection{{Index: 0, Error: "lat: bad"}}
	cases := []struct {
		name string
		s    intake.Summary
		want int
	}{
		{"empty", intake.Summary{}, http.StatusAccepted},
		{"accepted", intake.Summary{Accepted: 3}, http.StatusAccepted},
		{"duplicates only", intake.Summary{Duplicates: 2}, http.StatusAccepted},
		{"rejected only", intake.Summary{Rejected: rej}, http.StatusBadRequest},
		{"accepted and rejected", intake.Summary{Accepted: 1, Rejected: rej}, http.StatusAccepted},
		{"duplicate and rejected", intake.Summary{Duplicates: 1, Rejected: rej}, http.StatusAccepted},
		{"rejected with drops", intake.Summary{Rejected: rej, Dropped: map[string]int{"accuracy": 1}}, http.StatusBadRequest},
		{"dropped only", intake.Summary{Dropped: map[string]int{"accuracy": 1}}, http.StatusAccepted},
		{"over the device quota only", intake.Summary{OverQuota: 2}, http.StatusForbidden},
		{"over the device quota and accepted", intake.Summary{OverQuota: 2, Accepted: 1}, http.StatusAccepted},
		{"over the device quota and duplicates", intake.Summary{OverQuota: 2, Duplicates: 1}, http.StatusAccepted},
		{"over the device quota and rejected", intake.Summary{OverQuota: 1, Rejected: rej}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		if got := tc.s.Status(); got != tc.want {
			t.Errorf("%s: Status() = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestCount(t *testing.T) {
	cases := []struct {
		groups []intake.Group
		want   int
	}{
		{nil, 0},
		{[]intake.Group{{}}, 0},
		{[]intake.Group{{Fixes: make([]fix.Fix, 2)}, {Fixes: make([]fix.Fix, 3)}}, 5},
	}
	for _, tc := range cases {
		if got := intake.Count(tc.groups); got != tc.want {
			t.Errorf("Count(%d groups) = %d, want %d", len(tc.groups), got, tc.want)
		}
	}
}

// FuzzParse: any body as one plain envelope either fails as a *httpkit.Error
// or yields only fixes that pass fix.Validate, with rejections indexed within
// the batch.
func FuzzParse(f *testing.F) {
	seeds := []string{
		fixJSON("truck-7", 51.5),
		"[" + fixJSON("a", 1) + "," + fixJSON("", 2) + `,{"device":"b"}]`,
		`{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1e400,"lon":2}`,
		`{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"heading":360,"attrs":{"k":"v"}}`,
		`{"device":"a","tenant":"x"}`,
		`[`, `[]`, `null`, `"x"`, ``, `[1,2,{}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "subj")
	}
	p := parser()
	f.Fuzz(func(t *testing.T, data []byte, subject string) {
		env := plain(string(data))
		env.Subject = subject
		groups, rejected, err := p.Parse([]events.Envelope{env})
		if err != nil {
			var re *httpkit.Error
			if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 || re.Field == "" {
				t.Fatalf("error %v (%T) is not a 4xx *httpkit.Error", err, err)
			}
			if groups != nil || rejected != nil {
				t.Fatalf("results with error")
			}
			return
		}
		total := intake.Count(groups) + len(rejected)
		if total == 0 || total > fix.MaxBatch {
			t.Fatalf("%d fixes accounted for", total)
		}
		for _, g := range groups {
			if len(g.Fixes) == 0 {
				t.Fatalf("empty group")
			}
			for i := range g.Fixes {
				fx := g.Fixes[i]
				if err := fix.Validate(&fx, now); err != nil {
					t.Fatalf("returned fix %+v fails Validate: %v", fx, err)
				}
			}
		}
		for _, r := range rejected {
			if r.Index < 0 || r.Index >= total || r.Error == "" || r.Event != "" {
				t.Fatalf("bad rejection %+v of %d", r, total)
			}
		}
	})
}
