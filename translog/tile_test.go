package translog

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	for _, tt := range []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 999, W: 256}, "tile/0/999"},
		{tlog.Tile{H: 8, L: 0, N: 1000, W: 256}, "tile/0/x001/000"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 1, N: 5, W: 17}, "tile/1/005.p/17"},
		{tlog.Tile{H: 8, L: 63, N: 0, W: 1}, "tile/63/000.p/1"},
		{tlog.Tile{H: 8, L: 2, N: 1000000, W: 255}, "tile/2/x001/x000/000.p/255"},
		{tlog.Tile{H: 8, L: EntriesLevel, N: 273, W: 112}, "tile/entries/273.p/112"},
		{tlog.Tile{H: 8, L: EntriesLevel, N: 1234, W: 256}, "tile/entries/x001/234"},
		{tlog.Tile{H: 8, L: 0, N: maxTileN, W: 256}, "tile/0/x036/x028/x797/x018/x963/967"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			if got := TilePath(tt.tile); got != tt.path {
				t.Errorf("TilePath(%+v) = %q, want %q", tt.tile, got, tt.path)
			}
			got, err := ParseTilePath(tt.path)
			if err != nil {
				t.Fatalf("ParseTilePath(%q): %v", tt.path, err)
			}
			if got != tt.tile {
				t.Errorf("ParseTilePath(%q) = %+v, want %+v", tt.path, got, tt.tile)
			}
		})
	}
}

func TestParseTilePathRejects(t *testing.T) {
	for _, p := range []string{
		"",
		"tile",
		"tile/",
		"tile/0",
		"tile/0/",
		"/tile/0/000",
		"tiles/0/000",
		"tile/00/000",      // leading zero in level
		"tile/01/000",      // leading zero in level
		"tile/64/000",      // level too large
		"tile/-1/000",      // negative level
		"tile/+1/000",      // sign
		"tile/data/000",    // sumdb's name for data tiles
		"tile/8/0/000",     // sumdb path with height
		"tile/0/0",         // short group
		"tile/0/0000",      // long group
		"tile/0/x000",      // x on the last group
		"tile/0/001/002",   // missing x
		"tile/0/x000/001",  // leading zero group
		"tile/0/x1/001",    // short x group
		"tile/0/x001/x002", // x on the last group
		"tile/0/00a",
		"tile/0/000.p",
		"tile/0/000.p/",
		"tile/0/000.p/0",   // empty partial tile
		"tile/0/000.p/256", // full width as partial
		"tile/0/000.p/01",  // leading zero in width
		"tile/0/000.p/1/",  // trailing slash
		"tile/0/000/",      // trailing slash
		"tile/0/000.P/1",
		"tile/0/x001.p/000/1",
		"tile/0/.p/1",
		"tile/0/x001.p/001",
		"tile/0/x036/x028/x797/x018/x963/968", // 2⁵⁵
		"tile/0/x001/x000/x000/x000/x000/x000/000",
		"tile/entries/000.p/256",
		"tile/entries",
		"tile/entries/",
		"tile/0//000",
		"tile/0/ 000",
		"tile/0/000 ",
	} {
		if tile, err := ParseTilePath(p); err == nil {
			t.Errorf("ParseTilePath(%q) = %+v, want an error", p, tile)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("ParseTilePath(%q) error %q does not quote the path", p, err)
		}
	}
}

func TestEntryBundleRoundTrip(t *testing.T) {
	for _, entries := range [][][]byte{
		nil,
		{[]byte("a")},
		{[]byte("first"), {}, bytes.Repeat([]byte{0xff}, MaxEntrySize)},
		func() [][]byte {
			var es [][]byte
			for i := int64(0); i < 256; i++ {
				es = append(es, testEntry(i))
			}
			return es
		}(),
	} {
		data, err := MarshalEntryBundle(entries)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEntryBundle(data)
		if err != nil {
			t.Fatalf("ParseEntryBundle(MarshalEntryBundle(%d entries)): %v", len(entries), err)
		}
		if !slices.EqualFunc(got, entries, bytes.Equal) {
			t.Errorf("round trip of %d entries gave %d entries, or different bytes", len(entries), len(got))
		}
	}
	if _, err := MarshalEntryBundle([][]byte{make([]byte, MaxEntrySize+1)}); err == nil {
		t.Errorf("MarshalEntryBundle accepted an entry of %d bytes", MaxEntrySize+1)
	}
	for _, bad := range [][]byte{
		{0},
		{0, 2, 'a'},
		{0, 1, 'a', 0},
		bytes.Repeat([]byte{0, 0}, 257),
	} {
		if es, err := ParseEntryBundle(bad); err == nil {
			t.Errorf("ParseEntryBundle(%x) = %q, want an error", bad, es)
		}
	}
}

// get fetches path from the log's handler.
func get(t testing.TB, lg *Log, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	lg.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// servedTiles discovers, through the HTTP handler only, the widest tiles
// served at each level: every full tile, then the widest partial tile.
func servedTiles(t *testing.T, lg *Log) []tlog.Tile {
	var tiles []tlog.Tile
	for level := 0; level < 8; level++ {
		var n int64
		for ; ; n++ {
			tl := tlog.Tile{H: 8, L: level, N: n, W: 256}
			if get(t, lg, "/"+TilePath(tl)).Code != http.StatusOK {
				break
			}
			tiles = append(tiles, tl)
		}
		w := 0
		for w < 255 && get(t, lg, "/"+TilePath(tlog.Tile{H: 8, L: level, N: n, W: w + 1})).Code == http.StatusOK {
			w++
		}
		if w > 0 {
			tiles = append(tiles, tlog.Tile{H: 8, L: level, N: n, W: w})
		}
		// Nothing beyond: the next full tile and the next partial width.
		for _, tl := range []tlog.Tile{{H: 8, L: level, N: n + 1, W: 256}, {H: 8, L: level, N: n + 1, W: 1}} {
			if code := get(t, lg, "/"+TilePath(tl)).Code; code != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", TilePath(tl), code)
			}
		}
	}
	return tiles
}

func TestServedTilesMatchTlog(t *testing.T) {
	lg, db := newLog(t)
	ref := &refTree{}
	for _, size := range []int64{1, 255, 256, 257, 511, 65536, 65537, 70000} {
		for i := ref.n; i < size; i++ {
			ref.add(t, testEntry(i))
		}
		growTo(t, lg, db, size, 20000)

		// The set of tiles served is the set tlog.NewTiles lists.
		want := tlog.NewTiles(TileHeight, 0, size)
		got := servedTiles(t, lg)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("size %d: tiles served %v, tlog.NewTiles lists %v", size, got, want)
		}

		// Each is byte for byte what tlog.ReadTileData computes, and each
		// entry bundle hashes to its level-0 tile.
		for _, tl := range want {
			w := get(t, lg, "/"+TilePath(tl))
			wantData, err := tlog.ReadTileData(tl, ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.Body.Bytes(), wantData) {
				t.Fatalf("size %d: %s differs from tlog.ReadTileData", size, TilePath(tl))
			}
			if tl.L != 0 {
				continue
			}
			et := tl
			et.L = EntriesLevel
			w = get(t, lg, "/"+TilePath(et))
			if w.Code != http.StatusOK {
				t.Fatalf("size %d: %s: status %d", size, TilePath(et), w.Code)
			}
			entries, err := ParseEntryBundle(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != tl.W {
				t.Fatalf("size %d: %s holds %d entries, want %d", size, TilePath(et), len(entries), tl.W)
			}
			for i, e := range entries {
				idx := tl.N*256 + int64(i)
				if !bytes.Equal(e, testEntry(idx)) {
					t.Fatalf("size %d: %s entry %d = %q, want %q", size, TilePath(et), i, e, testEntry(idx))
				}
				if h := tlog.RecordHash(e); !bytes.Equal(h[:], wantData[i*32:(i+1)*32]) {
					t.Fatalf("size %d: entry %d does not hash to its level-0 tile", size, idx)
				}
			}
		}
	}

	// Tiles of an older checkpoint (65,537) are still served, unchanged,
	// by the larger log (70,000), and never truncated at a full path.
	for _, tl := range tlog.NewTiles(TileHeight, 0, 65537) {
		w := get(t, lg, "/"+TilePath(tl))
		wantData, err := tlog.ReadTileData(tl, ref)
		if err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), wantData) {
			t.Errorf("old tile %s: status %d, or bytes differ from tlog.ReadTileData", TilePath(tl), w.Code)
		}
		if len(w.Body.Bytes()) != tl.W*32 {
			t.Errorf("old tile %s: %d bytes, want %d", TilePath(tl), w.Body.Len(), tl.W*32)
		}
	}
}
