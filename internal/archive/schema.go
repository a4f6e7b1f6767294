package archive

// Row is one archived fix: the Parquet schema of every archive object.
// Coordinates are stored as scaled integers (1e-7 degrees), which with
// delta encoding compress far better than doubles; they round-trip the
// 7 decimals a fix keeps. Optional fields are null when the fix had none.
type Row struct {
	Device  string   `parquet:"device,dict"`
	TS      int64    `parquet:"ts,timestamp(millisecond),delta"`
	LatE7   int32    `parquet:"lat_e7,delta"`
	LonE7   int32    `parquet:"lon_e7,delta"`
	Alt     *float32 `parquet:"alt,optional"`
	Acc     *float32 `parquet:"acc,optional"`
	Speed   *float32 `parquet:"speed,optional"`
	Heading *float32 `parquet:"heading,optional"`
	Battery *float32 `parquet:"battery,optional"`
	Attrs   *string  `parquet:"attrs,optional"` // JSON object of the remaining fields
}
