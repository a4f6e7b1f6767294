package fix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeBatchFast is DecodeBatch's hand-written fast path for the common
// case: an array (or one object) of flat fix objects with plain strings and
// JSON numbers. It is a strict subset of what encoding/json accepts. On
// anything it does not handle exactly like encoding/json would, it gives up
// (ok=false) and the caller falls back to decodeBatchSlow, so semantics
// never depend on which path ran. FuzzDecodeBatchFast checks that, whenever
// ok is true, the result is identical to decodeBatchSlow's.
//
// It gives up on: escapes in any string, control characters or invalid
// UTF-8 in strings, null as a known field's value or as an array item, a
// duplicated known key, the tenant key, keys other than the exact lower-case
// field names that encoding/json's case-insensitive matching could map to a
// field (any non-ASCII key, or one that equals a field name ignoring case,
// '_' and '-'), a non-number where a number is expected, a number outside
// the JSON grammar or out of float64 range, attrs that is not an object of
// strings, nesting deeper than maxSkipDepth in an ignored value, an empty
// array, more than MaxBatch items, and any syntax error or trailing data.
//
// Unknown keys are skipped, as encoding/json does, after checking that their
// values are well-formed JSON (within the limits above; null is fine there).
func decodeBatchFast(data []byte, defaultDevice string) (fixes []Fix, errs []error, ok bool) {
	trimmed := bytes.TrimSpace(data) // as decodeBatchSlow; may trim Unicode spaces
	if len(trimmed) == 0 {
		return nil, nil, false
	}
	// One copy of the body as a string: every token is then a substring
	// (no per-field conversions). Strings that outlive the call (device,
	// attrs) are cloned or interned so that no Fix pins the whole body.
	p := &fastParser{s: string(trimmed)}
	switch p.s[0] {
	case '{':
		f, err, ok := p.object(defaultDevice)
		if !ok || p.i != len(p.s) {
			return nil, nil, false
		}
		return []Fix{f}, []error{err}, true
	case '[':
		p.i++
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] == ']' {
			return nil, nil, false // empty array: the slow path words the error
		}
		n := len(p.s)/80 + 1 // a typical fix is 100..200 bytes
		if n > MaxBatch {
			n = MaxBatch
		}
		fixes = make([]Fix, 0, n)
		var errIdx []int
		var errVal []error
		for {
			if p.i >= len(p.s) || p.s[p.i] != '{' {
				return nil, nil, false
			}
			f, err, ok := p.object(defaultDevice)
			if !ok || len(fixes) == MaxBatch {
				return nil, nil, false
			}
			if err != nil {
				errIdx = append(errIdx, len(fixes))
				errVal = append(errVal, err)
			}
			fixes = append(fixes, f)
			p.ws()
			if p.i >= len(p.s) {
				return nil, nil, false
			}
			c := p.s[p.i]
			p.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, nil, false
			}
			p.ws()
		}
		if p.i != len(p.s) {
			return nil, nil, false
		}
		errs = make([]error, len(fixes))
		for k, i := range errIdx {
			errs[i] = errVal[k]
		}
		return fixes, errs, true
	}
	return nil, nil, false
}

// maxSkipDepth bounds the nesting of ignored values the fast path skips.
const maxSkipDepth = 32

// Bits of fastParser.seen, one per known key.
const (
	seenDevice = 1 << iota
	seenTS
	seenLat
	seenLon
	seenAlt
	seenAcc
	seenSpeed
	seenHeading
	seenBattery
	seenAttrs
)

// knownKeys are the names encoding/json could match to a wireFix field.
var knownKeys = [...]string{"device", "ts", "lat", "lon", "alt", "acc", "speed", "heading", "battery", "attrs", "tenant"}

type fastParser struct {
	s string
	i int

	// w and its targets are reused for every object: wireFix.fix copies
	// device, ts, lat and lon out, so only the optional numbers need memory
	// of their own per fix.
	w            wireFix
	dev, ts      string
	lat, lon     float64
	lastDev      string            // devices usually repeat within a batch
	intern       map[string]string // devices, attrs keys and values
	internedSize int
}

// ws skips JSON whitespace.
func (p *fastParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object parses the object at p.i (which is '{') and converts it with
// wireFix.fix, exactly as the slow path does. ok=false means "give up".
func (p *fastParser) object(defaultDevice string) (f Fix, err error, ok bool) {
	p.i++ // '{'
	p.w = wireFix{}
	var seen uint
	var opt [5]float64 // alt, acc, speed, heading, battery
	var attrs map[string]string
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
	} else {
		for {
			key, ok := p.str()
			if !ok {
				return Fix{}, nil, false
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return Fix{}, nil, false
			}
			p.i++
			p.ws()
			var bit uint
			switch key {
			case "device":
				bit = seenDevice
			case "ts":
				bit = seenTS
			case "lat":
				bit = seenLat
			case "lon":
				bit = seenLon
			case "alt":
				bit = seenAlt
			case "acc":
				bit = seenAcc
			case "speed":
				bit = seenSpeed
			case "heading":
				bit = seenHeading
			case "battery":
				bit = seenBattery
			case "attrs":
				bit = seenAttrs
			default: // includes "tenant"
				if mayMatchField(key) || !p.skip(0) {
					return Fix{}, nil, false
				}
			}
			if bit != 0 {
				if seen&bit != 0 {
					return Fix{}, nil, false // duplicate key: leave to encoding/json
				}
				seen |= bit
				switch bit {
				case seenDevice:
					v, ok := p.str()
					if !ok {
						return Fix{}, nil, false
					}
					if v != p.lastDev {
						p.lastDev = p.internString(v)
					}
					p.dev = p.lastDev
				case seenTS:
					v, ok := p.str()
					if !ok {
						return Fix{}, nil, false
					}
					p.ts = v // only parsed, never retained
				case seenLat:
					if p.lat, ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenLon:
					if p.lon, ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenAlt:
					if opt[0], ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenAcc:
					if opt[1], ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenSpeed:
					if opt[2], ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenHeading:
					if opt[3], ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenBattery:
					if opt[4], ok = p.number(); !ok {
						return Fix{}, nil, false
					}
				case seenAttrs:
					if attrs, ok = p.attrs(); !ok {
						return Fix{}, nil, false
					}
				}
			}
			p.ws()
			if p.i >= len(p.s) {
				return Fix{}, nil, false
			}
			c := p.s[p.i]
			p.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return Fix{}, nil, false
			}
			p.ws()
		}
	}

	w := &p.w
	if seen&seenDevice != 0 {
		w.Device = &p.dev
	}
	if seen&seenTS != 0 {
		w.TS = &p.ts
	}
	if seen&seenLat != 0 {
		w.Lat = &p.lat
	}
	if seen&seenLon != 0 {
		w.Lon = &p.lon
	}
	// One allocation for all optional numbers of this fix.
	if nopt := countBits(seen & (seenAlt | seenAcc | seenSpeed | seenHeading | seenBattery)); nopt > 0 {
		slab := make([]float64, 0, nopt)
		for k, ptr := range [...]**float64{&w.Alt, &w.Acc, &w.Speed, &w.Heading, &w.Battery} {
			if seen&(seenAlt<<k) != 0 {
				slab = append(slab, opt[k])
				*ptr = &slab[len(slab)-1]
			}
		}
	}
	// attrs is converted here rather than by fix (which would run
	// encoding/json on it); fix only looks at it after every other check.
	f, err = w.fix(defaultDevice)
	if err == nil && attrs != nil {
		f.Attrs = attrs
	}
	p.ts = ""
	return f, err, true
}

func countBits(x uint) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// mayMatchField reports whether encoding/json could map key to a wireFix
// field other than by the exact match handled in object: any non-ASCII key
// (Unicode case folding, e.g. U+017F 'ſ' folds to 's'), or one equal to a
// field name ignoring ASCII case, '_' and '-'.
func mayMatchField(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, name := range knownKeys {
		if looseEqual(key, name) {
			return true
		}
	}
	return false
}

// looseEqual compares key to the lower-case ASCII name ignoring case, '_'
// and '-' in key.
func looseEqual(key, name string) bool {
	j := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' || c == '-' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// strStop marks the bytes str must look at: the closing quote, and what
// makes it give up or check UTF-8.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str reads a string at p.i without escapes, control characters or
// invalid UTF-8, returning its contents (a substring of p.s).
func (p *fastParser) str() (string, bool) {
	s := p.s
	if p.i >= len(s) || s[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	high := false
	for i := start; i < len(s); i++ {
		if !strStop[s[i]] {
			continue
		}
		switch c := s[i]; {
		case c == '"':
			v := s[start:i]
			if high && !utf8.ValidString(v) {
				return "", false
			}
			p.i = i + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		default:
			high = true
		}
	}
	return "", false
}

// scanNumber returns the end of the JSON number at p.i, or -1, and, when
// the number is exactly representable the easy way, its value (exact=true):
// at most 15 significant digits and a decimal exponent within ±22, so that
// both the mantissa and the power of ten are exact float64s and one
// correctly rounded multiplication or division gives the correctly rounded
// result, which is what strconv.ParseFloat returns (its own exact path).
// The grammar is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what
// follows is checked by the caller (e.g. "01" fails there on the '1').
func (p *fastParser) scanNumber() (end int, v float64, exact bool) {
	s, i := p.s, p.i
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits := 0 // significant digits in mant
	exp10 := 0
	exact = true
	addDigit := func(c byte) {
		if mant == 0 && c == '0' {
			return
		}
		if digits >= 15 {
			exact = false
			return
		}
		mant = mant*10 + uint64(c-'0')
		digits++
	}
	switch {
	case i >= len(s):
		return -1, 0, false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			addDigit(s[i])
		}
	default:
		return -1, 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			addDigit(s[i])
			exp10--
		}
		if i == d {
			return -1, 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		d := i
		e := 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if i == d {
			return -1, 0, false
		}
		if eneg {
			e = -e
		}
		exp10 += e
	}
	if !exact {
		return i, 0, false
	}
	v = float64(mant)
	switch {
	case mant == 0 || exp10 == 0:
	case exp10 > 0 && exp10 <= 22:
		v *= pow10[exp10]
	case exp10 < 0 && exp10 >= -22:
		v /= pow10[-exp10]
	default:
		return i, 0, false
	}
	if neg {
		v = -v
	}
	return i, v, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number reads a JSON number into a float64 as encoding/json does
// (strconv.ParseFloat on the literal); out of range gives up.
func (p *fastParser) number() (float64, bool) {
	end, v, exact := p.scanNumber()
	if end < 0 {
		return 0, false
	}
	if !exact {
		var err error
		if v, err = strconv.ParseFloat(p.s[p.i:end], 64); err != nil {
			return 0, false
		}
	}
	p.i = end
	return v, true
}

// attrs reads an object of string values into a new map (non-nil even when
// empty, as encoding/json makes it). A repeated key keeps its last value,
// as encoding/json does for maps.
func (p *fastParser) attrs() (map[string]string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, false
	}
	p.i++
	m := map[string]string{}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.ws()
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		m[p.internString(k)] = p.internString(v)
		p.ws()
		if p.i >= len(p.s) {
			return nil, false
		}
		c := p.s[p.i]
		p.i++
		if c == '}' {
			return m, true
		}
		if c != ',' {
			return nil, false
		}
		p.ws()
	}
}

// internString returns a copy of s that does not share p.s, reusing
// earlier copies: devices and attrs keys (often values) repeat in a batch.
func (p *fastParser) internString(s string) string {
	if v, ok := p.intern[s]; ok {
		return v
	}
	c := strings.Clone(s)
	if len(s) <= 64 && p.internedSize < 1<<16 {
		if p.intern == nil {
			p.intern = make(map[string]string)
		}
		p.intern[c] = c
		p.internedSize += len(c)
	}
	return c
}

// skip passes over any one well-formed JSON value at p.i, within the fast
// path's limits (no escapes, valid UTF-8, bounded depth).
func (p *fastParser) skip(depth int) bool {
	if depth > maxSkipDepth || p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; c {
	case '"':
		_, ok := p.str()
		return ok
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			return true
		}
		for {
			if c == '{' {
				if _, ok := p.str(); !ok {
					return false
				}
				p.ws()
				if p.i >= len(p.s) || p.s[p.i] != ':' {
					return false
				}
				p.i++
				p.ws()
			}
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.i >= len(p.s) {
				return false
			}
			d := p.s[p.i]
			p.i++
			if d == closer {
				return true
			}
			if d != ',' {
				return false
			}
			p.ws()
		}
	default:
		end, _, _ := p.scanNumber()
		if end < 0 {
			return false
		}
		p.i = end
		return true
	}
}

func (p *fastParser) literal(lit string) bool {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return false
	}
	p.i += len(lit)
	return true
}

// decodeBatchSlow is the general DecodeBatch, built on encoding/json: it is
// the reference the fast path must match and the fallback for everything the
// fast path declines. Well-formed batches are read in one pass; only a batch
// with a type error is decoded again item by item, so that every error names
// its fix.
func decodeBatchSlow(data []byte, defaultDevice string) ([]Fix, []error, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var wires []wireFix
		if err := json.Unmarshal(trimmed, &wires); err == nil {
			if len(wires) == 0 {
				return nil, nil, &FieldError{Field: "body", Msg: "empty array: expected 1 to 10000 fixes"}
			}
			if len(wires) > MaxBatch {
				return nil, nil, &FieldError{Field: "body", Msg: fmt.Sprintf("%d fixes in one batch; the limit is %d", len(wires), MaxBatch)}
			}
			fixes := make([]Fix, len(wires))
			errs := make([]error, len(wires))
			for i := range wires {
				fixes[i], errs[i] = wires[i].fix(defaultDevice)
			}
			return fixes, errs, nil
		}
	}
	items, err := SplitBatch(trimmed)
	if err != nil {
		return nil, nil, err
	}
	fixes := make([]Fix, len(items))
	errs := make([]error, len(items))
	for i, raw := range items {
		fixes[i], errs[i] = Decode(raw, defaultDevice)
	}
	return fixes, errs, nil
}
