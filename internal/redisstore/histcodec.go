package redisstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// History is kept per device in time buckets of bucketWidth: one STRING per
// device and bucket of binary records (appended by save.lua), listed in the
// device's index ZSET. A record is, big-endian:
//
//	ts offset   3 bytes, ms since the bucket's start
//	flags       1 byte, see rec* below
//	ext         1 byte when recExt: bit i set = optional field i is a raw float64
//	lat, lon    int32 each, degrees × 1e7; or float64 each when recRawPos
//	optionals   in the order alt, acc, speed, heading, battery, each when its
//	            presence bit is set: a scaled integer of optionalCodecs'
//	            width, or a float64 when its ext bit is set
//	attrs       when recAttrs: uint24 length, then the attrs as a JSON object
//
// A scaled integer is used only when it gives back exactly the same float64
// (bit for bit, so -0 and values with more decimals are kept as raw floats):
// a typical GPS fix takes 23 bytes. save.lua reads only the ts offsets and
// the record lengths (recordLen's rules), for dedup and trims.
const bucketWidth = 10 * time.Minute

// bucketMS is bucketWidth in ms; offsets within a bucket fit in 3 bytes.
const bucketMS = int64(bucketWidth / time.Millisecond)

const (
	recAlt     = 1 << 0
	recAcc     = 1 << 1
	recSpeed   = 1 << 2
	recHeading = 1 << 3
	recBattery = 1 << 4
	recAttrs   = 1 << 5
	recRawPos  = 1 << 6
	recExt     = 1 << 7
)

// optionalCodec is how one optional field is scaled: value × scale as an
// unsigned (or, for alt, signed) big-endian integer of width bytes.
type optionalCodec struct {
	scale  float64
	width  int
	signed bool
}

// optionalCodecs, in record order (alt, acc, speed, heading, battery). The
// ranges cover every valid value of alt, heading and battery (fix.Validate);
// acc above 6553.5 m and speed above 655.35 m/s fall back to raw floats.
var optionalCodecs = [5]optionalCodec{
	{scale: 10, width: 3, signed: true}, // alt, dm: -12,000..100,000 m
	{scale: 10, width: 2},               // acc, dm
	{scale: 100, width: 2},              // speed, cm/s
	{scale: 100, width: 2},              // heading, 1/100 degree
	{scale: 10000, width: 2},            // battery, 1/10,000
}

const posScale = 1e7

// maxAttrsLen bounds the attrs JSON of one record (fix.Validate allows 64
// entries of at most 64+1024 bytes, far below).
const maxAttrsLen = 1<<24 - 1

// bucketOf returns the bucket number and its start (unix ms) of ts.
func bucketOf(tsMS int64) (n, start int64) {
	n = tsMS / bucketMS
	if tsMS < 0 && tsMS%bucketMS != 0 {
		n-- // floor; fixes before 1970 are refused, but keep the maths right
	}
	return n, n * bucketMS
}

// scaled returns v × scale as an integer when that integer, divided back,
// is bit for bit v and fits in width bytes.
func scaled(v, scale float64, width int, signed bool) (int64, bool) {
	q := math.Round(v * scale)
	lim := float64(uint64(1) << (8 * width))
	if signed {
		if q < -lim/2 || q >= lim/2 {
			return 0, false
		}
	} else if q < 0 || q >= lim {
		return 0, false
	}
	// Through int64, as the decoder does: -0 comes back as +0 and stays raw.
	if math.Float64bits(float64(int64(q))/scale) != math.Float64bits(v) {
		return 0, false
	}
	return int64(q), true
}

func putUint(b []byte, v uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func getUint(b []byte, width int) uint64 {
	var v uint64
	for i := 0; i < width; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// appendRecord appends f's record for the bucket starting at bucketStart
// (unix ms, f's bucket) to b.
func appendRecord(b []byte, f *fix.Fix, bucketStart int64) []byte {
	off := f.TS.UnixMilli() - bucketStart
	b = putUint(b, uint64(off), 3)
	flagsAt := len(b)
	b = append(b, 0)
	var flags, ext byte
	var ints [5]int64
	opts := [5]*float64{f.Alt, f.Acc, f.Speed, f.Heading, f.Battery}
	for i, v := range opts {
		if v == nil {
			continue
		}
		flags |= 1 << i
		c := optionalCodecs[i]
		q, ok := scaled(*v, c.scale, c.width, c.signed)
		if !ok {
			ext |= 1 << i
		}
		ints[i] = q
	}
	if ext != 0 {
		flags |= recExt
		b = append(b, ext)
	}
	lat, okLat := scaled(f.Lat, posScale, 4, true)
	lon, okLon := scaled(f.Lon, posScale, 4, true)
	if okLat && okLon {
		b = putUint(b, uint64(uint32(int32(lat))), 4)
		b = putUint(b, uint64(uint32(int32(lon))), 4)
	} else {
		flags |= recRawPos
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.Lat))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.Lon))
	}
	for i, v := range opts {
		if v == nil {
			continue
		}
		c := optionalCodecs[i]
		if ext&(1<<i) != 0 {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(*v))
			continue
		}
		b = putUint(b, uint64(ints[i])&(1<<(8*c.width)-1), c.width)
	}
	if len(f.Attrs) > 0 {
		flags |= recAttrs
		lenAt := len(b)
		b = append(b, 0, 0, 0)
		b = fix.AppendAttrs(b, f.Attrs)
		n := len(b) - lenAt - 3 // fix.Validate bounds attrs far below maxAttrsLen
		b[lenAt], b[lenAt+1], b[lenAt+2] = byte(n>>16), byte(n>>8), byte(n)
	}
	b[flagsAt] = flags
	return b
}

// errBadRecord is wrapped by every decoding error of a history bucket.
var errBadRecord = errors.New("corrupt history record")

// decodeRecord decodes the record at the start of b, of device in the
// bucket starting at bucketStart, and returns it with the record's length.
func decodeRecord(b []byte, device string, bucketStart int64) (fix.Fix, int, error) {
	if len(b) < 4 {
		return fix.Fix{}, 0, fmt.Errorf("%w: %d bytes left, want at least 4", errBadRecord, len(b))
	}
	off := int64(getUint(b, 3))
	if off >= bucketMS {
		return fix.Fix{}, 0, fmt.Errorf("%w: offset %d ms is beyond the bucket", errBadRecord, off)
	}
	flags := b[3]
	p := 4
	var ext byte
	if flags&recExt != 0 {
		if len(b) < 5 {
			return fix.Fix{}, 0, fmt.Errorf("%w: truncated", errBadRecord)
		}
		ext = b[4]
		p = 5
		if ext == 0 || ext&^0x1f != 0 || ext&^flags != 0 {
			return fix.Fix{}, 0, fmt.Errorf("%w: ext byte %#x does not match flags %#x", errBadRecord, ext, flags)
		}
	}
	f := fix.Fix{Device: device, TS: time.UnixMilli(bucketStart + off).UTC()}
	need := func(n int) error {
		if len(b)-p < n {
			return fmt.Errorf("%w: truncated", errBadRecord)
		}
		return nil
	}
	if flags&recRawPos != 0 {
		if err := need(16); err != nil {
			return fix.Fix{}, 0, err
		}
		f.Lat = math.Float64frombits(binary.BigEndian.Uint64(b[p:]))
		f.Lon = math.Float64frombits(binary.BigEndian.Uint64(b[p+8:]))
		p += 16
	} else {
		if err := need(8); err != nil {
			return fix.Fix{}, 0, err
		}
		f.Lat = float64(int32(binary.BigEndian.Uint32(b[p:]))) / posScale
		f.Lon = float64(int32(binary.BigEndian.Uint32(b[p+4:]))) / posScale
		p += 8
	}
	var vals *[5]float64 // one allocation for the fix's optional fields
	for i := range optionalCodecs {
		if flags&(1<<i) == 0 {
			continue
		}
		var v float64
		if ext&(1<<i) != 0 {
			if err := need(8); err != nil {
				return fix.Fix{}, 0, err
			}
			v = math.Float64frombits(binary.BigEndian.Uint64(b[p:]))
			p += 8
		} else {
			c := optionalCodecs[i]
			if err := need(c.width); err != nil {
				return fix.Fix{}, 0, err
			}
			u := getUint(b[p:], c.width)
			q := int64(u)
			if c.signed && u >= 1<<(8*c.width-1) {
				q -= 1 << (8 * c.width)
			}
			v = float64(q) / c.scale
			p += c.width
		}
		if vals == nil {
			vals = new([5]float64)
		}
		vals[i] = v
	}
	if vals != nil {
		for i, dst := range [5]**float64{&f.Alt, &f.Acc, &f.Speed, &f.Heading, &f.Battery} {
			if flags&(1<<i) != 0 {
				*dst = &vals[i]
			}
		}
	}
	if flags&recAttrs != 0 {
		if err := need(3); err != nil {
			return fix.Fix{}, 0, err
		}
		n := int(getUint(b[p:], 3))
		p += 3
		if err := need(n); err != nil {
			return fix.Fix{}, 0, err
		}
		var attrs map[string]string // not &f.Attrs: f would move to the heap
		if err := json.Unmarshal(b[p:p+n], &attrs); err != nil {
			return fix.Fix{}, 0, fmt.Errorf("%w: attrs: %w", errBadRecord, err)
		}
		f.Attrs = attrs
		if len(f.Attrs) == 0 {
			return fix.Fix{}, 0, fmt.Errorf("%w: empty attrs flagged present", errBadRecord)
		}
		p += n
	}
	return f, p, nil
}

// decodeBucket appends the fixes of one bucket's records to out, in stored
// (arrival) order.
func decodeBucket(out []fix.Fix, b []byte, device string, bucketStart int64) ([]fix.Fix, error) {
	for len(b) > 0 {
		f, n, err := decodeRecord(b, device, bucketStart)
		if err != nil {
			return out, err
		}
		out = append(out, f)
		b = b[n:]
	}
	return out, nil
}
