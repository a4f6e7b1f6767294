package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func render(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	n, err := r.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, b.Len())
	}
	return b.String()
}

// parseText reads the exposition format back into "name{labels}" → value and
// checks that every family's samples follow its HELP and TYPE lines.
func parseText(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	var family string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			family = strings.Fields(line)[2]
		case strings.HasPrefix(line, "# TYPE "):
			if f := strings.Fields(line); f[2] != family || len(f) != 4 {
				t.Fatalf("TYPE line %q does not follow HELP of %q", line, family)
			}
		case line == "":
			t.Fatalf("empty line in output:\n%s", text)
		default:
			sp := strings.LastIndexByte(line, ' ')
			if sp < 0 {
				t.Fatalf("sample line without value: %q", line)
			}
			series, raw := line[:sp], line[sp+1:]
			if !strings.HasPrefix(series, family) {
				t.Fatalf("sample %q outside its family %q", series, family)
			}
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				t.Fatalf("sample %q: value: %v", line, err)
			}
			if _, dup := out[series]; dup {
				t.Fatalf("duplicate series %q", series)
			}
			out[series] = v
		}
	}
	return out
}

func TestCounterAndGaugeOutput(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("app_requests_total", "Requests served.", "function", "code")
	c.With("b", "200").Inc()
	c.With("a", "500").Add(2)
	c.With("a", "200").Add(0.5)
	g := r.NewGaugeVec("app_inflight", "In flight.", "function")
	g.With("a").Inc()
	g.With("a").Inc()
	g.With("a").Dec()
	g.With("z").Set(-3.25)
	r.NewGaugeFunc("app_answer", "The answer.", func() float64 { return 42 })

	want := `# HELP app_answer The answer.
# TYPE app_answer gauge
app_answer 42
# HELP app_inflight In flight.
# TYPE app_inflight gauge
app_inflight{function="a"} 1
app_inflight{function="z"} -3.25
# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{function="a",code="200"} 0.5
app_requests_total{function="a",code="500"} 2
app_requests_total{function="b",code="200"} 1
`
	if got := render(t, r); got != want {
		t.Fatalf("output mismatch\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestEscaping(t *testing.T) {
	tests := []struct {
		name, value, help string
		wantSample        string
		wantHelp          string
	}{
		{"plain", "abc", "plain help", `x_total{v="abc"} 1`, `# HELP x_total plain help`},
		{"backslash", `a\b`, `a\b`, `x_total{v="a\\b"} 1`, `# HELP x_total a\\b`},
		{"quote", `say "hi"`, `say "hi"`, `x_total{v="say \"hi\""} 1`, `# HELP x_total say "hi"`},
		{"newline", "line1\nline2", "line1\nline2", `x_total{v="line1\nline2"} 1`, `# HELP x_total line1\nline2`},
		{"utf8", "Zürich→東京", "ok", `x_total{v="Zürich→東京"} 1`, `# HELP x_total ok`},
		{"empty", "", "", `x_total{v=""} 1`, `# HELP x_total `},
		{"all", "\\\"\n", "\\\n", `x_total{v="\\\"\n"} 1`, `# HELP x_total \\\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			r.NewCounterVec("x_total", tt.help, "v").With(tt.value).Inc()
			lines := strings.Split(strings.TrimSuffix(render(t, r), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("want 3 lines (a raw newline leaked?), got %d: %q", len(lines), lines)
			}
			if lines[0] != tt.wantHelp {
				t.Errorf("help line = %q, want %q", lines[0], tt.wantHelp)
			}
			if lines[2] != tt.wantSample {
				t.Errorf("sample line = %q, want %q", lines[2], tt.wantSample)
			}
		})
	}
}

func TestHistogramBucketsCumulative(t *testing.T) {
	r := NewRegistry()
	h := r.NewHistogramVec("lat_seconds", "Latency.", []float64{0.1, 0.5, 1}, "function")
	for _, v := range []float64{0.05, 0.1, 0.3, 0.5, 0.7, 2, 3} {
		h.With("f").Observe(v)
	}
	got := parseText(t, render(t, r))
	want := map[string]float64{
		`lat_seconds_bucket{function="f",le="0.1"}`:  2, // bounds are inclusive: 0.1 <= 0.1
		`lat_seconds_bucket{function="f",le="0.5"}`:  4,
		`lat_seconds_bucket{function="f",le="1"}`:    5,
		`lat_seconds_bucket{function="f",le="+Inf"}`: 7,
		`lat_seconds_count{function="f"}`:            7,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if s := got[`lat_seconds_sum{function="f"}`]; math.Abs(s-6.65) > 1e-9 {
		t.Errorf("sum = %v, want 6.65", s)
	}
	if h.With("f").Count() != 7 {
		t.Errorf("Count() = %d, want 7", h.With("f").Count())
	}
}

func TestHistogramWithoutLabels(t *testing.T) {
	r := NewRegistry()
	h := r.NewHistogramVec("d", "D.", []float64{1, math.Inf(+1)})
	h.With().Observe(0.5)
	want := `# HELP d D.
# TYPE d histogram
d_bucket{le="1"} 1
d_bucket{le="+Inf"} 1
d_sum 0.5
d_count 1
`
	if got := render(t, r); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSortedStableOutput(t *testing.T) {
	r := NewRegistry()
	for _, n := range []string{"zz_total", "aa_total", "mm_total"} {
		c := r.NewCounterVec(n, "h", "k")
		for _, k := range []string{"c", "a", "b"} {
			c.With(k).Inc()
		}
	}
	first := render(t, r)
	for i := 0; i < 5; i++ {
		if again := render(t, r); again != first {
			t.Fatalf("output changed between scrapes:\n%s\n---\n%s", first, again)
		}
	}
	var order []string
	for _, line := range strings.Split(first, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			order = append(order, strings.Fields(line)[0])
		}
	}
	want := []string{
		`aa_total{k="a"}`, `aa_total{k="b"}`, `aa_total{k="c"}`,
		`mm_total{k="a"}`, `mm_total{k="b"}`, `mm_total{k="c"}`,
		`zz_total{k="a"}`, `zz_total{k="b"}`, `zz_total{k="c"}`,
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("order = %v, want %v", order, want)
	}
}

func TestEmptyFamilyOmitted(t *testing.T) {
	r := NewRegistry()
	r.NewCounterVec("unused_total", "never incremented", "x")
	if got := render(t, r); got != "" {
		t.Fatalf("family without series should not be written, got %q", got)
	}
}

func TestRegisterTwiceReturnsExisting(t *testing.T) {
	r := NewRegistry()
	a := r.NewCounterVec("shared_total", "first help", "function")
	b := r.NewCounterVec("shared_total", "second help", "function")
	if a != b {
		t.Fatal("second registration returned a new CounterVec")
	}
	a.With("x").Inc()
	b.With("x").Inc()
	if v := a.With("x").Value(); v != 2 {
		t.Fatalf("shared counter = %v, want 2", v)
	}
	if !strings.Contains(render(t, r), "# HELP shared_total first help\n") {
		t.Fatal("first help text should win")
	}
	h1 := r.NewHistogramVec("h", "h", []float64{1, 2}, "f")
	if h2 := r.NewHistogramVec("h", "h", []float64{1, 2}, "f"); h1 != h2 {
		t.Fatal("second histogram registration returned a new HistogramVec")
	}
	g1 := r.NewGaugeFunc("gf", "g", func() float64 { return 1 })
	if g2 := r.NewGaugeFunc("gf", "g", func() float64 { return 2 }); g1 != g2 {
		t.Fatal("second gauge func registration returned a new GaugeFunc")
	}
}

func mustPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		p := recover()
		if p == nil {
			t.Fatalf("expected a panic mentioning %q", want)
		}
		if !strings.Contains(fmt.Sprint(p), want) {
			t.Fatalf("panic %q does not mention %q", p, want)
		}
	}()
	fn()
}

func TestMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		want string
		fn   func(r *Registry)
	}{
		{"bad metric name", "invalid metric name", func(r *Registry) { r.NewCounterVec("1abc", "h") }},
		{"bad label name", "invalid label name", func(r *Registry) { r.NewCounterVec("a", "h", "x-y") }},
		{"reserved label", "invalid label name", func(r *Registry) { r.NewCounterVec("a", "h", "__x") }},
		{"le on histogram", "reserved", func(r *Registry) { r.NewHistogramVec("a", "h", []float64{1}, "le") }},
		{"type clash", "already registered as counter", func(r *Registry) {
			r.NewCounterVec("a", "h")
			r.NewGaugeVec("a", "h")
		}},
		{"label clash", "already registered", func(r *Registry) {
			r.NewCounterVec("a", "h", "x")
			r.NewCounterVec("a", "h", "y")
		}},
		{"gauge vs gauge func", "already registered as gauge", func(r *Registry) {
			r.NewGaugeVec("a", "h")
			r.NewGaugeFunc("a", "h", func() float64 { return 0 })
		}},
		{"bucket clash", "already registered with buckets", func(r *Registry) {
			r.NewHistogramVec("a", "h", []float64{1})
			r.NewHistogramVec("a", "h", []float64{2})
		}},
		{"unsorted buckets", "increase strictly", func(r *Registry) { r.NewHistogramVec("a", "h", []float64{2, 1}) }},
		{"no buckets", "at least one", func(r *Registry) { r.NewHistogramVec("a", "h", nil) }},
		{"wrong label count", "got 1 label values", func(r *Registry) { r.NewCounterVec("a", "h", "x", "y").With("1") }},
		{"negative counter", "cannot add", func(r *Registry) { r.NewCounterVec("a", "h").With().Add(-1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPanic(t, tt.want, func() { tt.fn(NewRegistry()) })
		})
	}
}

func TestFloatFormatting(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-2.5, "-2.5"}, {0.0005, "0.0005"}, {1e21, "1e+21"},
		{math.Inf(+1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		writeFloat(&b, tt.v)
		if b.String() != tt.want {
			t.Errorf("writeFloat(%v) = %q, want %q", tt.v, b.String(), tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.NewCounterVec("hits_total", "Hits.").With().Inc()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	tests := []struct {
		method   string
		status   int
		wantBody string
	}{
		{http.MethodGet, 200, "hits_total 1\n"},
		{http.MethodHead, 200, ""},
		{http.MethodPost, 405, "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+"/metrics", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 200 && resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
				t.Errorf("content type = %q", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %q does not contain %q", body, tt.wantBody)
			}
		})
	}
}

func TestProcessMetrics(t *testing.T) {
	r := NewRegistry()
	RegisterProcessMetrics(r)
	RegisterProcessMetrics(r) // a second call must not panic: the names are shared
	got := parseText(t, render(t, r))
	now := float64(time.Now().Unix())
	checks := []struct {
		series string
		ok     func(float64) bool
	}{
		{"go_goroutines", func(v float64) bool { return v >= 1 }},
		{"go_memstats_heap_alloc_bytes", func(v float64) bool { return v > 0 }},
		{"go_memstats_sys_bytes", func(v float64) bool { return v > 0 }},
		{"process_start_time_seconds", func(v float64) bool { return v > now-3600 && v <= now+1 }},
		{"process_resident_memory_bytes", func(v float64) bool { return v > 0 }},
		{`go_info{version="` + runtime.Version() + `"}`, func(v float64) bool { return v == 1 }},
	}
	for _, c := range checks {
		v, ok := got[c.series]
		if !ok {
			t.Errorf("%s missing", c.series)
			continue
		}
		if !c.ok(v) {
			t.Errorf("%s = %v is implausible", c.series, v)
		}
	}
	if _, ok := parseText(t, render(t, NewProcessRegistry()))["go_goroutines"]; !ok {
		t.Error("NewProcessRegistry lacks the process metrics")
	}
}

func TestConcurrentUpdates(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c_total", "c", "k")
	h := r.NewHistogramVec("h", "h", []float64{1}, "k")
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				k := strconv.Itoa(i % 3)
				c.With(k).Inc()
				h.With(k).Observe(0.5)
			}
		}()
	}
	// Scrape while writers run: the race detector checks the reads.
	for i := 0; i < 10; i++ {
		parseText(t, render(t, r))
	}
	wg.Wait()
	got := parseText(t, render(t, r))
	var total, count float64
	for k := 0; k < 3; k++ {
		total += got[fmt.Sprintf(`c_total{k="%d"}`, k)]
		count += got[fmt.Sprintf(`h_count{k="%d"}`, k)]
	}
	if total != workers*each || count != workers*each {
		t.Fatalf("counter total %v, histogram count %v, want %d", total, count, workers*each)
	}
}

func TestExponentialBuckets(t *testing.T) {
	got := ExponentialBuckets(0.001, 10, 4)
	want := []float64{0.001, 0.01, 0.1, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("ExponentialBuckets = %v, want %v", got, want)
		}
	}
	mustPanic(t, "need start > 0", func() { ExponentialBuckets(0, 2, 3) })
}

func BenchmarkCounterWithInc(b *testing.B) {
	c := NewRegistry().NewCounterVec("c_total", "c", "function", "method", "code")
	b.ReportAllocs()
	for b.Loop() {
		c.With("ingest", "POST", "200").Inc()
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().NewHistogramVec("h", "h", ExponentialBuckets(0.0005, 2, 15), "function").With("ingest")
	b.ReportAllocs()
	for b.Loop() {
		h.Observe(0.003)
	}
}

func BenchmarkWriteTo(b *testing.B) {
	r := NewRegistry()
	RegisterProcessMetrics(r)
	c := r.NewCounterVec("c_total", "c", "function", "code")
	h := r.NewHistogramVec("h", "h", ExponentialBuckets(0.0005, 2, 15), "function")
	for _, f := range []string{"a", "b", "c", "d"} {
		h.With(f).Observe(0.01)
		for _, code := range []string{"200", "400", "500"} {
			c.With(f, code).Inc()
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
