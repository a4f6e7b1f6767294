package privacy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
)

// Files of an export, in the order they are written; the manifest comes
// last, with the count and SHA-256 of each.
const (
	FileFixesJSONL   = "fixes.jsonl"   // one fix per line (the ingest JSON)
	FileFixesGPX     = "fixes.gpx"     // GPX 1.1 track
	FileFixesGeoJSON = "fixes.geojson" // FeatureCollection of Points
	FileEvents       = "events.jsonl"  // CloudEvents of the event log about the device
	FileAlerts       = "alerts.jsonl"  // alert records of the device
	FilePreferences  = "preferences.json"
	FileFences       = "fences.jsonl" // fences whose devices list names it
	FileAudit        = "audit.jsonl"  // audit entries about it
	FileManifest     = "manifest.json"
)

// Manifest describes an export.
type Manifest struct {
	Tenant    string         `json:"tenant"`
	Device    string         `json:"device"`
	CreatedAt time.Time      `json:"created_at"`
	Files     []ManifestFile `json:"files"`
}

// ManifestFile is one file of an export.
type ManifestFile struct {
	Name   string `json:"name"`
	Count  int    `json:"count"` // records (fixes, events, ...)
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Export writes the device's data as a ZIP to w, streaming: memory is
// bounded by one archived day and one page of each store, whatever the
// history size. The fixes are read once per format.
func (s *Service) Export(ctx context.Context, w io.Writer, tenant, device string) (Manifest, error) {
	m := Manifest{Tenant: tenant, Device: device, CreatedAt: s.now().UTC()}
	z := zip.NewWriter(w)
	files := []struct {
		name  string
		write func(ctx context.Context, w io.Writer) (int, error)
	}{
		{FileFixesJSONL, func(ctx context.Context, w io.Writer) (int, error) {
			return s.eachFix(ctx, tenant, device, func(f fix.Fix) error {
				_, err := w.Write(append(f.AppendJSON(nil), '\n'))
				return err
			})
		}},
		{FileFixesGPX, func(ctx context.Context, w io.Writer) (int, error) { return s.writeGPX(ctx, w, tenant, device) }},
		{FileFixesGeoJSON, func(ctx context.Context, w io.Writer) (int, error) { return s.writeGeoJSON(ctx, w, tenant, device) }},
		{FileEvents, func(ctx context.Context, w io.Writer) (int, error) { return s.writeEvents(ctx, w, tenant, device) }},
		{FileAlerts, func(ctx context.Context, w io.Writer) (int, error) { return s.writeAlerts(ctx, w, tenant, device) }},
		{FilePreferences, func(ctx context.Context, w io.Writer) (int, error) { return s.writePreferences(ctx, w, tenant, device) }},
		{FileFences, func(ctx context.Context, w io.Writer) (int, error) {
			return s.eachFenceNaming(ctx, tenant, device, func(_ string, _ fenceHead, raw []byte) error {
				_, err := w.Write(append(compact(raw), '\n'))
				return err
			})
		}},
		{FileAudit, func(ctx context.Context, w io.Writer) (int, error) { return s.writeAudit(ctx, w, tenant, device) }},
	}
	for _, f := range files {
		zw, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: m.CreatedAt})
		if err != nil {
			return m, fmt.Errorf("export %s: %w", f.name, err)
		}
		h := sha256.New()
		cw := &countingWriter{w: io.MultiWriter(zw, h)}
		bw := bufio.NewWriterSize(cw, 32<<10)
		n, err := f.write(ctx, bw)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return m, fmt.Errorf("export %s: %w", f.name, err)
		}
		m.Files = append(m.Files, ManifestFile{Name: f.name, Count: n, Bytes: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	zw, err := z.CreateHeader(&zip.FileHeader{Name: FileManifest, Method: zip.Deflate, Modified: m.CreatedAt})
	if err != nil {
		return m, fmt.Errorf("export manifest: %w", err)
	}
	enc := json.NewEncoder(zw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return m, fmt.Errorf("export manifest: %w", err)
	}
	if err := z.Close(); err != nil {
		return m, fmt.Errorf("export: %w", err)
	}
	return m, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// eachFix calls fn with every fix of the device, archived days first
// (oldest first), then the hot history in time order. A ts in both tiers
// (between an archive write and its trim) is taken once, from hot.
func (s *Service) eachFix(ctx context.Context, tenant, device string, fn func(fix.Fix) error) (int, error) {
	n := 0
	if s.Archive != nil {
		err := s.Archive.EachDay(ctx, tenant, device, func(day time.Time, fixes []fix.Fix) error {
			inHot := map[int64]bool{}
			if err := s.hotPages(ctx, tenant, device, day, day.Add(24*time.Hour-time.Millisecond), func(f fix.Fix) error {
				inHot[f.TS.UnixMilli()] = true
				return nil
			}); err != nil {
				return err
			}
			for _, f := range fixes {
				if inHot[f.TS.UnixMilli()] {
					continue
				}
				if err := fn(f); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("archived fixes: %w", err)
		}
	}
	err := s.hotPages(ctx, tenant, device, time.Time{}, time.Time{}, func(f fix.Fix) error {
		n++
		return fn(f)
	})
	if err != nil {
		return n, fmt.Errorf("hot fixes: %w", err)
	}
	return n, nil
}

func (s *Service) hotPages(ctx context.Context, tenant, device string, from, to time.Time, fn func(fix.Fix) error) error {
	cursor := ""
	for {
		page, err := s.History.History(ctx, tenant, device, from, to, pageSize, cursor)
		if err != nil {
			return err
		}
		for _, f := range page.Fixes {
			if err := fn(f); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// writeGPX streams a GPX 1.1 track (lat, lon, ele, time: what GPX holds
// without extensions).
func (s *Service) writeGPX(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<gpx version="1.1" creator="geotrack" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>`+
		html.EscapeString(device)+"</name><trkseg>\n"); err != nil {
		return 0, err
	}
	n, err := s.eachFix(ctx, tenant, device, func(f fix.Fix) error {
		b := make([]byte, 0, 128)
		b = append(b, `<trkpt lat="`...)
		b = append(b, formatFloat(f.Lat)...)
		b = append(b, `" lon="`...)
		b = append(b, formatFloat(f.Lon)...)
		b = append(b, `">`...)
		if f.Alt != nil {
			b = append(b, "<ele>"+formatFloat(*f.Alt)+"</ele>"...)
		}
		b = append(b, "<time>"+fix.FormatTime(f.TS)+"</time></trkpt>\n"...)
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "</trkseg></trk></gpx>\n")
	return n, err
}

// writeGeoJSON streams a FeatureCollection, one Point Feature per fix with
// the fix's other fields as properties.
func (s *Service) writeGeoJSON(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	if _, err := io.WriteString(w, `{"type":"FeatureCollection","features":[`+"\n"); err != nil {
		return 0, err
	}
	first := true
	n, err := s.eachFix(ctx, tenant, device, func(f fix.Fix) error {
		props := f.AppendJSON(nil)
		b := make([]byte, 0, 96+len(props))
		if !first {
			b = append(b, ",\n"...)
		}
		first = false
		b = append(b, `{"type":"Feature","geometry":{"type":"Point","coordinates":[`...)
		b = append(b, formatFloat(f.Lon)+","+formatFloat(f.Lat)...)
		if f.Alt != nil {
			b = append(b, ","+formatFloat(*f.Alt)...)
		}
		b = append(b, `]},"properties":`...)
		b = append(b, props...)
		b = append(b, '}')
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "\n]}\n")
	return n, err
}

func (s *Service) writeEvents(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	n := 0
	q := eventlog.Query{Device: device, Limit: pageSize}
	for {
		page, err := s.Events.ReadEvents(ctx, tenant, q)
		if err != nil {
			return n, fmt.Errorf("event log: %w", err)
		}
		for _, e := range page.Events {
			if _, err := w.Write(append(compact(e), '\n')); err != nil {
				return n, err
			}
			n++
		}
		if page.Next == "" {
			return n, nil
		}
		q.Cursor = page.Next
	}
}

func (s *Service) writeAlerts(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	n := 0
	for _, dead := range []bool{false, true} {
		q := alert.Query{Device: device, Dead: dead, Limit: 100}
		for {
			page, err := s.Alerts.ListAlerts(ctx, tenant, q)
			if err != nil {
				return n, fmt.Errorf("alerts: %w", err)
			}
			for _, a := range page.Alerts {
				if dead && a.State != "dead" {
					continue // listed already with the live ones
				}
				raw, err := rawJSON(a)
				if err != nil {
					return n, err
				}
				if _, err := w.Write(append(raw, '\n')); err != nil {
					return n, err
				}
				n++
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	return n, nil
}

func (s *Service) writePreferences(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	set, err := s.Preferences.LoadPreferences(ctx, tenant)
	if err != nil {
		return 0, fmt.Errorf("preferences: %w", err)
	}
	doc, ok := set.Devices[device]
	out := map[string]any{"device": device, "effective_retention": set.RetentionFor(device).String()}
	if ok {
		out["preferences"] = doc
	}
	raw, err := rawJSON(out)
	if err != nil {
		return 0, err
	}
	_, err = w.Write(append(raw, '\n'))
	if !ok {
		return 0, err
	}
	return 1, err
}

// fenceHead is what privacy reads of a stored fence.
type fenceHead struct {
	ID         string `json:"id"`
	Properties struct {
		Devices []string `json:"devices"`
	} `json:"properties"`
}

// eachFenceNaming calls fn with each fence whose devices list names device.
func (s *Service) eachFenceNaming(ctx context.Context, tenant, device string, fn func(id string, head fenceHead, raw []byte) error) (int, error) {
	n, cursor := 0, ""
	for {
		page, next, err := s.Fences.ListFences(ctx, tenant, cursor, pageSize)
		if err != nil {
			return n, fmt.Errorf("fences: %w", err)
		}
		for _, raw := range page {
			var head fenceHead
			if err := json.Unmarshal(raw, &head); err != nil {
				return n, fmt.Errorf("stored fence: %w", err)
			}
			if slices.Contains(head.Properties.Devices, device) {
				if err := fn(head.ID, head, raw); err != nil {
					return n, err
				}
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

func (s *Service) writeAudit(ctx context.Context, w io.Writer, tenant, device string) (int, error) {
	n, cursor := 0, ""
	for {
		entries, next, err := s.Audit.ReadAudit(ctx, tenant, time.Time{}, time.Time{}, cursor, pageSize)
		if err != nil {
			return n, fmt.Errorf("audit: %w", err)
		}
		for _, e := range entries {
			if e.Device != device && e.Target["device"] != device {
				continue
			}
			raw, err := rawJSON(e)
			if err != nil {
				return n, err
			}
			if _, err := w.Write(append(raw, '\n')); err != nil {
				return n, err
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// compact puts a stored JSON document on one line.
func compact(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// CheckExport reports, before an export's first byte, whether the tiers it
// reads answer: the archive (when it can tell, ObjectArchive.Reachable).
// An export that fails once its bytes flow can only be cut short.
func (s *Service) CheckExport(ctx context.Context, tenant, device string) error {
	r, ok := s.Archive.(interface {
		Reachable(ctx context.Context, tenant, device string) error
	})
	if !ok {
		return nil
	}
	if err := r.Reachable(ctx, tenant, device); err != nil {
		return fmt.Errorf("export: archived fixes: %w", err)
	}
	return nil
}
