package threshold

import (
	"sync"

	"filippo.io/edwards25519"
)

// PointMemo remembers the points that DecodePoint accepted, by encoding, so
// that a point checked once (when an action reaches a node's mempool) is
// neither checked nor decoded again (when its block is applied, or the
// mempool rechecks it, or the point is used in a signing session): the
// subgroup check is a scalar multiplication and decoding a square root,
// and a pool of nonce commitments holds thousands of points. Its answers
// are exactly DecodePoint's (DecodeChecked's: decodeCheckedPoint's); it
// only saves time, so replicas that remember different points still agree.
// It holds at most 2×size points, forgetting the older half when the newer
// fills. Safe for concurrent use.
type PointMemo struct {
	mu       sync.Mutex
	size     int
	cur, old map[[PointSize]byte]*edwards25519.Point
}

// NewPointMemo returns a memo that keeps at least size points.
func NewPointMemo(size int) *PointMemo {
	return &PointMemo{size: max(size, 1), cur: map[[PointSize]byte]*edwards25519.Point{}}
}

// Check reports DecodePoint(b)'s error, nil for a valid point.
func (m *PointMemo) Check(b []byte) error {
	if m.lookup(b) != nil {
		return nil
	}
	p, err := DecodePoint(b)
	if err == nil {
		m.add([PointSize]byte(b), p)
	}
	return err
}

// Decode is DecodePoint(b), from memory when b was accepted before. The
// point returned is the caller's own.
func (m *PointMemo) Decode(b []byte) (*edwards25519.Point, error) {
	if p := m.get(b); p != nil {
		return p, nil
	}
	p, err := DecodePoint(b)
	if err != nil {
		return nil, err
	}
	m.add([PointSize]byte(b), p)
	return new(edwards25519.Point).Set(p), nil
}

// DecodeChecked decodes the encoding of a point that DecodePoint accepted
// before and that was kept since (see DecodeCheckedSigningCommitment):
// from memory when this memo has it, else as decodeCheckedPoint does,
// without the subgroup check, and without remembering it.
func (m *PointMemo) DecodeChecked(b []byte) (*edwards25519.Point, error) {
	if p := m.get(b); p != nil {
		return p, nil
	}
	return decodeCheckedPoint(b)
}

// get returns a copy of b's point, or nil if the memo does not have it.
func (m *PointMemo) get(b []byte) *edwards25519.Point {
	if p := m.lookup(b); p != nil {
		return new(edwards25519.Point).Set(p)
	}
	return nil
}

// lookup returns the memo's own point of b (not to be changed), or nil.
func (m *PointMemo) lookup(b []byte) *edwards25519.Point {
	if m == nil || len(b) != PointSize {
		return nil
	}
	k := [PointSize]byte(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.cur[k]; ok {
		return p
	}
	return m.old[k]
}

func (m *PointMemo) add(k [PointSize]byte, p *edwards25519.Point) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= m.size {
		m.old, m.cur = m.cur, make(map[[PointSize]byte]*edwards25519.Point, m.size)
	}
	m.cur[k] = p
}
