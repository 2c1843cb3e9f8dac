package translog

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestHandlerErrors(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 10, 10)
	for _, tt := range []struct {
		method, target string
		code           int
		quote          string // the message must quote this
	}{
		{"GET", "/checkpoint", 404, "/checkpoint"}, // nothing signed yet
		{"POST", "/checkpoint", 405, "/checkpoint"},
		{"GET", "/nope", 404, "/nope"},
		{"GET", "/tile/0/x000/001", 400, "tile/0/x000/001"},
		{"GET", "/tile/00/000.p/1", 400, "tile/00/000.p/1"},
		{"GET", "/tile/8/0/000", 400, "tile/8/0/000"},
		{"GET", "/tile/0/000", 404, "/tile/0/000"},             // only 10 of 256
		{"GET", "/tile/0/000.p/11", 404, "/tile/0/000.p/11"},   // only 10
		{"GET", "/tile/1/000.p/1", 404, "/tile/1/000.p/1"},     // no level 1 yet
		{"GET", "/tile/entries/000", 404, "/tile/entries/000"}, // partial only
		{"GET", "/tile/entries/000.p/11", 404, "/tile/entries/000.p/11"},
		{"GET", "/tile/0%2f000.p/1", 400, "/tile/0%2f000.p/1"},
		{"GET", "/entry/10", 404, "/entry/10"},
		{"GET", "/entry/01", 400, "/entry/01"},
		{"GET", "/entry/-1", 400, "/entry/-1"},
		{"GET", "/entry/", 400, "/entry/"},
		{"GET", "/proof/inclusion?index=1", 400, "index=1"},
		{"GET", "/proof/inclusion?index=1&size=5&x=1", 400, "index=1&size=5&x=1"},
		{"GET", "/proof/inclusion?index=1&index=2", 400, "index=1&index=2"},
		{"GET", "/proof/inclusion?index=01&size=5", 400, "index=01&size=5"},
		{"GET", "/proof/inclusion?index=5&size=5", 400, "index=5&size=5"},
		{"GET", "/proof/inclusion?index=1&size=11", 404, "index=1&size=11"},
		{"GET", "/proof/consistency?old=0&new=5", 400, "old=0&new=5"},
		{"GET", "/proof/consistency?old=6&new=5", 400, "old=6&new=5"},
		{"GET", "/proof/consistency?old=1&new=11", 404, "old=1&new=11"},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := httptest.NewRecorder()
			lg.Handler().ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
			if w.Code != tt.code {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(w.Body.String(), tt.quote) {
				t.Errorf("message %q does not quote %q", w.Body, tt.quote)
			}
			if cc := w.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
				t.Errorf("error cached as %q", cc)
			}
		})
	}
}

func TestHandlerServes(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 300, 300)
	m := newMember(t, "member1")
	signed, err := lg.Sign(m.signer)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := lg.Root()
	for _, tt := range []struct {
		target      string
		contentType string
		immutable   bool
		body        []byte
	}{
		{"/checkpoint", "text/plain; charset=utf-8", false, signed},
		{"/entry/0", "application/octet-stream", true, testEntry(0)},
		{"/entry/299", "application/octet-stream", true, testEntry(299)},
		{"/tile/0/000", "application/octet-stream", true, nil},
		{"/tile/0/001.p/44", "application/octet-stream", true, nil},
		{"/tile/0/001.p/1", "application/octet-stream", true, nil},
		{"/tile/1/000.p/1", "application/octet-stream", true, nil},
		{"/tile/entries/001.p/44", "application/octet-stream", true, nil},
	} {
		t.Run(tt.target, func(t *testing.T) {
			w := get(t, lg, tt.target)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			cc := w.Header().Get("Cache-Control")
			if tt.immutable && !strings.Contains(cc, "immutable") || !tt.immutable && !strings.Contains(cc, "max-age=2") {
				t.Errorf("Cache-Control %q, want immutable = %v", cc, tt.immutable)
			}
			if tt.body != nil && !bytes.Equal(w.Body.Bytes(), tt.body) {
				t.Errorf("body %q, want %q", w.Body, tt.body)
			}
		})
	}
	// The served checkpoint verifies and names the tree.
	tree, _, err := VerifyCheckpoint(get(t, lg, "/checkpoint").Body.Bytes(), testOrigin, note.VerifierList(m.verifier), 1)
	if err != nil || tree.N != 300 || tree.Hash != root {
		t.Errorf("served checkpoint: %v, %v; want size 300 root %v", tree, err, root)
	}
}

func TestHandlerProofs(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 1000, 300)
	for _, tt := range []struct{ index, size int64 }{{0, 1}, {0, 1000}, {999, 1000}, {300, 600}, {255, 257}} {
		w := get(t, lg, fmt.Sprintf("/proof/inclusion?index=%d&size=%d", tt.index, tt.size))
		if w.Code != http.StatusOK {
			t.Fatalf("inclusion %v: status %d: %s", tt, w.Code, w.Body)
		}
		p, err := ParseProof(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		root := merkleRoot(t, testEntry, tt.size)
		leaf := rfc6962.DefaultHasher.HashLeaf(testEntry(tt.index))
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(tt.index), uint64(tt.size), leaf, hashesToBytes(p), root); err != nil {
			t.Errorf("served inclusion proof %v: %v", tt, err)
		}
	}
	for _, tt := range []struct{ old, new int64 }{{1, 1}, {1, 1000}, {999, 1000}, {300, 600}, {256, 257}} {
		w := get(t, lg, fmt.Sprintf("/proof/consistency?old=%d&new=%d", tt.old, tt.new))
		if w.Code != http.StatusOK {
			t.Fatalf("consistency %v: status %d: %s", tt, w.Code, w.Body)
		}
		p, err := ParseProof(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := merkleRoot(t, testEntry, tt.old), merkleRoot(t, testEntry, tt.new)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(tt.old), uint64(tt.new), hashesToBytes(p), r1, r2); err != nil {
			t.Errorf("served consistency proof %v: %v", tt, err)
		}
	}
}

func TestParseProof(t *testing.T) {
	p := []tlog.Hash{tlog.RecordHash([]byte("a")), tlog.RecordHash([]byte("b"))}
	got, err := ParseProof(FormatProof(p))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(p) {
		t.Errorf("ParseProof(FormatProof(p)) = %v, %v; want %v", got, err, p)
	}
	if got, err := ParseProof(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseProof(empty) = %v, %v; want an empty proof", got, err)
	}
	line := string(FormatProof(p[:1]))
	for _, bad := range []string{
		strings.TrimSuffix(line, "\n"),
		line + "\n",
		"\n",
		strings.Replace(line, "=", "", 1),
		line[:10] + "\r" + line[10:],
		strings.Repeat(line, 129),
	} {
		if got, err := ParseProof([]byte(bad)); err == nil {
			t.Errorf("ParseProof(%q) = %v, want an error", bad, got)
		}
	}
}

// TestConcurrentReads reads the committed view while batches are built,
// written and advanced in another goroutine. Run with -race.
func TestConcurrentReads(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 1, 1)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for lg.Size() < 3000 {
			b := lg.NewBatch()
			for i := 0; i < 97; i++ {
				if _, err := b.Append(testEntry(b.Size())); err != nil {
					t.Error(err)
					return
				}
			}
			if err := db.Update(b.Write); err != nil {
				t.Error(err)
				return
			}
			if err := lg.Advance(b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				tree := lg.Tree()
				if h, err := lg.TreeHash(tree.N); err != nil || h != tree.Hash {
					t.Errorf("TreeHash(%d) = %v, %v; committed root %v", tree.N, h, err, tree.Hash)
					return
				}
				leaf, err := lg.RecordHash(tree.N - 1)
				if err != nil {
					t.Error(err)
					return
				}
				p, err := lg.InclusionProof(tree.N-1, tree.N)
				if err == nil {
					err = tlog.CheckRecord(p, tree.N, tree.Hash, tree.N-1, leaf)
				}
				if err != nil {
					t.Errorf("inclusion of %d in %d: %v", tree.N-1, tree.N, err)
					return
				}
				last := tlog.NewTiles(TileHeight, tree.N-1, tree.N)
				if _, err := lg.ReadTile(last[0]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
