package dnssec

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestExportRestore rebuilds signed versions from their exports: one signed
// from scratch and one updated a day later (so its RRsets have different
// validity periods); the restored zone is byte for byte the same, and a
// changed byte, another zone version or another key is refused.
func TestExportRestore(t *testing.T) {
	k, s := testKey("restore")
	z := rootZone(t)
	first := signWith(t, z, k, s, testPolicy)
	later := testPolicy
	later.Inception = later.Inception.Add(24 * time.Hour)
	later.Expiration = later.Expiration.Add(24 * time.Hour)
	z2 := randomChanges(t, nil, z, 20)
	p, err := PlanUpdate(first, z2, k, later)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Sign(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Reused() == 0 {
		t.Fatal("the update reused no signature: the test needs mixed validity periods")
	}
	for _, v := range []*Signed{first, second} {
		got, err := Restore(v.Zone(), k, v.Export())
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		v.WriteTo(&a)
		got.WriteTo(&b)
		if a.String() != b.String() || !bytes.Equal(got.Digest(), v.Digest()) {
			t.Errorf("serial %d: restored zone differs", v.Serial())
		}
	}
	bad := second.Export()
	bad[len(bad)-100] ^= 1
	other, _ := testKey("other")
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"changed signature", func() error { _, err := Restore(z2, k, bad); return err }, "does not verify"},
		{"other zone version", func() error { _, err := Restore(z, k, second.Export()); return err }, "signed RRsets, the export"},
		{"other key", func() error { _, err := Restore(z2, other, second.Export()); return err }, "does not verify"},
		{"truncated", func() error { _, err := Restore(z2, k, second.Export()[:100]); return err }, "bytes for"},
		{"not an export", func() error { _, err := Restore(z2, k, []byte("hello")); return err }, "not an export of signatures"},
	}
	for _, tt := range tests {
		if err := tt.err(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}
