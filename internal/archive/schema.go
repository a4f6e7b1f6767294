package archive

// Row is one archived fix: the Parquet schema of every archive object.
//
// Numbers are DECIMAL columns (scaled integers with delta encoding), which
// compress far better than floats and which standard readers (DuckDB,
// pandas, Spark) read as the numbers they stand for: lat and lon in
// degrees (7 decimals), alt and acc in metres (1 decimal), speed in m/s and
// heading in degrees (2 decimals), battery in 0..1 (4 decimals). hr is the
// heart rate in beats per minute (the "hr" attr of GPX and Garmin tracks),
// the one attr common enough for a typed column. Optional fields are null
// when the fix had none. A value a column cannot hold exactly keeps its
// exact double in attrs under ExactKey (see FromFix).
type Row struct {
	Device    string  `parquet:"device,dict"`
	TS        int64   `parquet:"ts,timestamp(millisecond),delta"`
	LatE7     int32   `parquet:"lat,decimal(7:9),delta"`
	LonE7     int64   `parquet:"lon,decimal(7:10),delta"` // INT64: ±180.0000000 needs 10 digits
	AltDM     *int32  `parquet:"alt,decimal(1:9)"`
	AccDM     *int32  `parquet:"acc,decimal(1:9)"`
	SpeedCMS  *int32  `parquet:"speed,decimal(2:9)"`
	HeadingCD *int32  `parquet:"heading,decimal(2:9)"`
	BatteryE4 *int32  `parquet:"battery,decimal(4:9)"`
	HR        *int32  `parquet:"hr,optional"`
	Attrs     *string `parquet:"attrs,optional"` // JSON object of the remaining attrs
}
