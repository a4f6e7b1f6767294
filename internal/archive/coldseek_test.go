package archive

import (
	"bytes"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// TestFirstRowFromSkipsPagesBeforeTheRange: in a day's single row group,
// the page index places a range's start at a page past the first, and
// reading from there yields the rows from the start on.
func TestFirstRowFromSkipsPagesBeforeTheRange(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	rows := make([]Row, 86400)
	for i := range rows {
		rows[i] = Row{Device: "d1", TS: start + int64(i)*1000, LatE7: int32(470000000 + i), LonE7: 80000000}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(int64(len(rows))))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	col, _ := file.Schema().Lookup("ts")
	rg := file.RowGroups()[0]
	chunk := rg.ColumnChunks()[col.ColumnIndex].(*parquet.FileColumnChunk)
	from := start + 60000*1000
	seek := firstRowFrom(chunk, from)
	if seek <= 0 || seek > 60000 {
		t.Fatalf("seek to row %d for row 60000", seek)
	}
	r := parquet.NewGenericRowGroupReader[Row](rg)
	defer r.Close()
	if err := r.SeekToRow(seek); err != nil {
		t.Fatal(err)
	}
	got := make([]Row, 1)
	if _, err := r.Read(got); err != nil || got[0].TS != rows[seek].TS {
		t.Fatalf("row after the seek %+v (%v), want ts %d", got[0], err, rows[seek].TS)
	}
	if firstRowFrom(chunk, start-1) != 0 {
		t.Fatal("a range before the group seeks")
	}
	t.Logf("row 60000 is on the page starting at row %d", seek)
}
