package archive

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

func int32p(v int32) *int32 { return &v }

// FuzzDecode: any bytes decode to rows or an error, never a panic or a
// hang, and decoded rows survive Encode unchanged.
func FuzzDecode(f *testing.F) {
	for _, rows := range [][]Row{
		{{Device: "d", TS: 1, LatE7: 523456780, LonE7: 134049540, AltDM: int32p(340)}, {Device: "d", TS: 2, LatE7: 523456790, LonE7: 134049550}},
		{{Device: "d", TS: 1, LatE7: 523456781, LonE7: -1800000000, BatteryE4: int32p(8700)}},
	} {
		data, err := Encode(rows)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(rows)
		if err != nil {
			t.Fatalf("re-encode %d decoded rows: %v", len(rows), err)
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatal(err)
		}
		if checksum(back) != checksum(rows) {
			t.Fatalf("decoded rows changed through Encode")
		}
	})
}

// Archive objects are zstd; another codec is refused before any page is
// read (the Parquet library's LZ4 decoder loops on some corrupt pages).
func TestDecodeRefusesOtherCodecs(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, parquet.Compression(&snappy.Codec{}))
	if _, err := w.Write([]Row{{Device: "d", TS: 1, LatE7: 1, LonE7: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rows, err := Decode(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "compressed with SNAPPY") {
		t.Fatalf("decoded %d rows, err %v", len(rows), err)
	}
}

// Truncated and bit-flipped objects give an error, never a panic.
func TestDecodeCorruptObjects(t *testing.T) {
	data, err := Encode([]Row{{Device: "d", TS: 1, LatE7: 523456780, LonE7: 134049540, AltDM: int32p(340)}})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(data); cut += 7 {
		if _, err := Decode(data[:cut]); err == nil {
			t.Fatalf("an object cut at %d of %d bytes decoded", cut, len(data))
		}
	}
	for i := 0; i < len(data); i += 3 {
		mutated := bytes.Clone(data)
		mutated[i] ^= 0xff
		Decode(mutated) // must return, with rows or an error
		RowCount(mutated)
	}
}
