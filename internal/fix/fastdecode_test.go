package fix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// sampleBatch returns a realistic batch of n fixes from a few devices, with
// the optional fields and attrs on some of them.
func sampleBatch(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"device":"truck-%d","ts":"2026-11-25T10:%02d:%02d.%03dZ","lat":%.6f,"lon":%.6f`,
			i%7, i/60%60, i%60, i%1000, 51.5+float64(i)*1e-4, -0.12-float64(i)*1e-4)
		if i%2 == 0 {
			fmt.Fprintf(&b, `,"alt":%d,"acc":%.1f,"speed":%.2f,"heading":%d`, 30+i%10, 4.5, 12.25+float64(i%5), i%360)
		}
		if i%5 == 0 {
			fmt.Fprintf(&b, `,"battery":0.%d`, 1+i%9)
		}
		if i%10 == 0 {
			fmt.Fprintf(&b, `,"attrs":{"ign":"on","src":"gps%d"}`, i%3)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// checkSame fails t unless the fast path, when it accepts data, gives what
// the encoding/json path gives.
func checkSame(t *testing.T, data []byte, subject string) (ok bool) {
	t.Helper()
	fixes, errs, ok := decodeBatchFast(data, subject)
	if !ok {
		return false
	}
	sf, se, serr := decodeBatchSlow(data, subject)
	if serr != nil {
		t.Fatalf("fast path accepted %q, slow path failed: %v", data, serr)
	}
	if !reflect.DeepEqual(fixes, sf) {
		t.Fatalf("fixes differ for %q:\nfast %+v\nslow %+v", data, fixes, sf)
	}
	if len(errs) != len(se) {
		t.Fatalf("%d errors, slow path %d, for %q", len(errs), len(se), data)
	}
	for i := range errs {
		if fmt.Sprint(errs[i]) != fmt.Sprint(se[i]) || !reflect.DeepEqual(errs[i], se[i]) {
			t.Fatalf("fix %d of %q: error %v, slow path %v", i, data, errs[i], se[i])
		}
	}
	for i := range fixes {
		f, g := fixes[i], sf[i]
		for _, p := range [][2]*float64{{f.Alt, g.Alt}, {f.Acc, g.Acc}, {f.Speed, g.Speed}, {f.Heading, g.Heading}, {f.Battery, g.Battery}} {
			if (p[0] == nil) != (p[1] == nil) {
				t.Fatalf("fix %d of %q: optional field pointer-ness differs", i, data)
			}
		}
		if (f.Attrs == nil) != (g.Attrs == nil) {
			t.Fatalf("fix %d of %q: attrs nil-ness differs", i, data)
		}
	}
	return true
}

const okFix = `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`

var fastCases = []struct {
	name string
	in   string
	fast bool // whether the fast path is expected to accept it
}{
	{"single object", okFix, true},
	{"array of one", `[` + okFix + `]`, true},
	{"full", `[{"device":"truck-7","ts":"2026-11-25T10:00:00.250Z","lat":51.5,"lon":-0.12,"alt":30,"acc":5,"speed":12.3,"heading":270,"battery":0.8,"attrs":{"k":"v"}}]`, true},
	{"any key order", `[{"attrs":{"k":"v"},"battery":0.8,"lon":-0.12,"heading":270,"lat":51.5,"ts":"2026-11-25T10:00:00Z","device":"d"}]`, true},
	{"whitespace everywhere", " \n[ \t{ \"device\" : \"a\" ,\r\n \"ts\":\"2026-11-25T10:00:00Z\" , \"lat\" : 1 , \"lon\" :\t2 , \"attrs\" : { \"a\" : \"b\" , \"c\":\"d\" } } , " + okFix + " ] \n", true},
	{"unicode space trimmed", "\u00a0" + okFix + "\u0085", true},
	{"device from subject", `[{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}]`, true},
	{"no ts", `[{"device":"a","lat":1,"lon":2}]`, true},
	{"bad ts", `[{"device":"a","ts":"yesterday","lat":1,"lon":2}]`, true},
	{"no lat", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lon":2}]`, true},
	{"no lon", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":2}]`, true},
	{"empty object", `[{}]`, true},
	{"empty attrs", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{}}]`, true},
	{"attrs dup key", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"k":"1","k":"2"}}]`, true},
	{"attrs on a bad fix", `[{"device":"a","lat":1,"lon":2,"attrs":{"k":"v"}}]`, true},
	{"numbers", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1e2,"lon":-0,"alt":1E-7,"acc":0.0,"speed":-1.5e+3,"heading":12E-0,"battery":1e-400}]`, true},
	{"utf8 strings", `[{"device":"gerät-ü","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"名前":"値"}}]`, true},
	{"offset time", `[{"device":"a","ts":"2026-11-25T11:00:00+01:00","lat":1,"lon":2}]`, true},
	{"unknown keys skipped", `[{"device":"a","x":{"y":[1,true,false,null,"s",{}],"z":[]},"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"q":-1.5e3,"":"","n":null}]`, true},
	{"many fixes", string(sampleBatch(100)), true},

	{"empty", ``, false},
	{"empty array", `[]`, false},
	{"escape in device", `[{"device":"a\u0062","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}]`, false},
	{"escape in key", `[{"l\u0061t":1,"device":"a","ts":"2026-11-25T10:00:00Z","lon":2}]`, false},
	{"escape in unknown", `[{"x":"\n",` + okFix[1:] + `]`, false},
	{"null field", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"alt":null}]`, false},
	{"null item", `[null]`, false},
	{"null attrs", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":null}]`, false},
	{"tenant", `[{"tenant":"t","device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}]`, false},
	{"duplicate key", `[{"lat":3,"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}]`, false},
	{"case-folded key", `[{"LAT":3,"device":"a","ts":"2026-11-25T10:00:00Z","lon":2}]`, false},
	{"unicode-folded key", `[{"ſpeed":3,"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}]`, false},
	{"string lat", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":"1","lon":2}]`, false},
	{"number ts", `[{"device":"a","ts":1,"lat":1,"lon":2}]`, false},
	{"bool lat", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":true,"lon":2}]`, false},
	{"plus", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":+1,"lon":2}]`, false},
	{"leading dot", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":.5,"lon":2}]`, false},
	{"trailing dot", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":5.,"lon":2}]`, false},
	{"leading zero", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":01,"lon":2}]`, false},
	{"hex", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":0x1,"lon":2}]`, false},
	{"inf", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":Inf,"lon":2}]`, false},
	{"nan", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":NaN,"lon":2}]`, false},
	{"out of range", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1e400,"lon":2}]`, false},
	{"underscore", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1_0,"lon":2}]`, false},
	{"invalid utf8", "[{\"device\":\"a\xff\",\"ts\":\"2026-11-25T10:00:00Z\",\"lat\":1,\"lon\":2}]", false},
	{"control char", "[{\"device\":\"a\tb\",\"ts\":\"2026-11-25T10:00:00Z\",\"lat\":1,\"lon\":2}]", false},
	{"attrs number", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"k":1}}]`, false},
	{"attrs array", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":[]}]`, false},
	{"trailing data", `[` + okFix + `]x`, false},
	{"trailing object", okFix + `{}`, false},
	{"trailing comma", `[` + okFix + `,]`, false},
	{"trailing comma in object", `[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,}]`, false},
	{"missing colon", `[{"device" "a"}]`, false},
	{"number item", `[1]`, false},
	{"unterminated", `[` + okFix, false},
	{"deep unknown", `[{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]`, false},
	{"form feed", "[\f" + okFix + "]", false},
	{"bom", "\ufeff" + okFix, false},
}

func TestDecodeBatchFast(t *testing.T) {
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, subject := range []string{"", "subj-1"} {
				got := checkSame(t, []byte(tc.in), subject)
				if got != tc.fast {
					t.Fatalf("fast path ok=%v, want %v", got, tc.fast)
				}
				// DecodeBatch must agree with the slow path either way.
				f1, e1, err1 := DecodeBatch([]byte(tc.in), subject)
				f2, e2, err2 := decodeBatchSlow([]byte(tc.in), subject)
				if !reflect.DeepEqual(f1, f2) || !reflect.DeepEqual(e1, e2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
					t.Fatalf("DecodeBatch differs from decodeBatchSlow:\n%+v %v %v\n%+v %v %v", f1, e1, err1, f2, e2, err2)
				}
			}
		})
	}
}

func TestDecodeBatchFastLimits(t *testing.T) {
	item := okFix
	build := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]")
	}
	if !checkSame(t, build(MaxBatch), "") {
		t.Fatal("fast path declined MaxBatch fixes")
	}
	if _, _, ok := decodeBatchFast(build(MaxBatch+1), ""); ok {
		t.Fatal("fast path accepted MaxBatch+1 fixes")
	}
	if _, _, err := DecodeBatch(build(MaxBatch+1), ""); err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("MaxBatch+1: err = %v", err)
	}
}

// The fast path must not keep the request body alive through the fixes.
func TestDecodeBatchFastCopiesStrings(t *testing.T) {
	data := []byte(`[{"device":"dev","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"k":"v"}}]`)
	fixes, _, ok := decodeBatchFast(data, "")
	if !ok {
		t.Fatal("declined")
	}
	for i := range data {
		data[i] = 'x'
	}
	if fixes[0].Device != "dev" || fixes[0].Attrs["k"] != "v" {
		t.Fatalf("fix changed with its input: %+v", fixes[0])
	}
}

func FuzzDecodeBatchFast(f *testing.F) {
	for _, tc := range fastCases {
		f.Add([]byte(tc.in), "")
	}
	f.Add([]byte(`{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`), "subj")
	f.Add([]byte(`[{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"device":""}]`), "subj")
	f.Add([]byte(`[{"device":"a","ts":"2026-11-25T10:00:00.123456789Z","lat":-0.0,"lon":1E+2,"alt":-1e-7,"acc":123456789012345678901234567890}]`), "")
	f.Add([]byte(`[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"Device":"b"}]`), "")
	f.Add([]byte(`[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"la_t":9,"lo-n":9}]`), "")
	f.Add([]byte(`[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"K":"\u212a"}]`), "")
	f.Add([]byte(`[{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2},null]`), "")
	f.Add(sampleBatch(3), "s")
	f.Add(sampleBatch(64), "") // bigger seeds make minimization stall the fuzzer
	f.Fuzz(func(t *testing.T, data []byte, subject string) {
		checkSame(t, data, subject)
	})
}

func BenchmarkDecodeBatch1000(b *testing.B) {
	data := sampleBatch(1000)
	if _, _, ok := decodeBatchFast(data, ""); !ok {
		b.Fatal("fast path declined the sample batch")
	}
	for _, bc := range []struct {
		name string
		fn   func([]byte, string) ([]Fix, []error, error)
	}{
		{"fast", DecodeBatch},
		{"slow", decodeBatchSlow},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				fixes, _, err := bc.fn(data, "")
				if err != nil || len(fixes) != 1000 {
					b.Fatal(err, len(fixes))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/fix")
			b.ReportMetric(float64(testing.AllocsPerRun(10, func() { bc.fn(data, "") }))/1000, "allocs/fix")
		})
	}
}

// The fast number path must agree bit for bit with strconv.ParseFloat,
// which encoding/json uses.
func TestFastNumberMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	for range 200000 {
		var s strings.Builder
		if rng.IntN(2) == 0 {
			s.WriteByte('-')
		}
		if rng.IntN(4) == 0 {
			s.WriteByte('0')
		} else {
			s.WriteByte(byte('1' + rng.IntN(9)))
			s.WriteString(digits(rng.IntN(18)))
		}
		if rng.IntN(2) == 0 {
			s.WriteByte('.')
			s.WriteString(digits(1 + rng.IntN(18)))
		}
		if rng.IntN(3) == 0 {
			s.WriteString([]string{"e", "E", "e+", "e-", "E-"}[rng.IntN(5)])
			s.WriteString(strconv.Itoa(rng.IntN(40)))
		}
		in := s.String()
		p := fastParser{s: in}
		got, ok := p.number()
		want, err := strconv.ParseFloat(in, 64)
		if !ok || err != nil || p.i != len(in) {
			t.Fatalf("%s: ok=%v i=%d, ParseFloat err %v", in, ok, p.i, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s: got %v, ParseFloat %v", in, got, want)
		}
	}
}
