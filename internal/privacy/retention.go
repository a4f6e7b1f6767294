package privacy

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/preferences"
)

// RetentionHot is the hot store as the retention sweep needs it
// (redisstore.Store).
type RetentionHot interface {
	Tenants(ctx context.Context) ([]string, error)
	Devices(ctx context.Context, tenant string) ([]string, error)
	TrimHistory(ctx context.Context, tenant, device string, before time.Time) error
}

// ArchiveObjects is the archive bucket as the sweep needs it
// (s3store.Bucket).
type ArchiveObjects interface {
	Objects
	Put(ctx context.Context, key string, data []byte) error
}

// RetentionSweep deletes what is older than its retention in every tier:
// the device's retention preference, else the tenant's, else Default
// (DATA_RETENTION; 0 keeps data for ever). The archiver runs it after each
// pass, so nothing older than the retention survives longer than a pass
// interval (an hour).
type RetentionSweep struct {
	Hot         RetentionHot
	Objects     ArchiveObjects // nil: no archive tier
	Prefix      string         // S3_PREFIX
	Preferences Preferences
	Default     time.Duration
	Now         func() time.Time
}

// SweepResult is what a sweep removed.
type SweepResult struct {
	Devices    int `json:"devices"`     // hot histories trimmed
	Objects    int `json:"objects"`     // archive objects deleted whole
	Rewritten  int `json:"rewritten"`   // archive objects rewritten without their older rows
	RowsPurged int `json:"rows_purged"` // rows of rewritten objects dropped
}

// Sweep runs once over every tenant of either tier.
func (s *RetentionSweep) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	sets := map[string]preferences.Set{}
	retention := func(tenant, device string) (time.Duration, error) {
		set, ok := sets[tenant]
		if !ok {
			var err error
			if set, err = s.Preferences.LoadPreferences(ctx, tenant); err != nil {
				return 0, fmt.Errorf("preferences of %q: %w", tenant, err)
			}
			sets[tenant] = set
		}
		if r := set.RetentionFor(device); r > 0 {
			return r, nil
		}
		return s.Default, nil
	}

	tenants, err := s.Hot.Tenants(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: tenants: %w", err)
	}
	for _, t := range tenants {
		devices, err := s.Hot.Devices(ctx, t)
		if err != nil {
			return res, fmt.Errorf("retention: devices of %q: %w", t, err)
		}
		for _, d := range devices {
			r, err := retention(t, d)
			if err != nil {
				return res, err
			}
			if r <= 0 {
				continue
			}
			if err := s.Hot.TrimHistory(ctx, t, d, now.Add(-r)); err != nil {
				return res, fmt.Errorf("retention: trim %q/%q: %w", t, d, err)
			}
			res.Devices++
		}
	}
	if s.Objects == nil {
		return res, nil
	}
	keys, err := s.Objects.List(ctx, s.Prefix+"tenant=")
	if err != nil {
		return res, fmt.Errorf("retention: list archive: %w", err)
	}
	for _, key := range keys {
		tenant, device, day, ok := parseObjectKey(strings.TrimPrefix(key, s.Prefix))
		if !ok {
			continue
		}
		r, err := retention(tenant, device)
		if err != nil {
			return res, err
		}
		if r <= 0 {
			continue
		}
		cutoff := now.Add(-r)
		switch {
		case !day.Add(24 * time.Hour).After(cutoff): // the whole day is older
			if err := s.Objects.Delete(ctx, key); err != nil {
				return res, fmt.Errorf("retention: %w", err)
			}
			res.Objects++
		case day.Before(cutoff): // the day the cutoff falls in
			n, err := s.rewriteFrom(ctx, key, cutoff)
			if err != nil {
				return res, fmt.Errorf("retention: %w", err)
			}
			if n > 0 {
				res.Rewritten++
				res.RowsPurged += n
			}
		}
	}
	return res, nil
}

// rewriteFrom rewrites an object without its rows older than cutoff (or
// deletes it when none is left) and returns how many rows went.
func (s *RetentionSweep) rewriteFrom(ctx context.Context, key string, cutoff time.Time) (int, error) {
	data, found, err := s.Objects.Get(ctx, key)
	if err != nil || !found {
		return 0, err
	}
	rows, err := archive.Decode(data)
	if err != nil {
		return 0, fmt.Errorf("object %s: %w", key, err)
	}
	kept := rows[:0:0]
	for _, r := range rows {
		if r.TS >= cutoff.UnixMilli() {
			kept = append(kept, r)
		}
	}
	purged := len(rows) - len(kept)
	if purged == 0 {
		return 0, nil
	}
	if len(kept) == 0 {
		return purged, s.Objects.Delete(ctx, key)
	}
	out, err := archive.Encode(kept)
	if err != nil {
		return 0, fmt.Errorf("object %s: %w", key, err)
	}
	return purged, s.Objects.Put(ctx, key, out)
}

// parseObjectKey reads tenant=<t>/device=<d>/date=YYYY-MM-DD/... (the
// archive layout, archive.ObjectKey).
func parseObjectKey(key string) (tenant, device string, day time.Time, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 4 {
		return "", "", time.Time{}, false
	}
	t, ok1 := strings.CutPrefix(parts[0], "tenant=")
	d, ok2 := strings.CutPrefix(parts[1], "device=")
	date, ok3 := strings.CutPrefix(parts[2], "date=")
	if !ok1 || !ok2 || !ok3 {
		return "", "", time.Time{}, false
	}
	var err error
	if tenant, err = url.PathUnescape(t); err != nil {
		return "", "", time.Time{}, false
	}
	if device, err = url.PathUnescape(d); err != nil {
		return "", "", time.Time{}, false
	}
	if day, err = time.Parse(archive.DateLayout, date); err != nil {
		return "", "", time.Time{}, false
	}
	return tenant, device, day, true
}
