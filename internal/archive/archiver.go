package archive

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/locate"
)

// ErrHistoryChanged is what Hot.TrimArchived wraps when a device's history
// below the bound changed after the archiver read it (a late fix): nothing
// was removed, and the next pass archives the device again.
var ErrHistoryChanged = errors.New("history changed since it was read")

// Hot is the hot store the archiver drains (redisstore.Store).
type Hot interface {
	Tenants(ctx context.Context) ([]string, error)
	Devices(ctx context.Context, tenant string) ([]string, error)
	History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error)
	// TrimArchived removes the device's points with ts < before only if
	// there are exactly archived of them; otherwise it removes nothing and
	// returns an error wrapping an ErrHistoryChanged.
	TrimArchived(ctx context.Context, tenant, device string, before time.Time, archived int) error
}

// Cold is the object store (an S3 bucket).
type Cold interface {
	// Get returns the object, or found=false when there is none.
	Get(ctx context.Context, key string) (data []byte, found bool, err error)
	Put(ctx context.Context, key string, data []byte) error
}

// Archiver moves whole UTC days of history older than Retention from Hot
// to Cold, one Parquet object per device and day (ObjectKey).
//
// The guarantees, whatever point a pass is killed at:
//   - nothing is lost: a day leaves Hot only after its object was written,
//     read back and compared (byte for byte, and its row count), and only if Hot still
//     holds exactly the points that were read (TrimArchived);
//   - the archive holds each (device, ts) at most once: a day has one
//     object with a deterministic name, and a pass that finds it already
//     there (a killed pass, a late fix for an archived day) merges the hot
//     points into it and writes it again under the same name;
//   - between the write and the trim a point can be in both tiers: readers
//     merging hot and cold must take each ts once (hot wins; both hold the
//     same fix unless the device re-sent that ts after the trim, and then
//     hot has the newer one, which the next pass writes into the object).
type Archiver struct {
	Hot       Hot
	Cold      Cold
	Prefix    string        // object key prefix (S3_PREFIX)
	Retention time.Duration // HOT_RETENTION
	Workers   int           // devices archived at once (default 4)
	Now       func() time.Time
	Log       *slog.Logger
}

// pageSize is how many points one History call reads.
const pageSize = 10000

// Result is what one pass did.
type Result struct {
	Cutoff  time.Time `json:"cutoff"` // points before it were due
	Tenants int       `json:"tenants"`
	Devices int       `json:"devices"` // devices that had points due
	Points  int       `json:"points"`  // points moved out of the hot store
	Objects int       `json:"objects"` // objects written
	Bytes   int64     `json:"bytes"`   // bytes of the objects written
	// Changed counts devices left for the next pass because a late fix
	// arrived while they were archived.
	Changed int `json:"changed"`
	// OldestDue is the oldest point still in the hot store before Cutoff
	// after the pass (zero: the archive has caught up).
	OldestDue time.Time `json:"oldest_due,omitzero"`
	// Issue 12 §1 (h20): what the retention sweep run after the pass
	// removed: hot histories trimmed, archive objects deleted or rewritten.
	RetentionDevices int `json:"retention_devices,omitempty"`
	RetentionObjects int `json:"retention_objects,omitempty"`
	// Issue 12 §2 (h20): audit entries copied to the WORM audit bucket.
	AuditObjects int `json:"audit_objects,omitempty"`
	AuditEntries int `json:"audit_entries,omitempty"`
}

// Cutoff is the first instant a pass leaves in the hot store: the start of
// the UTC day that now-retention falls in, so only whole days move and
// each day's object is written once in the normal course.
func Cutoff(now time.Time, retention time.Duration) time.Time {
	return Day(now.Add(-retention).UnixMilli())
}

// Pass archives everything due. It stops at the first failure of either
// store (the hot data stays; the next pass catches up) and returns what it
// did so far with the error.
func (a *Archiver) Pass(ctx context.Context) (Result, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	res := Result{Cutoff: Cutoff(now(), a.Retention)}
	tenants, err := a.Hot.Tenants(ctx)
	if err != nil {
		return res, fmt.Errorf("archive: list tenants: %w", err)
	}
	res.Tenants = len(tenants)
	type job struct{ tenant, device string }
	var jobs []job
	for _, t := range tenants {
		devices, err := a.Hot.Devices(ctx, t)
		if err != nil {
			return res, fmt.Errorf("archive: devices of tenant %q: %w", t, err)
		}
		for _, d := range devices {
			jobs = append(jobs, job{t, d})
		}
	}

	workers := a.Workers
	if workers <= 0 {
		workers = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan job)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				dr, err := a.device(ctx, j.tenant, j.device, res.Cutoff)
				mu.Lock()
				res.add(dr)
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("archive: tenant %q device %q: %w", j.tenant, j.device, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("archive: %w", err)
	}
	return res, nil
}

func (r *Result) add(d Result) {
	r.Devices += d.Devices
	r.Points += d.Points
	r.Objects += d.Objects
	r.Bytes += d.Bytes
	r.Changed += d.Changed
	if !d.OldestDue.IsZero() && (r.OldestDue.IsZero() || d.OldestDue.Before(r.OldestDue)) {
		r.OldestDue = d.OldestDue
	}
}

// device archives one device's due days, oldest first, each trimmed from
// the hot store as soon as its object is verified.
func (a *Archiver) device(ctx context.Context, tenant, device string, cutoff time.Time) (res Result, err error) {
	to := cutoff.Add(-time.Millisecond)
	var (
		day    time.Time
		rows   []Row
		cursor string
	)
	// On failure or a late fix the device's oldest point still due is the
	// archive's lag; on success there is none.
	defer func() {
		if err == nil && res.Changed == 0 {
			return
		}
		page, herr := a.Hot.History(context.WithoutCancel(ctx), tenant, device, time.Time{}, to, 1, "")
		if herr == nil && len(page.Fixes) > 0 {
			res.OldestDue = page.Fixes[0].TS
		}
	}()
	flush := func() (stop bool, err error) {
		if len(rows) == 0 {
			return false, nil
		}
		n, size, err := a.writeDay(ctx, tenant, device, day, rows)
		if err != nil {
			return true, err
		}
		res.Objects++
		res.Bytes += size
		err = a.Hot.TrimArchived(ctx, tenant, device, day.AddDate(0, 0, 1), n)
		if errors.Is(err, ErrHistoryChanged) {
			a.logger().Info("archive: late fix, device left for the next pass", "tenant", tenant, "device", device, "day", day.Format(DateLayout))
			res.Changed++
			return true, nil
		}
		if err != nil {
			return true, fmt.Errorf("trim %s: %w", day.Format(DateLayout), err)
		}
		res.Points += n
		rows = rows[:0]
		return false, nil
	}
	for {
		page, err := a.Hot.History(ctx, tenant, device, time.Time{}, to, pageSize, cursor)
		if err != nil {
			return res, fmt.Errorf("read history: %w", err)
		}
		if res.Devices == 0 && len(page.Fixes) > 0 {
			res.Devices = 1
		}
		for _, f := range page.Fixes {
			r, err := FromFix(f)
			if err != nil {
				return res, err
			}
			if d := Day(r.TS); !d.Equal(day) {
				if stop, err := flush(); stop || err != nil {
					return res, err
				}
				day = d
			}
			rows = append(rows, r)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	_, err = flush()
	return res, err
}

// writeDay writes the day's object (merged with the one already there),
// reads it back and checks it. n is the number of hot points it covers.
func (a *Archiver) writeDay(ctx context.Context, tenant, device string, day time.Time, hot []Row) (n int, size int64, err error) {
	key := ObjectKey(a.Prefix, tenant, device, day)
	old, found, err := a.Cold.Get(ctx, key)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", key, err)
	}
	rows := hot
	if found {
		existing, err := Decode(old)
		if err != nil {
			return 0, 0, fmt.Errorf("decode %s: %w", key, err)
		}
		rows = Merge(existing, hot)
	}
	data, err := Encode(rows)
	if err != nil {
		return 0, 0, err
	}
	if err := a.Cold.Put(ctx, key, data); err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", key, err)
	}
	back, found, err := a.Cold.Get(ctx, key)
	if err != nil {
		return 0, 0, fmt.Errorf("read back %s: %w", key, err)
	}
	if !found {
		return 0, 0, fmt.Errorf("read back %s: object missing after the write", key)
	}
	// Byte for byte, and the footer's row count: the object is what was
	// encoded, and it is a whole Parquet file of every row. (Decoding the
	// rows again cost a third of a pass's CPU and checks only the encoder,
	// which the tests do.)
	if !bytes.Equal(back, data) {
		return 0, 0, fmt.Errorf("read back %s: %d bytes (sha256 %x) differ from the %d written (sha256 %x)", key, len(back), sha256.Sum256(back), len(data), sha256.Sum256(data))
	}
	count, err := RowCount(back)
	if err != nil {
		return 0, 0, fmt.Errorf("read back %s: %w", key, err)
	}
	if count != len(rows) {
		return 0, 0, fmt.Errorf("read back %s: %d rows, wrote %d", key, count, len(rows))
	}
	return len(hot), int64(len(data)), nil
}

// Merge returns the rows of old and hot by ts, each ts once: hot's row
// wins. Both must be sorted by ts with unique ts (as History returns them
// and Encode writes them).
func Merge(old, hot []Row) []Row {
	out := make([]Row, 0, len(old)+len(hot))
	i, j := 0, 0
	for i < len(old) && j < len(hot) {
		switch c := cmp.Compare(old[i].TS, hot[j].TS); {
		case c < 0:
			out = append(out, old[i])
			i++
		case c > 0:
			out = append(out, hot[j])
			j++
		default:
			out = append(out, hot[j])
			i++
			j++
		}
	}
	out = append(out, old[i:]...)
	out = append(out, hot[j:]...)
	return slices.Clip(out)
}

func (a *Archiver) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
