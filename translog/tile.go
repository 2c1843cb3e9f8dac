package translog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// EntriesLevel is the level of entry bundles in a [tlog.Tile]: their path
// element is "entries" instead of a number.
const EntriesLevel = -1

// maxTileN bounds tile numbers so that N·256 + W fits in an int64.
const maxTileN = 1<<55 - 1

// TilePath returns the C2SP tlog-tiles path of t, relative to the log's
// prefix: "tile/<L>/<N>" for a full tile (W = 256),
// "tile/<L>/<N>.p/<W>" for a partial one, and "tile/entries/…" for an
// entry bundle (L = [EntriesLevel]). <N> is written in zero-padded groups
// of three digits, all but the last prefixed with "x" (1234067 is
// x001/x234/067). t.H must be [TileHeight].
func TilePath(t tlog.Tile) string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.L == EntriesLevel {
		b.WriteString("entries")
	} else {
		fmt.Fprintf(&b, "%d", t.L)
	}
	var groups []int64
	n := t.N
	for {
		groups = append(groups, n%1000)
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		b.WriteString("/")
		if i > 0 {
			b.WriteString("x")
		}
		fmt.Fprintf(&b, "%03d", groups[i])
	}
	if t.W < 1<<TileHeight {
		fmt.Fprintf(&b, ".p/%d", t.W)
	}
	return b.String()
}

// ParseTilePath parses an untrusted C2SP tile or entry bundle path
// ("tile/0/x001/x234/067.p/8", "tile/entries/000") strictly: the level is
// "entries" or 0 to 63 in decimal without leading zeros; N has canonical
// three-digit groups (no leading "x000" group) and is below 2⁵⁵; W, when
// ".p/<W>" is present, is 1 to 255 without leading zeros. The tile has
// H = [TileHeight] and W = 256 for a full tile. For every path it accepts,
// TilePath gives back the same string.
func ParseTilePath(path string) (tlog.Tile, error) {
	bad := func(why string) (tlog.Tile, error) {
		return tlog.Tile{}, fmt.Errorf("translog: malformed tile path %q: %s", path, why)
	}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return bad(`it does not start with "tile/"`)
	}
	f := strings.Split(rest, "/")
	if len(f) < 2 {
		return bad("no tile number")
	}
	t := tlog.Tile{H: TileHeight, W: 1 << TileHeight}
	if f[0] == "entries" {
		t.L = EntriesLevel
	} else {
		l, ok := parseDecimal(f[0], 63)
		if !ok {
			return bad(fmt.Sprintf("level %q is not 0 to 63 without leading zeros", f[0]))
		}
		t.L = int(l)
	}
	f = f[1:]
	if k := len(f); k >= 2 && strings.HasSuffix(f[k-2], ".p") {
		w, ok := parseDecimal(f[k-1], 1<<TileHeight-1)
		if !ok || w == 0 {
			return bad(fmt.Sprintf("width %q is not 1 to 255 without leading zeros", f[k-1]))
		}
		t.W = int(w)
		f = append(f[:k-2:k-2], strings.TrimSuffix(f[k-2], ".p"))
	}
	if len(f) > 6 {
		return bad("tile number too large")
	}
	for i, g := range f {
		if i < len(f)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return bad(fmt.Sprintf("element %q of the tile number does not start with \"x\"", f[i]))
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return bad(fmt.Sprintf("element %q of the tile number is not three digits", f[i]))
		}
		if i == 0 && len(f) > 1 && g == "000" {
			return bad("the tile number has a leading zero group")
		}
		t.N = t.N*1000 + int64(g[0]-'0')*100 + int64(g[1]-'0')*10 + int64(g[2]-'0')
	}
	if t.N > maxTileN {
		return bad("tile number too large")
	}
	return t, nil
}

// MarshalEntryBundle encodes entries as a C2SP entry bundle: each entry
// prefixed with its length as a big-endian uint16.
func MarshalEntryBundle(entries [][]byte) ([]byte, error) {
	var n int
	for i, e := range entries {
		if len(e) > MaxEntrySize {
			return nil, fmt.Errorf("translog: bundle entry %d of %d bytes is larger than %d bytes", i, len(e), MaxEntrySize)
		}
		n += 2 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

// ParseEntryBundle decodes an untrusted C2SP entry bundle. The entries
// alias data. It refuses a truncated entry and more than 256 entries.
func ParseEntryBundle(data []byte) ([][]byte, error) {
	var entries [][]byte
	for rest := data; len(rest) > 0; {
		if len(entries) == 1<<TileHeight {
			return nil, fmt.Errorf("translog: entry bundle of %d bytes holds more than %d entries", len(data), 1<<TileHeight)
		}
		if len(rest) < 2 {
			return nil, fmt.Errorf("translog: entry bundle of %d bytes ends inside the length of entry %d", len(data), len(entries))
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest)-2 < n {
			return nil, fmt.Errorf("translog: entry bundle of %d bytes ends inside entry %d (%d bytes)", len(data), len(entries), n)
		}
		entries = append(entries, rest[2:2+n:2+n])
		rest = rest[2+n:]
	}
	return entries, nil
}

// ReadTile returns the data of a hash tile or entry bundle (t.L ==
// [EntriesLevel]) of the committed log: for a hash tile, t.W hashes of
// 32 bytes (byte for byte what tlog.ReadTileData returns); for a bundle,
// t.W entries in C2SP bundle encoding. The error wraps [ErrNotFound] if
// the committed tree does not hold that many hashes or entries there yet.
// t.H must be [TileHeight].
func (l *Log) ReadTile(t tlog.Tile) ([]byte, error) {
	if t.H != TileHeight || t.L < EntriesLevel || t.L > 63 || t.W < 1 || t.W > 1<<TileHeight || t.N < 0 || t.N > maxTileN {
		return nil, fmt.Errorf("translog: invalid tile %+v", t)
	}
	var data []byte
	err := l.view(func(tx *bbolt.Tx, size int64) error {
		// Hashes or entries available at this level.
		avail := size
		if t.L > 0 {
			avail = size >> (TileHeight * uint(t.L))
		}
		if t.N<<TileHeight+int64(t.W) > avail {
			return fmt.Errorf("%w: %s, tree size %d", ErrNotFound, TilePath(t), size)
		}
		if t.L != EntriesLevel {
			var err error
			data, err = tlog.ReadTileData(t, bucketReader{tx.Bucket(bucketHashes)})
			return err
		}
		first := t.N << TileHeight
		c := tx.Bucket(bucketEntries).Cursor()
		var buf bytes.Buffer
		k, v := c.Seek(itob(first))
		for i := int64(0); i < int64(t.W); i++ {
			if !bytes.Equal(k, itob(first+i)) {
				return fmt.Errorf("translog: entry %d is missing from the store", first+i)
			}
			buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(v))))
			buf.Write(v)
			k, v = c.Next()
		}
		data = buf.Bytes()
		return nil
	})
	return data, err
}
