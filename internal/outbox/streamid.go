package outbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// streamID is a parsed Redis stream entry id "<ms>-<seq>".
type streamID struct {
	ms, seq uint64
}

func parseStreamID(s string) (streamID, error) {
	msPart, seqPart, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, fmt.Errorf("stream id %q: want <ms>-<seq>", s)
	}
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return streamID{}, fmt.Errorf("stream id %q: bad milliseconds: %w", s, err)
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil {
		return streamID{}, fmt.Errorf("stream id %q: bad sequence: %w", s, err)
	}
	return streamID{ms: ms, seq: seq}, nil
}

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

func (id streamID) less(o streamID) bool {
	if id.ms != o.ms {
		return id.ms < o.ms
	}
	return id.seq < o.seq
}

// next is the smallest id greater than id: XTRIM MINID next removes id and
// everything before it.
func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{ms: id.ms + 1}
	}
	return streamID{ms: id.ms, seq: id.seq + 1}
}

// EntryTime is when the entry with stream id was appended (the id's
// millisecond part, stamped by Redis' clock).
func EntryTime(id string) (time.Time, error) {
	sid, err := parseStreamID(id)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(sid.ms)).UTC(), nil
}
