package threshold

import (
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
)

// TestPointMemo: the memo answers as DecodePoint does, for valid points
// and for every kind of invalid one, the first time and again, also after
// the points it remembered were forgotten.
func TestPointMemo(t *testing.T) {
	B := edwards25519.NewGeneratorPoint()
	var valid [][]byte
	p := edwards25519.NewIdentityPoint()
	for range 5 {
		p = new(edwards25519.Point).Add(p, B)
		valid = append(valid, p.Bytes())
	}
	var invalid [][]byte
	for i, h := range smallOrderEncodings {
		b, _ := hex.DecodeString(h)
		invalid = append(invalid, b)
		if i > 0 { // B plus torsion (the identity is the first)
			invalid = append(invalid, new(edwards25519.Point).Add(B, mustPoint(t, h)).Bytes())
		}
	}
	invalid = append(invalid, []byte{1, 2, 3}, nil)
	m := NewPointMemo(2) // forgets after four
	for round := range 3 {
		for i, b := range valid {
			if err := m.Check(b); err != nil {
				t.Errorf("round %d: valid point %d: %v", round, i, err)
			}
		}
		for i, b := range invalid {
			_, want := DecodePoint(b)
			err := m.Check(b)
			if !errors.Is(err, ErrInvalidPoint) || err.Error() != want.Error() {
				t.Errorf("round %d: invalid point %d (%x): %v, want %v", round, i, b, err, want)
			}
		}
	}
	if n := len(m.cur) + len(m.old); n > 4 {
		t.Errorf("the memo holds %d encodings, at most 4 allowed", n)
	}

	// Decoded points are the caller's own; DecodeChecked answers as
	// decodeCheckedPoint, from memory or not, with a nil memo too.
	m = NewPointMemo(8)
	for _, memo := range []*PointMemo{m, nil} {
		for i, b := range valid {
			p, err := memo.Decode(b)
			if err != nil {
				if memo != nil {
					t.Fatalf("Decode(valid %d): %v", i, err)
				}
				continue
			}
			p.Add(p, B) // must not change what the memo holds
			for _, dec := range []func([]byte) (*edwards25519.Point, error){memo.Decode, memo.DecodeChecked} {
				q, err := dec(b)
				if err != nil || string(q.Bytes()) != string(b) {
					t.Errorf("valid point %d decoded again: %x, %v", i, q.Bytes(), err)
				}
			}
		}
		for i, b := range invalid {
			_, want := decodeCheckedPoint(b)
			if _, err := memo.DecodeChecked(b); (err == nil) != (want == nil) {
				t.Errorf("DecodeChecked(invalid %d, %x): %v, decodeCheckedPoint says %v", i, b, err, want)
			}
		}
	}
}
