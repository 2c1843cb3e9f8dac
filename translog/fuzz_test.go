package translog

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// Each fuzz target checks that the parser never crashes and that whatever
// it accepts formats back to the same bytes (no two encodings of one value).

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{
		"tile/0/000", "tile/0/x001/x234/067", "tile/1/005.p/17", "tile/entries/273.p/112",
		"tile/63/000.p/1", "tile/0/x000/001", "tile/00/000", "tile/0/000.p/256", "tile/8/0/000",
		"tile/data/000", "tile/0/x036/x028/x797/x018/x963/967",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tl, err := ParseTilePath(path)
		if err != nil {
			return
		}
		if got := TilePath(tl); got != path {
			t.Fatalf("ParseTilePath(%q) = %+v, which formats as %q", path, tl, got)
		}
		if tl.H != TileHeight || tl.L < EntriesLevel || tl.L > 63 || tl.N < 0 || tl.N > maxTileN || tl.W < 1 || tl.W > 256 {
			t.Fatalf("ParseTilePath(%q) = %+v, out of range", path, tl)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	root := tlog.RecordHash([]byte("root"))
	f.Add(FormatCheckpoint("example.org/log", 0, root))
	f.Add(FormatCheckpoint("example.org/log", 20852163, root))
	f.Add([]byte("example.org/log\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Add([]byte("example.org/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n"))
	f.Add([]byte("example.org/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		origin, size, r, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if got := FormatCheckpoint(origin, size, r); !bytes.Equal(got, text) {
			t.Fatalf("ParseCheckpoint(%q) formats back as %q", text, got)
		}
	})
}

func FuzzParseEntryBundle(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 'a', 0, 0})
	f.Add([]byte{0, 2, 'a'})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseEntryBundle(data)
		if err != nil {
			return
		}
		if len(entries) > 256 {
			t.Fatalf("ParseEntryBundle accepted %d entries", len(entries))
		}
		got, err := MarshalEntryBundle(entries)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("ParseEntryBundle(%x) marshals back as %x", data, got)
		}
		again, err := ParseEntryBundle(got)
		if err != nil || !slices.EqualFunc(again, entries, bytes.Equal) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	f.Add(FormatProof([]tlog.Hash{tlog.RecordHash([]byte("a")), tlog.RecordHash(nil)}))
	f.Add([]byte("\n"))
	f.Add([]byte("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(data)
		if err != nil {
			return
		}
		if got := FormatProof(p); !bytes.Equal(got, data) {
			t.Fatalf("ParseProof(%q) formats back as %q", data, got)
		}
	})
}
