package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// TestArchiveAtTheEdge: an edge node keeps each device's filtered history
// in its own Redis (edge-ingest's hot store, HISTORY_RETENTION), so a site
// may run the archiver there (edge-k3s/base/archiver.yaml) against a site
// MinIO: with the edge manifest's settings (its own interval, no audit
// bucket) the archiver moves the whole days older than HOT_RETENTION of
// that history to the bucket, once each, and leaves the rest on the node.
func TestArchiveAtTheEdge(t *testing.T) {
	e := startArchiveEnv(t, 2) // e.redis is the edge node's Redis, e.minio the site's MinIO
	ingest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": e.redis.URL, "EDGE_NODE_ID": "site-1",
		"EDGE_IDLE_AFTER": "1s", "EDGE_FLUSH_INTERVAL": "200ms",
	})
	service := token(t, "acme", auth.RoleService, "")

	// Four days of a van zigzagging through town, a fix every 10 minutes.
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-96 * time.Hour)
	var body []string
	var last time.Time
	for i := 0; ; i++ {
		ts := start.Add(time.Duration(i) * 10 * time.Minute)
		if !ts.Before(now) {
			break
		}
		last = ts
		lat := 52.52 + float64(i%40)*0.0011 + float64(i)*0.00003
		lon := 13.405 + float64((i/40)%2*2-1)*float64(i%40)*0.0013
		body = append(body, fmt.Sprintf(`{"device":"van-1","ts":%q,"lat":%.7f,"lon":%.7f,"alt":%d.5,"speed":%d}`,
			ts.Format(time.RFC3339), lat, lon, 30+i%20, 5+i%30))
	}
	for j := 0; j < len(body); j += 100 {
		batch := body[j:min(j+100, len(body))]
		if r := call(t, http.MethodPost, ingest.URL, service, hdr("Content-Type", "application/json"), []byte("["+strings.Join(batch, ",")+"]")); r.Status >= 300 {
			t.Fatalf("edge-ingest: %d %s", r.Status, r.Body)
		}
	}

	// What the node keeps once its filter has decided every fix.
	var kept []fix.Fix
	err := poll.Until(context.Background(), 30*time.Second, 200*time.Millisecond, func(context.Context) error {
		kept = e.edgeHistory(t)
		if len(kept) == 0 || !kept[len(kept)-1].TS.Equal(last) {
			return fmt.Errorf("%d fixes kept, the last not yet", len(kept))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the edge did not keep the van's history: %v", err)
	}
	cutoff := archiveCutoff(now)
	due := map[int64]fix.Fix{}
	for _, f := range kept {
		if f.TS.Before(cutoff) {
			due[f.TS.UnixMilli()] = f
		}
	}
	if len(due) == 0 || len(due) == len(kept) {
		t.Fatalf("%d of %d kept fixes due before %s: the test needs both", len(due), len(kept), cutoff)
	}
	t.Logf("%d fixes sent, %d kept by the edge, %d due before %s", len(body), len(kept), len(due), cutoff.Format(time.DateOnly))

	// The archiver as edge-k3s/base/archiver.yaml runs it: its own
	// interval, the audit archive off (that is the cloud's).
	env := map[string]string{"ARCHIVE_INTERVAL": "1s", "S3_AUDIT_BUCKET": ""}
	for k, v := range e.env {
		env[k] = v
	}
	startFunction(t, "archiver", env)
	var hot []fix.Fix
	err = poll.Until(context.Background(), 60*time.Second, 200*time.Millisecond, func(context.Context) error {
		hot = e.edgeHistory(t)
		if len(hot) != len(kept)-len(due) {
			return fmt.Errorf("%d fixes on the node, want the %d not yet due", len(hot), len(kept)-len(due))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the archiver's passes did not move the edge's due history: %v", err)
	}
	for _, f := range hot {
		if f.TS.Before(cutoff) {
			t.Errorf("due fix %s still on the node", f.TS)
		}
	}

	cold := e.readArchive(t)["van-1"] // also checks keys, SSE-S3, DECIMAL columns, zstd
	if len(cold) != len(due) {
		t.Fatalf("%d rows archived, want the %d due fixes", len(cold), len(due))
	}
	seen := map[int64]bool{}
	for _, r := range cold {
		f, ok := due[r.TS]
		if !ok || seen[r.TS] {
			t.Fatalf("archived row at %d: due %v, seen before %v", r.TS, ok, seen[r.TS])
		}
		seen[r.TS] = true
		if r.LatE7 != int32(math.Round(f.Lat*1e7)) || r.LonE7 != int64(math.Round(f.Lon*1e7)) ||
			r.AltDM == nil || f.Alt == nil || *r.AltDM != int32(math.Round(*f.Alt*10)) {
			t.Fatalf("archived %+v, the edge kept %+v", r, f)
		}
	}
	if ok, err := e.s3.BucketExists(context.Background(), "geotrack-audit"); err != nil || ok {
		t.Errorf("audit bucket exists=%v (%v): the edge archiver has no audit archive", ok, err)
	}
}

// edgeHistory is the van's whole history in the node's Redis.
func (e *archiveEnv) edgeHistory(t *testing.T) []fix.Fix {
	t.Helper()
	var out []fix.Fix
	cursor := ""
	for {
		page, err := e.store.History(context.Background(), "acme", "van-1", time.Time{}, time.Time{}, redisstore.MaxLimit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Fixes...)
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}
