package threshold

import (
	"bytes"
	"fmt"
	"slices"
)

// UsedCommitments is the set of nonce commitments already consumed by earlier
// signing sessions, owned and persisted by the caller (a coordinator, or the
// replicated state machine that orders signing sessions). It records every
// hiding and binding point: a commitment is refused when either of its points
// was seen before, under any identifier, since an honest signer never repeats
// a nonce.
//
// It is deterministic: a sorted slice, no maps, so replicas that apply the
// same calls hold the same bytes (Points).
type UsedCommitments struct {
	points [][PointSize]byte // sorted ascending, no duplicates
}

// NewUsedCommitments restores a set from Points() output (any order;
// duplicates are merged).
func NewUsedCommitments(points [][PointSize]byte) *UsedCommitments {
	u := &UsedCommitments{points: slices.Clone(points)}
	slices.SortFunc(u.points, func(a, b [PointSize]byte) int { return bytes.Compare(a[:], b[:]) })
	u.points = slices.Compact(u.points)
	return u
}

// Len returns the number of recorded points.
func (u *UsedCommitments) Len() int { return len(u.points) }

// Points returns the recorded points in ascending byte order.
func (u *UsedCommitments) Points() [][PointSize]byte { return slices.Clone(u.points) }

func (u *UsedCommitments) find(p [PointSize]byte) (int, bool) {
	return slices.BinarySearchFunc(u.points, p, func(a, b [PointSize]byte) int { return bytes.Compare(a[:], b[:]) })
}

func commitmentKeys(c SigningCommitment) [2][PointSize]byte {
	var k [2][PointSize]byte
	copy(k[0][:], c.Hiding.Bytes())
	copy(k[1][:], c.Binding.Bytes())
	return k
}

// Contains reports whether either point of c was already used.
func (u *UsedCommitments) Contains(c SigningCommitment) bool {
	if c.Hiding == nil || c.Binding == nil {
		return false
	}
	for _, k := range commitmentKeys(c) {
		if _, ok := u.find(k); ok {
			return true
		}
	}
	return false
}

// Use checks a session's commitment list (CheckCommitmentList with n, and no
// point used before, nor twice within the list) and then records all of its
// points. It is all or nothing: on error the set is unchanged. Call it before
// sending the list to the signers.
func (u *UsedCommitments) Use(commitments []SigningCommitment, n int) error {
	if err := CheckCommitmentList(commitments, n); err != nil {
		return err
	}
	var keys [][PointSize]byte
	for _, c := range commitments {
		for _, k := range commitmentKeys(c) {
			if _, ok := u.find(k); ok {
				return fmt.Errorf("threshold: commitment of %d (point %x): %w", c.ID, k, ErrCommitmentReused)
			}
			if slices.Contains(keys, k) {
				return fmt.Errorf("threshold: commitment of %d repeats point %x within the session: %w", c.ID, k, ErrCommitmentReused)
			}
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		i, _ := u.find(k)
		u.points = slices.Insert(u.points, i, k)
	}
	return nil
}
