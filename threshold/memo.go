package threshold

import "sync"

// PointMemo remembers encodings that DecodePoint accepted, so that a point
// checked once (when an action reaches a node's mempool) is not checked
// again (when its block is applied, or the mempool rechecks it): the
// subgroup check is a scalar multiplication, and a pool of nonce
// commitments holds thousands of points. Its answers are exactly
// DecodePoint's; it only saves time, so replicas that remember different
// points still agree. It holds at most 2×size encodings, forgetting the
// older half when the newer fills. Safe for concurrent use.
type PointMemo struct {
	mu       sync.Mutex
	size     int
	cur, old map[[PointSize]byte]struct{}
}

// NewPointMemo returns a memo that keeps at least size encodings.
func NewPointMemo(size int) *PointMemo {
	return &PointMemo{size: max(size, 1), cur: map[[PointSize]byte]struct{}{}}
}

// Check reports DecodePoint(b)'s error, nil for a valid point.
func (m *PointMemo) Check(b []byte) error {
	if len(b) == PointSize && m.has([PointSize]byte(b)) {
		return nil
	}
	if _, err := DecodePoint(b); err != nil {
		return err
	}
	m.add([PointSize]byte(b))
	return nil
}

func (m *PointMemo) has(k [PointSize]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[k]; ok {
		return true
	}
	_, ok := m.old[k]
	return ok
}

func (m *PointMemo) add(k [PointSize]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= m.size {
		m.old, m.cur = m.cur, make(map[[PointSize]byte]struct{}, m.size)
	}
	m.cur[k] = struct{}{}
}
