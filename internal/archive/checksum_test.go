package archive

import (
	"encoding/binary"
	"hash/fnv"
)

// checksum is a 64-bit FNV-1a over every field of rows in order: the tests
// compare rows through Parquet with it.
func checksum(rows []Row) uint64 {
	h := fnv.New64a()
	var b []byte
	for _, r := range rows {
		b = b[:0]
		b = binary.AppendUvarint(b, uint64(len(r.Device)))
		b = append(b, r.Device...)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.TS))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.LatE7))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.LonE7))
		for _, v := range []*int32{r.AltDM, r.AccDM, r.SpeedCMS, r.HeadingCD, r.BatteryE4, r.HR} {
			if v == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.LittleEndian.AppendUint32(b, uint32(*v))
		}
		if r.Attrs == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(*r.Attrs)))
			b = append(b, *r.Attrs...)
		}
		h.Write(b)
	}
	return h.Sum64()
}
