package edgebench

import (
	"fmt"
	"strings"
)

// Markdown renders the report as GitHub-flavoured Markdown tables.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString("## Edge filter benchmark\n\n")
	fmt.Fprintf(&b, "Settings: ε = %g m, window %d fixes / %g s, gap %g s, max speed %g m/s, max accuracy %g m.\n\n",
		r.Settings.EpsilonM, r.Settings.WindowPoints, r.Settings.WindowS, r.Settings.GapS, r.Settings.MaxSpeedMS, r.Settings.MaxAccuracyM)
	b.WriteString("Deviation: for every raw fix, the distance to the forwarded track (straight segments between\n")
	b.WriteString("forwarded fixes) at the raw fix's timestamp (synchronised Euclidean distance). Bytes: JSON array of fixes,\n")
	b.WriteString("as devices upload them (raw) and as forwarded; wire: the forwarded fixes as the forwarder sends them,\n")
	b.WriteString("gzipped batches of 500 (FORWARD_GZIP, on by default). Ratios are raw bytes over forwarded/wire bytes.\n\n")
	writeTable(&b, "Per track", r.Rows)
	writeTable(&b, "All tracks", r.Totals)
	fmt.Fprintf(&b, "Throughput: %.0f fixes/s through `edgefilter.Filter.Push` (one goroutine).\n", r.FixesPerSec)
	return b.String()
}

func writeTable(b *strings.Builder, title string, rows []Row) {
	fmt.Fprintf(b, "### %s\n\n", title)
	b.WriteString("| track | filter | raw fixes | raw bytes | fwd fixes | fwd bytes | ratio | wire bytes | wire ratio | max dev (m) | mean dev (m) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %.1f× | %d | %.1f× | %.2f | %.2f |\n",
			r.Track, r.Filter, r.RawFixes, r.RawBytes, r.FwdFixes, r.FwdBytes, r.Ratio, r.WireBytes, r.WireRatio, r.MaxDevM, r.MeanDevM)
	}
	b.WriteString("\n")
}
