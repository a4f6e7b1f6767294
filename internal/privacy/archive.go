package privacy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/fix"
)

// Objects is the object store under the archive (s3store.Bucket).
type Objects interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Get(ctx context.Context, key string) (data []byte, found bool, err error)
	Delete(ctx context.Context, key string) error
}

// ObjectArchive reads and erases a device's archived days through the
// archive's layout (archive.DevicePrefix: one device per object, so an
// erasure deletes objects whole).
type ObjectArchive struct {
	Objects Objects
	Prefix  string // S3_PREFIX
}

// EachDay implements Archive.
func (a ObjectArchive) EachDay(ctx context.Context, tenant, device string, fn func(day time.Time, fixes []fix.Fix) error) error {
	keys, err := a.Objects.List(ctx, archive.DevicePrefix(a.Prefix, tenant, device))
	if err != nil {
		return err
	}
	for _, key := range keys { // sorted: date=YYYY-MM-DD sorts by day
		day, ok := dayOf(key)
		if !ok {
			continue
		}
		data, found, err := a.Objects.Get(ctx, key)
		if err != nil {
			return err
		}
		if !found {
			continue // removed since the listing (an erasure, a retention sweep)
		}
		rows, err := archive.Decode(data)
		if err != nil {
			return fmt.Errorf("archive object %s: %w", key, err)
		}
		fixes := make([]fix.Fix, 0, len(rows))
		for _, r := range rows {
			f, err := r.Fix()
			if err != nil {
				return fmt.Errorf("archive object %s: %w", key, err)
			}
			fixes = append(fixes, f)
		}
		if err := fn(day, fixes); err != nil {
			return err
		}
	}
	return nil
}

// EraseDevice implements Archive: every object under the device's folder.
func (a ObjectArchive) EraseDevice(ctx context.Context, tenant, device string) (int, error) {
	keys, err := a.Objects.List(ctx, archive.DevicePrefix(a.Prefix, tenant, device))
	if err != nil {
		return 0, err
	}
	for i, key := range keys {
		if err := a.Objects.Delete(ctx, key); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}

// dayOf reads the date=YYYY-MM-DD partition of an object key.
func dayOf(key string) (time.Time, bool) {
	_, rest, ok := strings.Cut(key, "/date=")
	if !ok {
		return time.Time{}, false
	}
	date, _, _ := strings.Cut(rest, "/")
	day, err := time.Parse(archive.DateLayout, date)
	return day, err == nil
}

// Reachable lists the device's folder: an export checks it before its
// first byte, so an archive that is down is a 503, not a cut-off ZIP.
func (a ObjectArchive) Reachable(ctx context.Context, tenant, device string) error {
	_, err := a.Objects.List(ctx, archive.DevicePrefix(a.Prefix, tenant, device))
	return err
}
