package translog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "example.org/commonroot/test"

// openDB opens (or creates) a bbolt file; the test closes it.
func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newLog(t testing.TB) (*Log, *bbolt.DB) {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	lg, err := Open(db, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return lg, db
}

// testEntry returns entry i of the test logs: distinct, of varied lengths.
func testEntry(i int64) []byte {
	return bytes.Repeat(fmt.Appendf(nil, "entry %d;", i), 1+int(i%7))
}

// appendCommit appends entries in one batch, writes it in its own
// transaction and advances the log, as the node does at every block.
func appendCommit(t testing.TB, lg *Log, db *bbolt.DB, entries ...[]byte) {
	t.Helper()
	b := lg.NewBatch()
	for _, e := range entries {
		want := b.Size()
		i, err := b.Append(e)
		if err != nil {
			t.Fatal(err)
		}
		if i != want {
			t.Fatalf("Append returned index %d, want %d", i, want)
		}
	}
	if err := db.Update(b.Write); err != nil {
		t.Fatal(err)
	}
	if err := lg.Advance(b); err != nil {
		t.Fatal(err)
	}
}

// growTo appends testEntry(i) for i from lg.Size() to n, in batches of
// the given size.
func growTo(t testing.TB, lg *Log, db *bbolt.DB, n int64, batch int64) {
	t.Helper()
	for lg.Size() < n {
		var es [][]byte
		for i := lg.Size(); i < n && int64(len(es)) < batch; i++ {
			es = append(es, testEntry(i))
		}
		appendCommit(t, lg, db, es...)
	}
}

// refTree is the reference: tlog's stored hashes in memory, kept apart
// from the package's storage. Like tlog's own test storage, it insists
// that indexes be requested in increasing order.
type refTree struct {
	hashes []tlog.Hash
	n      int64
}

func (r *refTree) add(t testing.TB, e []byte) {
	t.Helper()
	hs, err := tlog.StoredHashes(r.n, e, r)
	if err != nil {
		t.Fatal(err)
	}
	r.hashes = append(r.hashes, hs...)
	r.n++
}

func (r *refTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if i > 0 && indexes[i-1] >= x {
			panic("indexes out of order")
		}
		out[i] = r.hashes[x]
	}
	return out, nil
}

// merkleRoot computes the root of the first n test entries with
// transparency-dev/merkle, an implementation independent of tlog.
func merkleRoot(t testing.TB, entries func(int64) []byte, n int64) []byte {
	t.Helper()
	if n == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	f := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := f.NewEmptyRange(0)
	for i := int64(0); i < n; i++ {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(entries(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func hashesToBytes(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

func TestRootsMatchIndependentImplementations(t *testing.T) {
	lg, db := newLog(t)
	ref := &refTree{}
	// Batches of uneven sizes, crossing tile and power-of-two boundaries.
	rng := rand.New(rand.NewPCG(1, 2))
	for lg.Size() < 3000 {
		b := lg.NewBatch()
		k := rng.IntN(300)
		for j := 0; j < k; j++ {
			e := testEntry(b.Size())
			if _, err := b.Append(e); err != nil {
				t.Fatal(err)
			}
			ref.add(t, e)
		}
		batchRoot, err := b.Root()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(b.Write); err != nil {
			t.Fatal(err)
		}
		if err := lg.Advance(b); err != nil {
			t.Fatal(err)
		}
		n := lg.Size()
		if n != ref.n {
			t.Fatalf("Size() = %d, want %d", n, ref.n)
		}
		got, _ := lg.Root()
		want, err := tlog.TreeHash(n, ref)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || batchRoot != want {
			t.Fatalf("size %d: Root() = %v, Batch.Root() = %v, tlog.TreeHash = %v", n, got, batchRoot, want)
		}
		if m := merkleRoot(t, testEntry, n); !bytes.Equal(got[:], m) {
			t.Fatalf("size %d: Root() = %x, merkle computes %x", n, got[:], m)
		}
	}
}

func TestAppendRefusesBadEntries(t *testing.T) {
	lg, _ := newLog(t)
	for _, tt := range []struct {
		name string
		size int
		ok   bool
	}{
		{"empty", 0, false},
		{"one byte", 1, true},
		{"largest", MaxEntrySize, true},
		{"too large", MaxEntrySize + 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := lg.NewBatch()
			_, err := b.Append(make([]byte, tt.size))
			if (err == nil) != tt.ok {
				t.Errorf("Append(%d bytes) error = %v, want ok = %v", tt.size, err, tt.ok)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.ok]; b.Len() != want {
				t.Errorf("Len() = %d after Append, want %d", b.Len(), want)
			}
		})
	}
}

func TestProofsVerify(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 1100, 97)
	roots := map[int64]tlog.Hash{}
	rootOf := func(n int64) tlog.Hash {
		if h, ok := roots[n]; ok {
			return h
		}
		m := merkleRoot(t, testEntry, n)
		roots[n] = tlog.Hash(m)
		return roots[n]
	}
	sizes := []int64{1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 1100}
	for _, size := range sizes {
		root := rootOf(size)
		if got, err := lg.TreeHash(size); err != nil || got != root {
			t.Fatalf("TreeHash(%d) = %v, %v; want %v", size, got, err, root)
		}
		for _, index := range []int64{0, 1, size / 2, size - 2, size - 1} {
			if index < 0 || index >= size {
				continue
			}
			p, err := lg.InclusionProof(index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			leaf, err := lg.RecordHash(index)
			if err != nil {
				t.Fatal(err)
			}
			if want := tlog.RecordHash(testEntry(index)); leaf != want {
				t.Fatalf("RecordHash(%d) = %v, want %v", index, leaf, want)
			}
			if err := tlog.CheckRecord(p, size, root, index, leaf); err != nil {
				t.Errorf("tlog.CheckRecord(InclusionProof(%d, %d)): %v", index, size, err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), leaf[:], hashesToBytes(p), root[:]); err != nil {
				t.Errorf("merkle VerifyInclusion(InclusionProof(%d, %d)): %v", index, size, err)
			}
			// A proof for the wrong index must fail.
			if size > 1 {
				other := (index + 1) % size
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(other), uint64(size), leaf[:], hashesToBytes(p), root[:]); err == nil {
					t.Errorf("InclusionProof(%d, %d) verifies for index %d too", index, size, other)
				}
			}
		}
		for _, old := range sizes {
			if old > size {
				continue
			}
			p, err := lg.ConsistencyProof(old, size)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", old, size, err)
			}
			oldRoot := rootOf(old)
			if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
				t.Errorf("tlog.CheckTree(ConsistencyProof(%d, %d)): %v", old, size, err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(size), hashesToBytes(p), oldRoot[:], root[:]); err != nil {
				t.Errorf("merkle VerifyConsistency(ConsistencyProof(%d, %d)): %v", old, size, err)
			}
		}
	}
}

func TestProofArguments(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 10, 10)
	for _, tt := range []struct {
		name     string
		f        func() error
		sentinel error
	}{
		{"inclusion index = size", func() error { _, err := lg.InclusionProof(5, 5); return err }, ErrInvalidRange},
		{"inclusion negative index", func() error { _, err := lg.InclusionProof(-1, 5); return err }, ErrInvalidRange},
		{"inclusion size beyond log", func() error { _, err := lg.InclusionProof(0, 11); return err }, ErrNotFound},
		{"consistency old > new", func() error { _, err := lg.ConsistencyProof(6, 5); return err }, ErrInvalidRange},
		{"consistency old = 0", func() error { _, err := lg.ConsistencyProof(0, 5); return err }, ErrInvalidRange},
		{"consistency new beyond log", func() error { _, err := lg.ConsistencyProof(1, 11); return err }, ErrNotFound},
		{"entry beyond log", func() error { _, err := lg.Entry(10); return err }, ErrNotFound},
		{"record hash beyond log", func() error { _, err := lg.RecordHash(10); return err }, ErrNotFound},
		{"tree hash beyond log", func() error { _, err := lg.TreeHash(11); return err }, ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f(); !errors.Is(err, tt.sentinel) {
				t.Errorf("error = %v, want %v", err, tt.sentinel)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 300, 128)
	for i := int64(0); i < 300; i++ {
		got, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if want := testEntry(i); !bytes.Equal(got, want) {
			t.Fatalf("Entry(%d) = %q, want %q", i, got, want)
		}
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := Open(db, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	growTo(t, lg, db, 777, 100)
	size, root := lg.Size(), lg.Tree().Hash
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path)
	if _, err := Open(db, "example.org/another"); err == nil {
		t.Errorf("Open with another origin succeeded")
	}
	lg, err = Open(db, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := lg.Root(); lg.Size() != size || got != root {
		t.Fatalf("after reopen: size %d root %v, want size %d root %v", lg.Size(), got, size, root)
	}
	// The reopened log keeps growing as if it never closed.
	growTo(t, lg, db, 1500, 333)
	got, _ := lg.Root()
	if want := merkleRoot(t, testEntry, 1500); !bytes.Equal(got[:], want) {
		t.Errorf("root after reopen and growth = %x, want %x", got[:], want)
	}
}

func TestDiscardedBatchChangesNothing(t *testing.T) {
	lg, db := newLog(t)
	growTo(t, lg, db, 100, 100)
	before := lg.Tree()
	tile0, err := lg.ReadTile(tlog.Tile{H: 8, L: 0, N: 0, W: 100})
	if err != nil {
		t.Fatal(err)
	}

	build := func() *Batch {
		b := lg.NewBatch()
		for i := int64(100); i < 150; i++ {
			if _, err := b.Append(testEntry(i)); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	b1 := build()
	r1, _ := b1.Root()

	// Written in a transaction that rolls back: nothing is stored.
	errRollback := errors.New("rollback")
	if err := db.Update(func(tx *bbolt.Tx) error {
		if err := b1.Write(tx); err != nil {
			return err
		}
		return errRollback
	}); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	// Replay: the same height is built again.
	b2 := build()
	r2, _ := b2.Root()
	if r1 != r2 {
		t.Errorf("replayed batch root %v, first build %v", r2, r1)
	}

	if got := lg.Tree(); got != before {
		t.Errorf("Tree() = %v after a discarded batch, want %v", got, before)
	}
	if _, err := lg.Entry(100); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry(100) error = %v, want ErrNotFound", err)
	}
	if _, err := lg.ReadTile(tlog.Tile{H: 8, L: 0, N: 0, W: 101}); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadTile of width 101 error = %v, want ErrNotFound", err)
	}
	if got, _ := lg.ReadTile(tlog.Tile{H: 8, L: 0, N: 0, W: 100}); !bytes.Equal(got, tile0) {
		t.Errorf("tile changed after a discarded batch")
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketEntries).Cursor().Last(); !bytes.Equal(k, itob(99)) {
			return fmt.Errorf("last stored entry key %x, want %x", k, itob(99))
		}
		if n := tx.Bucket(bucketHashes).Stats().KeyN; int64(n) != tlog.StoredHashCount(100) {
			return fmt.Errorf("%d stored hashes, want %d", n, tlog.StoredHashCount(100))
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := lg.Advance(b1); err == nil {
		t.Errorf("Advance of a batch whose write rolled back succeeded")
	}
	if err := lg.Advance(b2); err == nil {
		t.Errorf("Advance of an unwritten batch succeeded")
	}

	// The replayed batch commits normally; the stale one can no longer be written.
	if err := db.Update(b2.Write); err != nil {
		t.Fatal(err)
	}
	if err := lg.Advance(b2); err != nil {
		t.Fatal(err)
	}
	if got, _ := lg.Root(); got != r1 {
		t.Errorf("root after commit %v, want %v", got, r1)
	}
	if err := db.Update(b1.Write); err == nil {
		t.Errorf("Write of a stale batch succeeded")
	}
	if err := lg.Advance(b2); err == nil {
		t.Errorf("second Advance of the same batch succeeded")
	}
}

func TestReplicasAgree(t *testing.T) {
	a, dba := newLog(t)
	b, dbb := newLog(t)
	// The same entries, cut into batches differently.
	growTo(t, a, dba, 5000, 1000)
	growTo(t, b, dbb, 5000, 37)
	ra, _ := a.Root()
	rb, _ := b.Root()
	if ra != rb {
		t.Fatalf("roots differ: %v and %v", ra, rb)
	}
	if !bytes.Equal(a.CurrentCheckpointBody(), b.CurrentCheckpointBody()) {
		t.Errorf("checkpoint bodies differ: %q and %q", a.CurrentCheckpointBody(), b.CurrentCheckpointBody())
	}
	tiles := tlog.NewTiles(TileHeight, 0, 5000)
	for _, tl := range tiles {
		if tl.L == 0 {
			e := tl
			e.L = EntriesLevel
			tiles = append(tiles, e)
		}
	}
	for _, tl := range tiles {
		da, err := a.ReadTile(tl)
		if err != nil {
			t.Fatal(err)
		}
		db, err := b.ReadTile(tl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between replicas", TilePath(tl))
		}
	}
}

func TestEdgeIndexes(t *testing.T) {
	// The right edge of size n is exactly what tlog.TreeHash(n) reads.
	for n := int64(1); n < 600; n++ {
		var asked []int64
		r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			asked = append(asked, idx...)
			return make([]tlog.Hash, len(idx)), nil
		})
		if _, err := tlog.TreeHash(n, r); err != nil {
			t.Fatal(err)
		}
		if got := edgeIndexes(n); fmt.Sprint(got) != fmt.Sprint(asked) {
			t.Fatalf("edgeIndexes(%d) = %v, tlog.TreeHash reads %v", n, got, asked)
		}
	}
}
