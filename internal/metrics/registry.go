package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"sync"
)

// ContentType is the media type of the text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

const (
	kindCounter   = "counter"
	kindGauge     = "gauge"
	kindGaugeFunc = "gauge function"
	kindHistogram = "histogram"
)

// family is one registered metric name with all its series.
type family interface {
	// kind tells families apart when a name is registered again; typ is
	// what the # TYPE line says (a gauge function's kind differs from its typ).
	kind() string
	typ() string
	labelNames() []string
	// write appends the samples; it returns false when there are none, so
	// empty families are left out of the output.
	write(b *bytes.Buffer, name string) bool
}

type entry struct {
	help string
	fam  family
}

// Registry holds metric families and renders them. The zero value is not
// usable: call NewRegistry.
type Registry struct {
	mu       sync.RWMutex
	families map[string]*entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: make(map[string]*entry)}
}

// NewProcessRegistry returns a registry with the Go and process metrics: a
// process makes one and passes it to what it serves, so /metrics shows
// exactly the series of the functions that process runs.
func NewProcessRegistry() *Registry {
	r := NewRegistry()
	RegisterProcessMetrics(r)
	return r
}

// register returns the family already registered under name, or stores the
// one built by create. A clash of type or label names panics.
func (r *Registry) register(name, help, kind string, labels []string, create func() family) family {
	if !metricName.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !labelName.MatchString(l) || (len(l) >= 2 && l[:2] == "__") {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
		if kind == kindHistogram && l == "le" {
			panic(fmt.Sprintf("metrics: %s: label name \"le\" is reserved for histogram buckets", name))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.families[name]; ok {
		if e.fam.kind() != kind || !slices.Equal(e.fam.labelNames(), labels) {
			panic(fmt.Sprintf("metrics: %s already registered as %s%v, not %s%v",
				name, e.fam.kind(), e.fam.labelNames(), kind, labels))
		}
		return e.fam
	}
	f := create()
	r.families[name] = &entry{help: help, fam: f}
	return f
}

// WriteTo writes every family in the text format, sorted by name and then by
// label values, so the output is stable. It implements io.WriterTo.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	r.render(&b)
	return b.WriteTo(w)
}

func (r *Registry) render(b *bytes.Buffer) {
	r.mu.RLock()
	names := make([]string, 0, len(r.families))
	entries := make(map[string]*entry, len(r.families))
	for n, e := range r.families {
		names = append(names, n)
		entries[n] = e
	}
	r.mu.RUnlock()
	sort.Strings(names)

	var samples bytes.Buffer
	for _, n := range names {
		e := entries[n]
		samples.Reset()
		if !e.fam.write(&samples, n) {
			continue
		}
		b.WriteString("# HELP ")
		b.WriteString(n)
		b.WriteByte(' ')
		writeEscapedHelp(b, e.help)
		b.WriteString("\n# TYPE ")
		b.WriteString(n)
		b.WriteByte(' ')
		b.WriteString(e.fam.typ())
		b.WriteByte('\n')
		b.Write(samples.Bytes())
	}
}

// Handler serves the registry for GET and HEAD, as a Prometheus scrape
// target expects.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var b bytes.Buffer
		r.render(&b)
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
		_, _ = b.WriteTo(w) // the scraper went away; nothing to do
	})
}
