// Package track is the function returning a device's history between two
// times as JSON, GeoJSON or GPX: a page at a time, or the whole range
// streamed (all=true), optionally simplified for drawing.
package track

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geojson"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/locate"
)

// Page sizes and simplification bounds (public contract: limit ≤ MaxLimit,
// 2 ≤ max_points ≤ MaxPoints, 0.01 ≤ simplify ≤ MaxSimplifyM).
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
	MaxPoints    = 100_000
	MaxSimplifyM = 1_000_000
)

// minSimplifyM is the smallest tolerance: a centimetre, below a fix's
// 7-decimal resolution.
const minSimplifyM = 0.01

// startToleranceM is where max_points without simplify starts looking for
// the tolerance that meets it: about the accuracy of a consumer GPS fix.
const startToleranceM = 1

// HistoryReader reads a device's history in time order (locate.Service):
// a page at a time, or as one stream from a cursor to the end of the range.
type HistoryReader interface {
	History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error)
	OpenHistory(ctx context.Context, tenant, device string, from, to time.Time, cursor string) (FixStream, error)
}

// FixStream is a device's history one fix at a time (locate.HistoryStream).
type FixStream interface {
	Next() (fix.Fix, bool)
	Err() error
	Close()
}

// Function is the track function.
type Function struct {
	history HistoryReader
	auth    httpkit.Verifier
}

// New builds track from its dependencies.
func New(history HistoryReader, verifier httpkit.Verifier) *Function {
	return &Function{history: history, auth: verifier}
}

// Result is the JSON format's body.
type Result struct {
	Device string    `json:"device"`
	Points []fix.Fix `json:"points"`
	Next   string    `json:"next"`
}

// Handle implements the OpenFaaS go-http handler: the body is built in
// memory (the template buffers it anyway).
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	sr, err := f.prepare(req)
	if err != nil {
		return handler.Response{}, err
	}
	if sr.WriteBody != nil {
		var buf bytes.Buffer
		if err := sr.WriteBody(&buf); err != nil {
			return handler.Response{}, err
		}
		sr.Body = buf.Bytes()
	}
	return sr.Response, nil
}

// HandleStream implements httpkit.Streamer: the body is written as the
// history is read, a page at a time, so an export of any length runs in
// constant memory and its first bytes leave before the last page is read.
func (f *Function) HandleStream(req handler.Request) (httpkit.StreamResponse, error) {
	sr, err := f.prepare(req)
	if err != nil {
		return httpkit.StreamResponse{Response: httpkit.Respond(req.Context(), handler.Response{}, err)}, nil
	}
	if req.Method == http.MethodHead {
		sr.WriteBody = nil // the server sends no body: do not read the history for it
	}
	return sr, nil
}

// query is a parsed request.
type query struct {
	device, format, cursor string
	from, to               time.Time
	limit                  int
	all                    bool
	simplifyM              float64 // 0: off
	maxPoints              int     // 0: off
}

func parse(q url.Values) (query, error) {
	var p query
	var err error
	p.device, p.cursor = q.Get("device"), q.Get("cursor")
	if p.from, err = httpkit.QueryTime(q, "from"); err != nil {
		return query{}, err
	}
	if p.to, err = httpkit.QueryTime(q, "to"); err != nil {
		return query{}, err
	}
	if p.limit, err = httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit); err != nil {
		return query{}, err
	}
	p.format = q.Get("format")
	if p.format == "" {
		p.format = "json"
	}
	if p.format != "json" && p.format != "geojson" && p.format != "gpx" {
		return query{}, httpkit.Invalid("format", "%q is not one of json, geojson, gpx", p.format)
	}
	switch all := q.Get("all"); all {
	case "", "false":
	case "true":
		p.all = true
		if q.Get("limit") != "" {
			return query{}, httpkit.Invalid("limit", "not with all=true (the whole range is one response)")
		}
	default:
		return query{}, httpkit.Invalid("all", "%q is not true or false", all)
	}
	if q.Get("simplify") != "" {
		if p.simplifyM, err = httpkit.QueryFloat(q, "simplify", minSimplifyM, MaxSimplifyM); err != nil {
			return query{}, err
		}
	}
	if p.maxPoints, err = httpkit.QueryInt(q, "max_points", 0, 2, MaxPoints); err != nil {
		return query{}, err
	}
	return p, nil
}

// prepare authorizes and parses the request and reads the first page (so
// that a bad cursor or a store that is down is an error status, not a
// broken body), and returns the status and headers with the body's writer.
func (f *Function) prepare(req handler.Request) (httpkit.StreamResponse, error) {
	ctx := req.Context()
	principal, q, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return httpkit.StreamResponse{}, err
	}
	p, err := parse(q)
	if err != nil {
		return httpkit.StreamResponse{}, err
	}
	if p.all {
		stream, err := f.history.OpenHistory(ctx, principal.Tenant, p.device, p.from, p.to, p.cursor)
		if err != nil {
			return httpkit.StreamResponse{}, err
		}
		if req.Method == http.MethodHead {
			stream.Close() // no body: the query was checked, the rest is not read
			return httpkit.StreamResponse{Response: headers(p.format, p.device)}, nil
		}
		return httpkit.StreamResponse{Response: headers(p.format, p.device), WriteBody: func(w io.Writer) error {
			defer stream.Close()
			tw := p.writer(w, "")
			for x, ok := stream.Next(); ok; x, ok = stream.Next() {
				if err := tw.Write(x); err != nil {
					return fmt.Errorf("encode %s: %w", p.format, err)
				}
			}
			if err := stream.Err(); err != nil {
				return err
			}
			return tw.Close()
		}}, nil
	}
	page, err := f.history.History(ctx, principal.Tenant, p.device, p.from, p.to, p.limit, p.cursor)
	if err != nil {
		return httpkit.StreamResponse{}, err
	}
	resp := headers(p.format, p.device)
	if page.Next != "" {
		// Non-JSON formats have no place for the cursor in the document.
		resp.Header.Set("X-Next-Cursor", page.Next)
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", page.Next)
		resp.Header.Set("Link", fmt.Sprintf(`<?%s>; rel="next"`, next.Encode()))
	}
	return httpkit.StreamResponse{Response: resp, WriteBody: func(w io.Writer) error {
		tw := p.writer(w, page.Next)
		for _, x := range page.Fixes {
			if err := tw.Write(x); err != nil {
				return fmt.Errorf("encode %s: %w", p.format, err)
			}
		}
		return tw.Close()
	}}, nil
}

func headers(format, device string) handler.Response {
	switch format {
	case "geojson":
		return httpkit.Raw(http.StatusOK, "application/geo+json", nil)
	case "gpx":
		r := httpkit.Raw(http.StatusOK, "application/gpx+xml", nil)
		r.Header.Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, device+".gpx"))
		return r
	}
	return httpkit.Raw(http.StatusOK, "application/json", nil)
}

// trackWriter encodes a track a fix at a time.
type trackWriter interface {
	Write(fix.Fix) error
	Close() error
}

// writer is the encoder of the request's format, behind the simplifier the
// request asks for.
func (p query) writer(w io.Writer, next string) trackWriter {
	var tw trackWriter
	switch p.format {
	case "geojson":
		tw = geojson.NewTrackWriter(w, p.device)
	case "gpx":
		tw = gpx.NewTrackWriter(w, p.device)
	default:
		tw = newJSONWriter(w, p.device, next)
	}
	switch {
	case p.maxPoints > 0:
		start := p.simplifyM
		if start == 0 {
			start = startToleranceM
		}
		return &budgetWriter{next: tw, budget: edgefilter.NewBudget(p.maxPoints, start)}
	case p.simplifyM > 0:
		return &simplifyingWriter{next: tw, simplifier: edgefilter.NewSimplifier(p.simplifyM)}
	}
	return tw
}

// simplifyingWriter passes on the fixes the simplifier keeps.
type simplifyingWriter struct {
	next       trackWriter
	simplifier *edgefilter.Simplifier
}

func (s *simplifyingWriter) Write(x fix.Fix) error {
	for _, k := range s.simplifier.Push(x) {
		if err := s.next.Write(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *simplifyingWriter) Close() error {
	for _, k := range s.simplifier.Flush() {
		if err := s.next.Write(k); err != nil {
			return err
		}
	}
	return s.next.Close()
}

// budgetWriter passes on at most N fixes at the end of the track.
type budgetWriter struct {
	next   trackWriter
	budget *edgefilter.Budget
}

func (b *budgetWriter) Write(x fix.Fix) error {
	b.budget.Push(x)
	return nil
}

func (b *budgetWriter) Close() error {
	kept, _ := b.budget.Finish()
	for _, k := range kept {
		if err := b.next.Write(k); err != nil {
			return err
		}
	}
	return b.next.Close()
}

// jsonWriter writes Result a point at a time, byte for byte what
// httpkit.JSON(Result) writes (the fixes' JSON is encoding/json's).
type jsonWriter struct {
	w    io.Writer
	next string
	buf  []byte
	n    int
}

// jsonFlushAt is how much jsonWriter buffers before writing through.
const jsonFlushAt = 32 << 10

func newJSONWriter(w io.Writer, device, next string) *jsonWriter {
	j := &jsonWriter{w: w, next: next, buf: make([]byte, 0, jsonFlushAt+512)}
	j.buf = append(j.buf, `{"device":`...)
	j.buf = fix.AppendString(j.buf, device)
	j.buf = append(j.buf, `,"points":[`...)
	return j
}

func (j *jsonWriter) Write(x fix.Fix) error {
	if j.n > 0 {
		j.buf = append(j.buf, ',')
	}
	j.n++
	j.buf = x.AppendJSON(j.buf)
	if len(j.buf) >= jsonFlushAt {
		return j.flush()
	}
	return nil
}

func (j *jsonWriter) Close() error {
	j.buf = append(j.buf, `],"next":`...)
	j.buf = fix.AppendString(j.buf, j.next)
	j.buf = append(j.buf, "}\n"...)
	return j.flush()
}

func (j *jsonWriter) flush() error {
	if _, err := j.w.Write(j.buf); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	j.buf = j.buf[:0]
	return nil
}
