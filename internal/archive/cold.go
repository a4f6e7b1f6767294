package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/parquet-go/parquet-go"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/s3store"
)

// coldBatch is how many rows the cold reader decodes at a time: the unit
// of memory per open object, and the batch it yields.
const coldBatch = 1024

// coldReadBuffer is the read size per column of an object: one S3 range
// request each, so larger means fewer round trips and more memory
// (10 columns × this per open object).
const coldReadBuffer = 256 << 10

// ColdStore reads history from the archive: the Parquet objects under
// <prefix>tenant=<t>/device=<d>/date=YYYY-MM-DD/ of a bucket. It
// implements locate.Archive.
type ColdStore struct {
	client *minio.Client
	bucket string
	prefix string
	// sse is the SSE-C key objects were written with; nil for SSE-S3
	// (the server decrypts) or none.
	sse encrypt.ServerSide
}

// NewColdStore reads the archive in bucket under prefix ("" or a folder
// ending in "/"). sse is the customer key (SSE-C) objects were written
// with, or nil.
func NewColdStore(client *minio.Client, bucket, prefix string, sse encrypt.ServerSide) *ColdStore {
	return &ColdStore{client: client, bucket: bucket, prefix: prefix, sse: sse}
}

// Scan yields device's archived fixes with from <= ts <= to (zero:
// unbounded) in ts order, in batches of at most coldBatch. Only the date
// partitions overlapping the range are listed, only the row groups whose
// ts statistics overlap it are read, and rows are decoded a batch at a
// time, so memory stays bounded whatever the size of the history. Objects
// of one day are merged by ts; a ts in more than one of them is returned
// once. Rows must be in ts order within an object (the archiver writes
// them so); one that is not fails the scan rather than return a history
// out of order.
func (c *ColdStore) Scan(ctx context.Context, tenant, device string, from, to time.Time) iter.Seq2[[]fix.Fix, error] {
	return func(consume func([]fix.Fix, error) bool) {
		// A store that cannot be reached is an outage (503, "archive
		// unavailable"), not a bug.
		yield := func(batch []fix.Fix, err error) bool { return consume(batch, s3store.Outage(err)) }
		minMS, maxMS := locate.MSRange(from, to)
		days, err := c.days(ctx, tenant, device, minMS, maxMS)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, day := range days {
			if !c.scanDay(ctx, day, minMS, maxMS, yield) {
				return
			}
		}
	}
}

// coldDay is the objects of one date partition.
type coldDay struct {
	date string
	keys []string
}

// days lists the device's objects in the date partitions overlapping
// [minMS, maxMS], oldest first. Keys list in lexical order, which for
// date=YYYY-MM-DD is time order.
func (c *ColdStore) days(ctx context.Context, tenant, device string, minMS, maxMS int64) ([]coldDay, error) {
	prefix := DevicePrefix(c.prefix, tenant, device)
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
	if minMS != math.MinInt64 {
		// Everything before the first day of the range sorts before
		// "date=<that day>".
		opts.StartAfter = prefix + "date=" + time.UnixMilli(minMS).UTC().AddDate(0, 0, -1).Format(time.DateOnly) + "/~"
	}
	lastDate := ""
	if maxMS != math.MaxInt64 {
		lastDate = time.UnixMilli(maxMS).UTC().Format(time.DateOnly)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when we leave early
	var days []coldDay
	for obj := range c.client.ListObjects(lctx, c.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("archive: list %s: %w", prefix, obj.Err)
		}
		rest := strings.TrimPrefix(obj.Key, prefix)
		date, name, ok := strings.Cut(strings.TrimPrefix(rest, "date="), "/")
		if !ok || !strings.HasPrefix(rest, "date=") || !strings.HasSuffix(name, ".parquet") {
			continue // not an archive object (a manifest, a temporary name)
		}
		if lastDate != "" && date > lastDate {
			break
		}
		if n := len(days); n > 0 && days[n-1].date == date {
			days[n-1].keys = append(days[n-1].keys, obj.Key)
		} else {
			days = append(days, coldDay{date: date, keys: []string{obj.Key}})
		}
	}
	return days, nil
}

// scanDay yields the rows of one day's objects in [minMS, maxMS], merged
// by ts; false when the consumer stopped or an error was yielded.
func (c *ColdStore) scanDay(ctx context.Context, day coldDay, minMS, maxMS int64, yield func([]fix.Fix, error) bool) bool {
	parts := make([]*coldPart, 0, len(day.keys))
	defer func() {
		for _, p := range parts {
			p.close()
		}
	}()
	for _, key := range day.keys {
		p, err := c.openPart(ctx, key, minMS, maxMS)
		if err != nil {
			return yield(nil, err) && false
		}
		parts = append(parts, p)
	}
	batch := make([]fix.Fix, 0, coldBatch)
	lastMS := int64(math.MinInt64)
	for {
		// The part with the smallest next ts; days have one part or a few.
		var next *coldPart
		for _, p := range parts {
			row, ok, err := p.peek()
			if err != nil {
				return yield(nil, err) && false
			}
			if ok && (next == nil || row.TS < next.rows[next.i].TS) {
				next = p
			}
		}
		if next == nil {
			break
		}
		row := &next.rows[next.i]
		next.i++
		if row.TS == lastMS {
			continue // the same fix in two objects of the day
		}
		lastMS = row.TS
		f, err := row.Fix()
		if err != nil {
			return yield(nil, fmt.Errorf("archive: %s: %w", next.key, err)) && false
		}
		batch = append(batch, f)
		if len(batch) == coldBatch {
			if !yield(batch, nil) {
				return false
			}
			batch = make([]fix.Fix, 0, coldBatch) // the consumer may keep the last one
		}
	}
	if len(batch) > 0 {
		return yield(batch, nil)
	}
	return true
}

// coldPart reads one object's rows in [minMS, maxMS], a batch at a time.
type coldPart struct {
	key          string
	obj          *minio.Object
	groups       []parquet.RowGroup
	seeks        []int64 // per group, the row to start reading at
	reader       *parquet.GenericReader[Row]
	rows         []Row
	i            int
	minMS, maxMS int64
	lastMS       int64
	done         bool
}

func (c *ColdStore) openPart(ctx context.Context, key string, minMS, maxMS int64) (*coldPart, error) {
	obj, err := c.client.GetObject(ctx, c.bucket, key, minio.GetObjectOptions{ServerSideEncryption: c.sse})
	if err != nil {
		return nil, fmt.Errorf("archive: get %s: %w", key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("archive: stat %s: %w", key, err)
	}
	file, err := openObject(obj, info.Size, parquet.SkipBloomFilters(true), parquet.ReadBufferSize(coldReadBuffer))
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("archive: open %s: %w", key, err)
	}
	if err := checkSchema(file); err != nil {
		obj.Close()
		return nil, fmt.Errorf("archive: %s: %w", key, err)
	}
	p := &coldPart{key: key, obj: obj, minMS: minMS, maxMS: maxMS, lastMS: math.MinInt64}
	tsColumn, ok := file.Schema().Lookup("ts")
	if !ok {
		obj.Close()
		return nil, fmt.Errorf("archive: %s has no ts column", key)
	}
	for _, rg := range file.RowGroups() {
		// Skip row groups wholly outside the range by their statistics,
		// and the pages of a group before the range by its page index.
		seek := int64(0)
		if chunk, ok := rg.ColumnChunks()[tsColumn.ColumnIndex].(*parquet.FileColumnChunk); ok {
			lo, hi, ok := chunk.Bounds()
			if ok && (hi.Int64() < minMS || lo.Int64() > maxMS) {
				continue
			}
			if ok && lo.Int64() < minMS {
				seek = firstRowFrom(chunk, minMS)
			}
		}
		p.groups = append(p.groups, rg)
		p.seeks = append(p.seeks, seek)
	}
	return p, nil
}

// firstRowFrom is the first row of the first page of chunk (ts, in order)
// that may hold a ts ≥ minMS, by the page index; 0 without one. Seeking
// there saves decoding the rows of a cursor's day before it.
func firstRowFrom(chunk *parquet.FileColumnChunk, minMS int64) int64 {
	columnIndex, err := chunk.ColumnIndex()
	if err != nil || columnIndex == nil {
		return 0
	}
	offsetIndex, err := chunk.OffsetIndex()
	if err != nil || offsetIndex == nil || offsetIndex.NumPages() != columnIndex.NumPages() {
		return 0
	}
	for i := range columnIndex.NumPages() {
		if !columnIndex.NullPage(i) && columnIndex.MaxValue(i).Int64() >= minMS {
			return offsetIndex.FirstRowIndex(i)
		}
	}
	return 0
}

// peek returns the next row in range without taking it.
func (p *coldPart) peek() (*Row, bool, error) {
	for !p.done {
		for ; p.i < len(p.rows); p.i++ {
			row := &p.rows[p.i]
			if row.TS > p.maxMS {
				p.done = true
				return nil, false, nil
			}
			if row.TS >= p.minMS {
				return row, true, nil
			}
		}
		if err := p.fill(); err != nil {
			return nil, false, err
		}
	}
	return nil, false, nil
}

// fill decodes the next batch of rows, moving to the next row group when
// one is used up, and checks that they continue in ts order.
func (p *coldPart) fill() error {
	if p.rows == nil {
		p.rows = make([]Row, coldBatch)
	}
	for {
		if p.reader == nil {
			if len(p.groups) == 0 {
				p.done = true
				p.rows, p.i = p.rows[:0], 0
				return nil
			}
			p.reader = parquet.NewGenericRowGroupReader[Row](p.groups[0])
			seek := p.seeks[0]
			p.groups, p.seeks = p.groups[1:], p.seeks[1:]
			if seek > 0 {
				if err := p.reader.SeekToRow(seek); err != nil {
					return fmt.Errorf("archive: seek in %s: %w", p.key, err)
				}
			}
		}
		buf := p.rows[:cap(p.rows)]
		clear(buf)
		n, err := p.reader.Read(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("archive: read %s: %w", p.key, err)
		}
		if err != nil || n == 0 {
			p.closeReader()
		}
		if n == 0 {
			continue
		}
		p.rows, p.i = buf[:n], 0
		for i := range p.rows {
			if ts := p.rows[i].TS; ts < p.lastMS {
				return fmt.Errorf("archive: %s: rows are not in ts order (%d after %d)", p.key, ts, p.lastMS)
			} else {
				p.lastMS = ts
			}
		}
		return nil
	}
}

func (p *coldPart) closeReader() {
	if p.reader != nil {
		p.reader.Close()
		p.reader = nil
	}
}

func (p *coldPart) close() {
	p.closeReader()
	p.obj.Close()
}
