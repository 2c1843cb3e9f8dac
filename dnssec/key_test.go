package dnssec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

// TestDSLines compares the DS line with ldns-key2ds's for the same DNSKEY,
// and checks the trust-anchor line carries the same DS.
func TestDSLines(t *testing.T) {
	bin := testtool.Path(t, "ldns-key2ds")
	for _, tt := range []struct{ label, origin string }{{"root", "."}, {"corp", "corp."}, {"x", "example.org."}} {
		t.Run(tt.origin, func(t *testing.T) {
			k, _ := testKey(tt.label)
			ds, ta, err := DSLines(k, tt.origin)
			if err != nil {
				t.Fatal(err)
			}
			kf := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(kf, []byte(k.DNSKEY(tt.origin).String()+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-n", "-2", kf).CombinedOutput()
			if err != nil {
				t.Fatalf("ldns-key2ds: %v\n%s", err, out)
			}
			want, err := dns.NewRR(string(out))
			if err != nil {
				t.Fatalf("ldns-key2ds output %q: %v", out, err)
			}
			got, err := dns.NewRR(ds)
			if err != nil {
				t.Fatalf("DS line %q: %v", ds, err)
			}
			if !strings.EqualFold(got.String(), want.String()) {
				t.Errorf("DS line %q, ldns-key2ds says %q", ds, strings.TrimSpace(string(out)))
			}
			d := want.(*dns.DS)
			wantTA := fmt.Sprintf("trust-anchor: \"%s DS %d 15 2 %s\"", tt.origin, d.KeyTag, strings.ToUpper(d.Digest))
			if ta != wantTA {
				t.Errorf("trust anchor %q, want %q", ta, wantTA)
			}
		})
	}
	if _, _, err := DSLines(Key{Public: make([]byte, 31)}, "."); err == nil {
		t.Error("DSLines accepts a 31-byte key")
	}
}
