package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// codec is zstd at its default level. Measured on the recorded 1 Hz tracks:
// the best level saves ~3 % of the bytes for ~18x the encoding CPU (the
// encoder's set-up dominates objects of a few thousand rows), which would
// cap the archiver far below its throughput target.
var codec = &zstd.Codec{Level: zstd.SpeedDefault}

// createdBy names the writer in each object's footer.
const createdBy = "geotrack archiver"

// Encode writes rows as one Parquet object (zstd, one row group): the
// format every archive object has.
func Encode(rows []Row) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(rows)*4 + 4096)
	w := parquet.NewGenericWriter[Row](&buf,
		parquet.Compression(codec),
		parquet.CreatedBy(createdBy, "1", ""),
		parquet.MaxRowsPerRowGroup(int64(max(len(rows), 1))),
		// Every integer column delta encoded: the tag cannot say it of an
		// optional (pointer) field.
		parquet.DefaultEncodingFor(parquet.Int32, &parquet.DeltaBinaryPacked),
		parquet.DefaultEncodingFor(parquet.Int64, &parquet.DeltaBinaryPacked),
		parquet.SkipPageStatistics("device"), parquet.SkipPageStatistics("lat"), parquet.SkipPageStatistics("lon"),
		parquet.SkipPageStatistics("alt"), parquet.SkipPageStatistics("acc"), parquet.SkipPageStatistics("speed"),
		parquet.SkipPageStatistics("heading"), parquet.SkipPageStatistics("battery"), parquet.SkipPageStatistics("hr"),
		parquet.SkipPageStatistics("attrs"),
	)
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("archive: encode %d rows: %w", len(rows), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("archive: encode %d rows: %w", len(rows), err)
	}
	return buf.Bytes(), nil
}

// Decode reads the rows of an archive object. Bytes that are not one fail
// with an error: the file is opened (and its footer checked) first, and a
// panic of the Parquet library on corrupt pages is turned into an error.
func Decode(data []byte) (rows []Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("archive: decode: corrupt object: %v", p)
		}
	}()
	f, err := openObject(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("archive: decode: %w", err)
	}
	if err := checkSchema(f); err != nil {
		return nil, fmt.Errorf("archive: decode: %w", err)
	}
	if n := f.NumRows(); n < 0 || n > MaxObjectRows {
		return nil, fmt.Errorf("archive: decode: %d rows: not an archive object (at most %d)", n, MaxObjectRows)
	}
	r := parquet.NewGenericReader[Row](f)
	defer r.Close()
	want := int(r.NumRows())
	// Grown as rows arrive rather than sized by the footer, which a corrupt
	// object could make claim anything.
	buf := make([]Row, 4096)
	for len(rows) < want {
		k, err := r.Read(buf)
		rows = append(rows, buf[:k]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("archive: decode: %w", err)
		}
		if k == 0 {
			break
		}
	}
	if len(rows) != want {
		return nil, fmt.Errorf("archive: decode: %d of %d rows", len(rows), want)
	}
	return rows, nil
}

// MaxObjectRows bounds an object's rows: a device's day at 100 Hz.
const MaxObjectRows = 100 * 86400

// RowCount is the number of rows an object's footer declares.
func RowCount(data []byte) (int, error) {
	f, err := openObject(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("archive: open object: %w", err)
	}
	return int(f.NumRows()), nil
}

// openObject opens a Parquet object, turning a panic of the Parquet
// library on a corrupt footer or page index (seen with mutated objects)
// into an error.
func openObject(r io.ReaderAt, size int64, options ...parquet.FileOption) (f *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("corrupt object: %v", p)
		}
	}()
	return parquet.OpenFile(r, size, options...)
}

// rowSchema is the schema Row writes.
var rowSchema = parquet.SchemaOf(Row{})

// checkSchema refuses an object whose columns are not Row's, of the same
// types (an object of an older schema, lat_e7 and float32 values, or one
// written by another tool): read as Row it would give zeros for the
// columns it lacks rather than fail.
func checkSchema(f *parquet.File) error {
	// Archive objects are zstd. Other codecs are refused before a page is
	// read: the Parquet library's LZ4 decoder loops forever on some
	// corrupt pages (found by FuzzDecode).
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if codec := c.MetaData.Codec; codec != format.Zstd && codec != format.Uncompressed {
				return fmt.Errorf("column %v compressed with %s: not an archive object (zstd)", c.MetaData.PathInSchema, codec)
			}
		}
	}
	for _, want := range rowSchema.Fields() {
		got, ok := f.Schema().Lookup(want.Name())
		if !ok {
			return fmt.Errorf("no column %q: not an object of this schema", want.Name())
		}
		if gt, wt := got.Node.Type(), want.Type(); gt.Kind() != wt.Kind() || gt.String() != wt.String() {
			return fmt.Errorf("column %q is %s, want %s", want.Name(), gt, wt)
		}
	}
	return nil
}
