package edgefilter

import (
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Filter is the streaming filter of one device. It is not safe for
// concurrent use; give each device its own (see Bank). Its whole memory is
// the last accepted fix, the last forwarded fix and at most WindowPoints
// undecided fixes, and it can be saved and restored with State/FromState.
//
// The simplifier is an opening-window algorithm with the synchronised
// Euclidean distance (SED, Meratnia & de By 2004, "OPW-TR"):
//   - the anchor is the last forwarded fix; the undecided fixes after it are
//     buffered;
//   - a new fix x is tried as the end of the segment anchor→x; if every
//     buffered fix lies within EpsilonM of where that segment, travelled at
//     constant speed, puts the device at the buffered fix's time, x extends
//     the window;
//   - otherwise the previous fix (the last end that did fit) is forwarded
//     and becomes the anchor.
//
// Why SED rather than perpendicular distance: a track is a position per
// instant, not just a line. SED bounds the error in space and in time, so a
// stop, a U-turn or a slow-down inside a segment is kept, and "where was the
// vehicle at 10:42:13" is answered within ε from the forwarded fixes by
// linear interpolation. The price is a little less compression than a purely
// spatial bound.
//
// ε semantics, exactly: for every fix that entered the simplifier (passed the
// pre-filters), geo.SyncedDistance to the forwarded track — the fixes
// forwarded by this Filter, joined by straight segments, interpolated at the
// fix's timestamp — is at most EpsilonM. MaxDeviation measures the same thing.
type Filter struct {
	s      Settings
	last   *fix.Fix  // last accepted fix (entered the simplifier)
	held   *fix.Fix  // latest fix dropped as duplicate/stationary since last: a stop's end
	anchor *fix.Fix  // last forwarded fix of the current session; nil between sessions
	buf    []fix.Fix // undecided fixes after anchor, oldest first
	near   []pending // buf's fixes prepared for fits, same order
	nearKx float64   // metres per degree of longitude at the anchor, while near is not empty

	// Storage for last, held and anchor, so that keeping a fix does not
	// allocate: each pointer is nil or points at its own field (or, after
	// FromState, at a copy).
	lastFix, heldFix, anchorFix fix.Fix
}

// New returns a Filter for one device. s should have passed Validate.
func New(s Settings) *Filter { return &Filter{s: s} }

// Push offers one fix, received at now. out holds the fixes that have just
// been decided to be forwarded, oldest first: possibly an earlier buffered
// fix, possibly x itself, possibly both (around a gap). drop is why x was
// rejected by a pre-filter, or "" when x entered the simplifier (which may
// still leave it out of the forwarded track later, within ε).
//
// Fixes dropped as duplicate or stationary are held, the latest one only:
// when the device moves on, that last fix of the stop goes through the
// simplifier before the new one, because how long a device stood still is
// information — without it the forwarded track would show a slow creep
// instead of a stop and break the time-synchronised bound. So a fix
// reported dropped as duplicate/stationary can still be forwarded later, as
// a stop's end (at most one per stop).
func (f *Filter) Push(x fix.Fix, now time.Time) (out []fix.Fix, drop Reason) {
	latest := f.last
	if f.held != nil {
		latest = f.held
	}
	gap := latest != nil && x.TS.Sub(latest.TS) > seconds(f.s.GapS)
	if r := prefilter(&f.s, &x, f.last, latest, gap, now); r != "" {
		// Only a later fix can be a stop's end; a repeated timestamp is not.
		if (r == ReasonDuplicate || r == ReasonStationary) && x.TS.After(latest.TS) {
			f.heldFix = x
			f.held = &f.heldFix
		}
		return nil, r
	}
	out = f.releaseHeld()
	f.lastFix = x
	f.last = &f.lastFix
	if gap {
		out = append(out, f.endSession()...)
	}
	return append(out, f.accept(x)...), ""
}

// Flush ends the session: it forwards the pending last fix (or the held end
// of a stop), if any. The next accepted fix starts a new session and is
// forwarded immediately.
func (f *Filter) Flush() []fix.Fix {
	return append(f.releaseHeld(), f.endSession()...)
}

func (f *Filter) releaseHeld() []fix.Fix {
	if f.held == nil {
		return nil
	}
	f.lastFix = *f.held
	f.held, f.last = nil, &f.lastFix
	return f.accept(f.lastFix)
}

func (f *Filter) endSession() []fix.Fix {
	var out []fix.Fix
	if n := len(f.buf); n > 0 {
		out = []fix.Fix{f.buf[n-1]}
	}
	f.anchor = nil
	f.buf, f.near = f.buf[:0], f.near[:0]
	return out
}

// Pending is the number of undecided fixes held.
func (f *Filter) Pending() int { return len(f.buf) }

func (f *Filter) accept(x fix.Fix) []fix.Fix {
	if f.anchor == nil || !f.s.Simplify {
		return f.forward(x) // first fix of a session is always kept
	}
	var out []fix.Fix
	if f.fits(x) {
		f.hold(x)
	} else {
		// The window's current end fitted; x does not, so the end is forwarded
		// and x is the first undecided fix after it. Anchor→x has nothing in
		// between, so it trivially fits.
		end := f.buf[len(f.buf)-1]
		out = f.forward(end)
		f.hold(x)
	}
	if len(f.buf) >= f.s.WindowPoints || x.TS.Sub(f.buf[0].TS) >= seconds(f.s.WindowS) {
		out = append(out, f.forward(x)...)
	}
	return out
}

func (f *Filter) forward(x fix.Fix) []fix.Fix {
	f.anchorFix = x
	f.anchor = &f.anchorFix
	f.buf, f.near = f.buf[:0], f.near[:0]
	return []fix.Fix{x}
}
