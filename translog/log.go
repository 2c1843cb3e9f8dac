package translog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxEntrySize is the largest entry: C2SP entry bundles prefix each entry
// with a 16-bit length.
const MaxEntrySize = 65535

// TileHeight is the height of C2SP tiles: 256 hashes per tile.
const TileHeight = 8

// Bucket names and meta keys (see the package doc).
var (
	bucketMeta        = []byte("translog.meta")
	bucketHashes      = []byte("translog.hashes")
	bucketEntries     = []byte("translog.entries")
	bucketCheckpoints = []byte("translog.checkpoints")

	keyOrigin = []byte("origin")
	keySize   = []byte("size")
)

// ErrNotFound reports a read beyond the committed tree: an entry, tile,
// bundle, proof or checkpoint the log does not have (yet).
var ErrNotFound = errors.New("translog: not in the committed log")

// ErrInvalidRange reports a proof asked for arguments that admit none
// (an index not below the size, an old size above the new one).
var ErrInvalidRange = errors.New("translog: invalid range")

// A Log is the transparency log stored in a bbolt database.
//
// Its readers (Size, Root, Entry, RecordHash, TreeHash, the proofs, tiles,
// bundles and checkpoints, and the HTTP handler) see only the committed
// view: the tree as of the last [Log.Advance] (or as stored when the log was
// opened). They are safe to call from any goroutine, concurrently with a
// [Batch] being built and with [Batch.Write] running in another goroutine.
type Log struct {
	db     *bbolt.DB
	origin string

	mu   sync.Mutex
	size int64               // committed tree size
	root tlog.Hash           // committed tree hash
	edge map[int64]tlog.Hash // stored hashes of the perfect subtrees that make up the committed tree

	signMu sync.Mutex // serializes read-modify-write of the checkpoints bucket

	serveQuorum atomic.Int64 // see SetServeQuorum
}

// Open opens the log stored in db, creating its buckets (an empty log of
// the given origin) if they are missing, and reads the committed tree size.
// The origin must be the one the log was created with.
func Open(db *bbolt.DB, origin string) (*Log, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	var exists bool
	err := db.View(func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketMeta) != nil && tx.Bucket(bucketHashes) != nil &&
			tx.Bucket(bucketEntries) != nil && tx.Bucket(bucketCheckpoints) != nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("translog: reading the store: %v", err)
	}
	if !exists {
		err := db.Update(func(tx *bbolt.Tx) error {
			for _, name := range [][]byte{bucketMeta, bucketHashes, bucketEntries, bucketCheckpoints} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("creating bucket %q: %v", name, err)
				}
			}
			meta := tx.Bucket(bucketMeta)
			if meta.Get(keyOrigin) == nil {
				if err := meta.Put(keyOrigin, []byte(origin)); err != nil {
					return err
				}
				return meta.Put(keySize, itob(0))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("translog: creating the log: %v", err)
		}
	}

	l := &Log{db: db, origin: origin}
	err = db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if got := meta.Get(keyOrigin); string(got) != origin {
			return fmt.Errorf("the store holds the log of origin %q, not %q", got, origin)
		}
		size, err := storedSize(meta)
		if err != nil {
			return err
		}
		r := bucketReader{tx.Bucket(bucketHashes)}
		idx := edgeIndexes(size)
		hashes, err := r.ReadHashes(idx)
		if err != nil {
			return err
		}
		edge := make(map[int64]tlog.Hash, len(idx))
		for i, x := range idx {
			edge[x] = hashes[i]
		}
		root, err := tlog.TreeHash(size, edgeReader(edge))
		if err != nil {
			return err
		}
		l.size, l.root, l.edge = size, root, edge
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("translog: opening the log: %v", err)
	}
	return l, nil
}

// Origin returns the log's origin, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// Size returns the committed tree size.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Root returns the committed tree hash (for size 0, the hash of the empty
// string, as RFC 6962 defines it). The error is always nil; it is there so
// that callers need not change if the root stops being cached.
func (l *Log) Root() (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.root, nil
}

// Tree returns the committed tree size and hash together.
func (l *Log) Tree() tlog.Tree {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tlog.Tree{N: l.size, Hash: l.root}
}

// view runs f in a bbolt read transaction with the committed size, which
// the database always holds (Advance runs only after the write committed).
func (l *Log) view(f func(tx *bbolt.Tx, size int64) error) error {
	size := l.Size()
	return l.db.View(func(tx *bbolt.Tx) error { return f(tx, size) })
}

// Entry returns a copy of the bytes of entry i of the committed log.
func (l *Log) Entry(i int64) ([]byte, error) {
	var e []byte
	err := l.view(func(tx *bbolt.Tx, size int64) error {
		if i < 0 || i >= size {
			return fmt.Errorf("%w: entry %d, tree size %d", ErrNotFound, i, size)
		}
		v := tx.Bucket(bucketEntries).Get(itob(i))
		if v == nil {
			return fmt.Errorf("translog: entry %d is missing from the store", i)
		}
		e = bytes.Clone(v)
		return nil
	})
	return e, err
}

// RecordHash returns the RFC 6962 leaf hash of entry i of the committed
// log, as stored (tlog.RecordHash of the entry's bytes).
func (l *Log) RecordHash(i int64) (tlog.Hash, error) {
	var h tlog.Hash
	err := l.view(func(tx *bbolt.Tx, size int64) error {
		if i < 0 || i >= size {
			return fmt.Errorf("%w: entry %d, tree size %d", ErrNotFound, i, size)
		}
		hs, err := bucketReader{tx.Bucket(bucketHashes)}.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			return err
		}
		h = hs[0]
		return nil
	})
	return h, err
}

// TreeHash returns the tree hash of the log at an earlier (or the current)
// size, 0 ≤ size ≤ Size().
func (l *Log) TreeHash(size int64) (tlog.Hash, error) {
	var h tlog.Hash
	err := l.view(func(tx *bbolt.Tx, committed int64) error {
		if size < 0 || size > committed {
			return fmt.Errorf("%w: tree size %d, committed size %d", ErrNotFound, size, committed)
		}
		var err error
		h, err = tlog.TreeHash(size, bucketReader{tx.Bucket(bucketHashes)})
		return err
	})
	return h, err
}

// InclusionProof returns the RFC 6962 proof that entry index is in the
// tree of the given size, 0 ≤ index < size ≤ Size(). It verifies with
// tlog.CheckRecord and with any RFC 6962 verifier.
func (l *Log) InclusionProof(index, size int64) ([]tlog.Hash, error) {
	var p tlog.RecordProof
	err := l.view(func(tx *bbolt.Tx, committed int64) error {
		if size > committed {
			return fmt.Errorf("%w: tree size %d, committed size %d", ErrNotFound, size, committed)
		}
		if index < 0 || index >= size {
			return fmt.Errorf("%w: no inclusion proof for index %d in a tree of size %d", ErrInvalidRange, index, size)
		}
		var err error
		p, err = tlog.ProveRecord(size, index, bucketReader{tx.Bucket(bucketHashes)})
		return err
	})
	return p, err
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size old is
// a prefix of the tree of size new, 1 ≤ old ≤ new ≤ Size(). It verifies
// with tlog.CheckTree and with any RFC 6962 verifier.
func (l *Log) ConsistencyProof(old, new int64) ([]tlog.Hash, error) {
	var p tlog.TreeProof
	err := l.view(func(tx *bbolt.Tx, committed int64) error {
		if new > committed {
			return fmt.Errorf("%w: tree size %d, committed size %d", ErrNotFound, new, committed)
		}
		if old < 1 || old > new {
			return fmt.Errorf("%w: no consistency proof from size %d to size %d", ErrInvalidRange, old, new)
		}
		var err error
		p, err = tlog.ProveTree(new, old, bucketReader{tx.Bucket(bucketHashes)})
		return err
	})
	return p, err
}

// NewBatch starts a batch of appends over the committed tree. Nothing the
// batch does is visible to the log's readers until the batch is written
// and [Log.Advance] is called; a batch may be dropped at any time.
func (l *Log) NewBatch() *Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	edge := make(map[int64]tlog.Hash, len(l.edge))
	for k, v := range l.edge {
		edge[k] = v
	}
	return &Batch{log: l, base: l.size, baseCount: tlog.StoredHashCount(l.size), edge: edge}
}

// Advance moves the committed view to the end of b, which must have been
// written with [Batch.Write] in a transaction that committed (Advance
// checks this), and must have been made over the current committed view. After Advance, b cannot
// be used again.
func (l *Log) Advance(b *Batch) error {
	if b.log != l {
		return errors.New("translog: Advance with a batch of another log")
	}
	if !b.committed {
		return fmt.Errorf("translog: Advance with a batch of %d entries that was never written in a committed transaction", len(b.entries))
	}
	size := b.Size()
	root, err := b.Root()
	if err != nil {
		return err
	}
	idx := edgeIndexes(size)
	hashes, err := b.ReadHashes(idx)
	if err != nil {
		return err
	}
	edge := make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		edge[x] = hashes[i]
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if b.base != l.size {
		return fmt.Errorf("translog: Advance with a batch made over tree size %d, but the committed size is %d", b.base, l.size)
	}
	l.size, l.root, l.edge = size, root, edge
	b.done = true
	return nil
}

// A Batch stages appends in memory over the committed tree of its log. It
// reads nothing from the database: the hashes it needs from the committed
// tree are the few that make up its right edge, copied when the batch was
// made. A Batch is not safe for concurrent use.
type Batch struct {
	log       *Log
	base      int64               // committed size the batch was made over
	baseCount int64               // tlog.StoredHashCount(base)
	edge      map[int64]tlog.Hash // committed right edge, by stored hash index
	hashes    []tlog.Hash         // new stored hashes, from index baseCount on
	entries   [][]byte
	written   bool // Write ran (its transaction may still roll back)
	committed bool // a transaction that Write ran in committed
	done      bool // Advance ran
}

// Append stages entry as the next entry of the log and returns its index.
// Indexes follow call order. The entry must be 1 to [MaxEntrySize] bytes;
// it is copied. Append fails once the batch has been written.
func (b *Batch) Append(entry []byte) (int64, error) {
	if b.written || b.done {
		return 0, errors.New("translog: Append to a batch that was already written")
	}
	if len(entry) == 0 {
		return 0, errors.New("translog: empty entry")
	}
	if len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("translog: entry of %d bytes is larger than %d bytes", len(entry), MaxEntrySize)
	}
	n := b.Size()
	hs, err := tlog.StoredHashes(n, entry, b)
	if err != nil {
		return 0, fmt.Errorf("translog: hashing entry %d: %v", n, err)
	}
	b.hashes = append(b.hashes, hs...)
	b.entries = append(b.entries, bytes.Clone(entry))
	return n, nil
}

// Size returns the tree size the batch leads to: the committed size it was
// made over plus the entries appended.
func (b *Batch) Size() int64 { return b.base + int64(len(b.entries)) }

// Len returns the number of entries appended to the batch.
func (b *Batch) Len() int { return len(b.entries) }

// Root returns the tree hash at b.Size(), without writing anything.
func (b *Batch) Root() (tlog.Hash, error) {
	return tlog.TreeHash(b.Size(), b)
}

// ReadHashes implements tlog.HashReader over the committed right edge and
// the batch's own hashes. Asking for any other hash is an error (it would
// mean the tree math needs more than the right edge).
func (b *Batch) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= b.baseCount {
			j := x - b.baseCount
			if j >= int64(len(b.hashes)) {
				return nil, fmt.Errorf("translog: stored hash %d is not written yet", x)
			}
			out[i] = b.hashes[j]
			continue
		}
		h, ok := b.edge[x]
		if !ok {
			return nil, fmt.Errorf("translog: stored hash %d is not on the right edge of tree size %d", x, b.base)
		}
		out[i] = h
	}
	return out, nil
}

// Write persists the batch's new stored hashes and entries and the new
// tree size in tx, a bbolt write transaction (the caller's, which commits
// or rolls back everything together). The store must still hold the tree
// size the batch was made over. Write may be repeated in a new
// transaction if the first one rolled back. After Write, Append fails.
func (b *Batch) Write(tx *bbolt.Tx) error {
	if b.done {
		return errors.New("translog: Write of a batch that was already advanced")
	}
	if !tx.Writable() {
		return errors.New("translog: Write needs a write transaction")
	}
	meta, hb, eb := tx.Bucket(bucketMeta), tx.Bucket(bucketHashes), tx.Bucket(bucketEntries)
	if meta == nil || hb == nil || eb == nil {
		return errors.New("translog: the log's buckets are missing from the transaction's database")
	}
	size, err := storedSize(meta)
	if err != nil {
		return err
	}
	if size != b.base {
		return fmt.Errorf("translog: batch made over tree size %d, but the store holds size %d", b.base, size)
	}
	// Keys only grow: fill pages completely.
	hb.FillPercent, eb.FillPercent = 1, 1
	for i := range b.hashes {
		// bbolt keeps value slices until commit; b.hashes never changes after Write.
		if err := hb.Put(itob(b.baseCount+int64(i)), b.hashes[i][:]); err != nil {
			return fmt.Errorf("translog: writing stored hash %d: %v", b.baseCount+int64(i), err)
		}
	}
	for i, e := range b.entries {
		if err := eb.Put(itob(b.base+int64(i)), e); err != nil {
			return fmt.Errorf("translog: writing entry %d: %v", b.base+int64(i), err)
		}
	}
	if err := meta.Put(keySize, itob(b.Size())); err != nil {
		return fmt.Errorf("translog: writing the tree size: %v", err)
	}
	b.written = true
	tx.OnCommit(func() { b.committed = true })
	return nil
}

// edgeIndexes returns the stored hash indexes of the perfect subtrees that
// make up a tree of size n, left to right: the only committed hashes that
// appending to or hashing a larger tree needs.
func edgeIndexes(n int64) []int64 {
	var idx []int64
	var start int64
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			idx = append(idx, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	return idx
}

// edgeReader is a tlog.HashReader over a right edge.
type edgeReader map[int64]tlog.Hash

func (e edgeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := e[x]
		if !ok {
			return nil, fmt.Errorf("translog: stored hash %d is not on the right edge", x)
		}
		out[i] = h
	}
	return out, nil
}

// bucketReader is a tlog.HashReader over the hashes bucket in a
// transaction.
type bucketReader struct{ b *bbolt.Bucket }

func (r bucketReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := r.b.Get(itob(x))
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("translog: stored hash %d is missing from the store or damaged (%d bytes)", x, len(v))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func storedSize(meta *bbolt.Bucket) (int64, error) {
	v := meta.Get(keySize)
	if len(v) != 8 || v[0]&0x80 != 0 {
		return 0, fmt.Errorf("translog: stored tree size %x is damaged", v)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// itob is the key encoding: 8 bytes, big-endian.
func itob(i int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(i))
}
