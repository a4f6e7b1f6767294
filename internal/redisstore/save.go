package redisstore

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/intake"
)

//go:embed records.lua
var recordsLua string

//go:embed save.lua
var saveLua string

var saveScript = redis.NewScript(recordsLua + saveLua)

// Chunk limits: a request above them is split across several script calls
// sent in one pipeline, always at group boundaries so that an event's seen
// mark and its fixes stay in one atomic call. They keep one script from
// blocking Redis for long and bound the request size; one group alone is
// never split, whatever its size (fix.MaxBatch bounds it).
const (
	maxChunkFixes = 5000
	maxChunkBytes = 8 << 20
)

// Save takes and returns the pipelines' own types (intake's), so no caller
// copies its groups into a store type; the short names keep this file
// readable.
type (
	Group       = intake.Group
	GroupResult = intake.GroupResult
	SaveResult  = intake.SaveResult
	Announce    = intake.Announce
)

// prepared is a Group as the script gets it: with the digest of its data,
// which the seen mark keeps so that a reused event id with other data is
// told apart from a redelivery (GroupResult.Conflict).
type prepared struct {
	Group
	digest uint16 // 0..4095 (save.lua keeps it in 12 bits)
	seenID string // dedupID(Source, ID), "" without an event id
}

// dedupID is what save.lua's CloudEvent dedup keeps of source+id: 4 bytes
// that pick the shard and a 6-byte fingerprint stored in it, both from a
// SHA-256 of source, \x1f, id (\x1f cannot be confused with characters of
// a source URI or an id; FNV mixes too little for ids that differ in their
// last characters). Two events are confused only if they collide on the
// shard and on the 48-bit fingerprint within one dedup bucket.
func dedupID(source, id string) string {
	buf := make([]byte, 0, len(source)+1+len(id))
	buf = append(append(append(buf, source...), 0x1f), id...)
	sum := sha256.Sum256(buf)
	return string(sum[:10])
}

// Save stores groups of fixes for tenant in one round trip (see the package
// doc for semantics). Every fix must pass fix.Validate relative to now; one
// that does not fails the whole call before anything is written, with an
// error wrapping ErrInvalidArgument and the *fix.FieldError.
//
// Concurrent small calls for the same tenant are coalesced (group commit): while
// one script call is in flight, the requests that arrive wait and then go
// together in the next call, so a burst of one-fix requests costs a few
// script calls instead of one each. An idle store adds no delay. Each call's
// input is checked on its own first, so one bad request cannot fail others.
func (s *Store) Save(ctx context.Context, tenant string, groups []Group, now time.Time) (SaveResult, error) {
	if _, err := s.keys(tenant); err != nil {
		return SaveResult{}, fmt.Errorf("redisstore: save: %w", err)
	}
	if err := checkGroups(groups, now); err != nil {
		return SaveResult{}, fmt.Errorf("redisstore: save: %w", err)
	}
	if len(groups) == 0 {
		return SaveResult{PerGroup: []GroupResult{}}, nil
	}
	if announces(groups) {
		if err := s.registerEmitter(ctx, tenant); err != nil {
			return SaveResult{}, fmt.Errorf("redisstore: save: %w", err)
		}
	}
	kept, tooOld := s.prepare(groups, now)
	n := 0
	for _, g := range kept {
		n += len(g.Fixes)
	}
	var (
		res SaveResult
		err error
	)
	if n >= coalesceBelow {
		// A batch already amortises the script call; queueing it behind
		// others would only serialise its encoding with their Redis time.
		res, err = s.saveNow(ctx, tenant, kept, now)
	} else {
		res, err = s.committer(tenant).save(ctx, s, tenant, kept, now)
	}
	if err != nil {
		return SaveResult{}, err
	}
	if tooOld != nil {
		res = restoreTooOld(res, groups, tooOld)
	}
	return res, nil
}

// prepare returns groups as the script gets them: each event with the digest
// of its data (all its fixes), and without the fixes older than the history
// retention, which the script's trim would delete at once (unless
// Options.KeepOld: an archive tier takes them). tooOld is nil
// when no fix is too old, else per group the too-old flags (nil for a group
// without any).
func (s *Store) prepare(groups []Group, now time.Time) (kept []prepared, tooOld [][]bool) {
	cutoff := now.UnixMilli() - s.opts.HistoryRetention.Milliseconds()
	kept = make([]prepared, len(groups))
	var buf []byte
	for gi, g := range groups {
		kept[gi] = prepared{Group: g}
		if g.Source != "" && g.ID != "" {
			h := fnv.New64a()
			// Over the fixes' records (exact, attrs in key order) with
			// device and ts: the same data as the JSON, without encoding it.
			for i := range g.Fixes {
				f := &g.Fixes[i]
				ms := f.TS.UnixMilli()
				_, start := bucketOf(ms)
				buf = append(append(buf[:0], f.Device...), 0x1f)
				buf = binary.BigEndian.AppendUint64(buf, uint64(ms))
				buf = appendRecord(buf, f, start)
				h.Write(buf)
			}
			sum := h.Sum64()
			sum ^= sum >> 32
			sum ^= sum >> 16 // FNV's low bits depend on the low bits only
			kept[gi].digest = uint16(sum % 4096)
			kept[gi].seenID = dedupID(g.Source, g.ID)
		}
		if s.opts.KeepOld {
			continue
		}
		old := 0
		for i := range g.Fixes {
			if g.Fixes[i].TS.UnixMilli() < cutoff {
				old++
			}
		}
		if old == 0 {
			continue
		}
		if tooOld == nil {
			tooOld = make([][]bool, len(groups))
		}
		flags := make([]bool, len(g.Fixes))
		fixes := make([]fix.Fix, 0, len(g.Fixes)-old)
		for i := range g.Fixes {
			if flags[i] = g.Fixes[i].TS.UnixMilli() < cutoff; !flags[i] {
				fixes = append(fixes, g.Fixes[i])
			}
		}
		tooOld[gi], kept[gi].Fixes = flags, fixes
	}
	return kept, tooOld
}

// restoreTooOld maps res, computed for the kept fixes, back onto groups.
func restoreTooOld(res SaveResult, groups []Group, tooOld [][]bool) SaveResult {
	for gi, flags := range tooOld {
		if flags == nil {
			continue
		}
		gr := &res.PerGroup[gi]
		stored := make([]bool, len(flags))
		old, k := 0, 0
		for i, isOld := range flags {
			if isOld {
				old++
				continue
			}
			if k < len(gr.Stored) {
				stored[i] = gr.Stored[k]
			}
			k++
		}
		gr.Stored = stored
		if gr.Duplicate {
			// A seen event is a duplicate as a whole, however old its fixes.
			gr.DupFixes += old
			res.Duplicates += old
		} else {
			gr.TooOld = old
			res.TooOld += old
		}
	}
	return res
}

// coalesceBelow is the request size (in fixes) below which concurrent Saves
// share script calls.
const coalesceBelow = 64

// checkGroups applies Save's input rules without touching Redis.
func checkGroups(groups []Group, now time.Time) error {
	for gi, g := range groups {
		if len(g.Fixes) > fix.MaxBatch {
			return fmt.Errorf("%w: group %d has %d fixes; the limit is %d", ErrInvalidArgument, gi, len(g.Fixes), fix.MaxBatch)
		}
		for fi := range g.Fixes {
			if err := fix.Validate(&g.Fixes[fi], now); err != nil {
				return fmt.Errorf("%w: group %d fix %d: %w", ErrInvalidArgument, gi, fi, err)
			}
		}
	}
	return nil
}

// saveNow is one Save without coalescing.
func (s *Store) saveNow(ctx context.Context, tenant string, groups []prepared, now time.Time) (SaveResult, error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return SaveResult{}, fmt.Errorf("redisstore: save: %w", err)
	}
	res := SaveResult{PerGroup: make([]GroupResult, len(groups))}
	if len(groups) == 0 {
		return res, nil
	}
	chunks, err := s.encode(keys, groups, now)
	if err != nil {
		return SaveResult{}, fmt.Errorf("redisstore: save: %w", err)
	}

	replies := make([][]any, len(chunks))
	if len(chunks) == 1 {
		// Run is EVALSHA with a fallback to EVAL when the script cache is cold.
		reply, err := saveScript.Run(ctx, s.client, chunks[0].keys, chunks[0].args...).Slice()
		if err != nil {
			return SaveResult{}, fmt.Errorf("redisstore: save %d fixes for tenant %q: %w", chunks[0].fixes, tenant, outboxFull(err))
		}
		replies[0] = reply
	} else if err := s.runPipelined(ctx, chunks, replies); err != nil {
		return SaveResult{}, fmt.Errorf("redisstore: save for tenant %q: %w", tenant, outboxFull(err))
	}

	for i, c := range chunks {
		if len(replies[i]) != resultsPerGroup*c.groups+1 {
			return SaveResult{}, fmt.Errorf("redisstore: save: script returned %d values for %d groups", len(replies[i]), c.groups)
		}
		if q, _ := replies[i][resultsPerGroup*c.groups].(int64); q > 0 {
			res.DeviceQuota = int(q)
		}
		for g := 0; g < c.groups; g++ {
			r := replies[i][resultsPerGroup*g:]
			dup, _ := r[0].(int64)
			accepted, _ := r[1].(int64)
			dupFixes, _ := r[2].(int64)
			flags, _ := r[3].(string)
			conflict, _ := r[4].(int64)
			overQuota, _ := r[5].(int64)
			gr := GroupResult{Duplicate: dup == 1, Conflict: conflict == 1, Accepted: int(accepted), DupFixes: int(dupFixes),
				OverQuota: int(overQuota), Stored: make([]bool, len(groups[c.firstGroup+g].Fixes))}
			for k := 0; k < len(flags) && k < len(gr.Stored); k++ {
				gr.Stored[k] = flags[k] == '1'
			}
			res.PerGroup[c.firstGroup+g] = gr
			res.Accepted += gr.Accepted
			res.Duplicates += gr.DupFixes
			res.OverQuota += gr.OverQuota
			if gr.Conflict {
				res.Conflicts++
			}
		}
	}
	return res, nil
}

// resultsPerGroup is how many values save.lua returns per group (then one
// more: the device quota it applied).
const resultsPerGroup = 6

// runPipelined sends all chunks with EVALSHA in one pipeline; chunks that
// failed with NOSCRIPT did not run at all, so they are safely re-sent with
// EVAL (which also caches the script).
func (s *Store) runPipelined(ctx context.Context, chunks []chunk, replies [][]any) error {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(chunks))
	for i, c := range chunks {
		cmds[i] = saveScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // errors are read per command below
	for i, cmd := range cmds {
		reply, err := cmd.Slice()
		if err != nil && isNoScript(err) {
			reply, err = saveScript.Eval(ctx, s.client, chunks[i].keys, chunks[i].args...).Slice()
		}
		if err != nil {
			return fmt.Errorf("chunk %d of %d (%d fixes): %w", i+1, len(chunks), chunks[i].fixes, err)
		}
		replies[i] = reply
	}
	return nil
}

func isNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
}

// deviceBucket names one history bucket of a device.
type deviceBucket struct {
	device string
	bucket int64
}

// chunk is the KEYS and ARGV of one script call.
type chunk struct {
	keys       []string
	args       []any
	firstGroup int
	groups     int
	fixes      int
	bytes      int
	packed     []byte // the groups, packed for save.lua (ARGV[14])
}

// encode validates the fixes and packs groups into chunks (see save.lua for
// the argument layout).
func (s *Store) encode(k tenantKeys, groups []prepared, now time.Time) ([]chunk, error) {
	header := func() []any {
		nowMS := now.UnixMilli()
		retention := s.opts.HistoryRetention.Milliseconds()
		// groups, then the event outbox's KEYS index, capacity, the
		// tenant and the number of event slots (set by finish), the key
		// prefix, the bucket width and keep old.
		keepOld := 0
		if s.opts.KeepOld {
			keepOld = 1
		}
		return []any{nowMS, nowMS - retention, retention, s.opts.DedupTTL.Milliseconds(), 0,
			0, s.opts.EventOutboxMaxLen, k.tenant, 0, k.base, bucketMS, keepOld, s.opts.DeviceQuota}
	}
	newChunk := func(first int) chunk {
		return chunk{keys: []string{k.geo(), k.last(), k.lastTS(), k.devices()}, args: header(), firstGroup: first}
	}
	var chunks []chunk
	total := 0
	for _, g := range groups {
		total += len(g.Fixes)
	}
	cur := newChunk(0)
	cur.packed = make([]byte, 0, min(total, maxChunkFixes)*packedFixEstimate)
	histIndex := map[string]int{}         // device -> KEYS index (1-based) of its history index in cur
	bucketIndex := map[deviceBucket]int{} // device and bucket -> KEYS index in cur
	var slots []*Announce                 // event slots of cur, numbered from 1
	finish := func() {
		cur.args[4] = cur.groups
		cur.args = append(cur.args, cur.packed)
		if len(slots) > 0 {
			cur.keys = append(cur.keys, k.events())
			cur.args[5] = len(cur.keys)
			cur.args[8] = len(slots)
			for _, a := range slots {
				cur.args = append(cur.args, a.Type, a.Source, a.TraceParent)
			}
		}
		chunks = append(chunks, cur)
		slots = slots[:0]
	}

	newest := map[string]int{} // device -> index in the group of its newest fix (first of equals)
	done := 0
	for gi, g := range groups {
		size := 0
		for i := range g.Fixes {
			size += packedFixEstimate + len(g.Fixes[i].Device) // rough
		}
		if cur.groups > 0 && (cur.fixes+len(g.Fixes) > maxChunkFixes || cur.bytes+size > maxChunkBytes) {
			finish()
			cur = newChunk(gi)
			cur.packed = make([]byte, 0, min(total-done, maxChunkFixes)*packedFixEstimate)
			clear(histIndex)
			clear(bucketIndex)
		}
		slot := 0
		if g.Announce != nil {
			slot = slices.Index(slots, g.Announce) + 1
			if slot == 0 {
				slots = append(slots, g.Announce)
				slot = len(slots)
			}
		}
		// GROUP_FMT of save.lua.
		p := cur.packed
		p = append(p, byte(len(g.seenID)))
		p = append(p, g.seenID...)
		p = binary.BigEndian.AppendUint32(p, uint32(len(g.Fixes)))
		p = binary.BigEndian.AppendUint16(p, g.digest)
		p = binary.BigEndian.AppendUint16(p, uint16(slot))
		// Only a device's newest fix of a group can become its latest
		// position (a newer one of the group would have been stored, or
		// found stored, first), so only those, and the fixes of announced
		// groups, carry their JSON.
		clear(newest)
		if g.Announce == nil && len(g.Fixes) > 1 { // a group's only fix is its newest
			for fi := range g.Fixes {
				f := &g.Fixes[fi]
				if j, ok := newest[f.Device]; !ok || f.TS.UnixMilli() > g.Fixes[j].TS.UnixMilli() {
					newest[f.Device] = fi
				}
			}
		}
		// (Save has validated every fix before this runs.)
		for fi := range g.Fixes {
			f := &g.Fixes[fi]
			ms := f.TS.UnixMilli()
			n, start := bucketOf(ms)
			hidx, ok := histIndex[f.Device]
			if !ok {
				cur.keys = append(cur.keys, k.history(f.Device))
				hidx = len(cur.keys)
				histIndex[f.Device] = hidx
			}
			db := deviceBucket{f.Device, n}
			bidx, ok := bucketIndex[db]
			if !ok {
				cur.keys = append(cur.keys, k.bucket(f.Device, n))
				bidx = len(cur.keys)
				bucketIndex[db] = bidx
			}
			// FIX_FMT of save.lua.
			from := len(p)
			p = binary.BigEndian.AppendUint16(p, uint16(hidx))
			p = binary.BigEndian.AppendUint16(p, uint16(bidx))
			p = binary.BigEndian.AppendUint64(p, math.Float64bits(float64(ms)))
			p = binary.BigEndian.AppendUint64(p, math.Float64bits(f.Lon))
			p = binary.BigEndian.AppendUint64(p, math.Float64bits(f.Lat))
			p = binary.BigEndian.AppendUint16(p, uint16(len(f.Device)))
			p = append(p, f.Device...)
			at := len(p)
			p = append(p, 0, 0, 0, 0)
			if g.Announce != nil || len(g.Fixes) == 1 || newest[f.Device] == fi {
				p = f.AppendJSON(p)
			}
			binary.BigEndian.PutUint32(p[at:], uint32(len(p)-at-4))
			at = len(p)
			p = append(p, 0, 0, 0, 0)
			p = appendRecord(p, f, start)
			binary.BigEndian.PutUint32(p[at:], uint32(len(p)-at-4))
			cur.bytes += len(p) - from
		}
		cur.packed = p
		cur.fixes += len(g.Fixes)
		cur.groups++
		done += len(g.Fixes)
	}
	finish()
	return chunks, nil
}

// packedFixEstimate sizes the packed argument: a fix's fixed fields, a
// typical record and some JSON.
const packedFixEstimate = 192
