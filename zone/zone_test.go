package zone

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

const rootFile = "testdata/root-2026082201.zone"

func importRoot(t testing.TB) *Imported {
	t.Helper()
	f, err := os.Open(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := Import(f, ".")
	if err != nil {
		t.Fatalf("Import(%s): %v", rootFile, err)
	}
	return imp
}

func buildRoot(t testing.TB) *Zone {
	t.Helper()
	imp := importRoot(t)
	z, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return z
}

// rrSet is records as sorted presentation strings, DNSSEC and ZONEMD left
// out.
func rrSet(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeDNSKEY, dns.TypeZONEMD:
			continue
		}
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func TestRootRoundTrip(t *testing.T) {
	imp := importRoot(t)
	if got, want := len(imp.Delegations), 1438; got != want {
		t.Errorf("imported %d delegations, want %d", got, want)
	}
	if got, want := imp.Serial, uint32(2026082201); got != want {
		t.Errorf("serial %d, want %d", got, want)
	}
	if imp.Params.TTLs != DefaultTTLs {
		t.Errorf("TTLs %+v, want the root's %+v", imp.Params.TTLs, DefaultTTLs)
	}
	z, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if z.Len() != len(imp.Delegations) {
		t.Errorf("Len = %d, want %d", z.Len(), len(imp.Delegations))
	}
	in := rrSet(readZone(t, rootFile, "."))
	out := rrSet(z.Records())
	if !slices.Equal(in, out) {
		t.Errorf("built zone differs from the input: %d records in, %d out", len(in), len(out))
		for _, s := range in {
			if _, ok := slices.BinarySearch(out, s); !ok {
				t.Logf("missing: %s", s)
			}
		}
		for _, s := range out {
			if _, ok := slices.BinarySearch(in, s); !ok {
				t.Logf("extra: %s", s)
			}
		}
	}
	// The exported master file reads back to the same records.
	var buf bytes.Buffer
	n, err := z.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	zp := dns.NewZoneParser(bytes.NewReader(buf.Bytes()), "", "")
	var back []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		back = append(back, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(z.Records()) {
		t.Fatalf("export reads back as %d records, want %d", len(back), len(z.Records()))
	}
	for i, rr := range z.Records() {
		if !dns.IsDuplicate(rr, back[i]) || rr.Header().Ttl != back[i].Header().Ttl {
			t.Fatalf("record %d reads back as %v, want %v", i, back[i], rr)
		}
	}
	// Import of the export gives the same zone.
	imp2, err := Import(bytes.NewReader(buf.Bytes()), ".")
	if err != nil {
		t.Fatal(err)
	}
	z2, err := Build(imp2.Params, imp2.Serial, imp2.Delegations, imp2.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	var buf2 bytes.Buffer
	z2.WriteTo(&buf2)
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Error("export, import, build, export is not a fixed point")
	}
}

// TestRecordsInvariant checks what Zone promises of Records, and the digest
// against VerifyDigest and Digest384, which canonicalise through miekg/dns
// rather than this package's encoder.
func TestRecordsInvariant(t *testing.T) {
	z := buildRoot(t)
	rrs := z.Records()
	if _, ok := rrs[0].(*dns.SOA); !ok {
		t.Fatalf("first record is %v, want the SOA", rrs[0])
	}
	nmd := 0
	for _, rr := range rrs {
		if md, ok := rr.(*dns.ZONEMD); ok {
			nmd++
			if md.Hdr.Name != "." || md.Serial != z.Serial() || md.Scheme != 1 || md.Hash != 1 {
				t.Errorf("ZONEMD %v is not at the apex with serial %d, SIMPLE, SHA-384", md, z.Serial())
			}
		}
	}
	if nmd != 1 {
		t.Errorf("%d ZONEMD records, want 1", nmd)
	}
	// Canonical order after the SOA (with the SOA in its canonical place).
	canon := make([]canonRR, 0, len(rrs))
	for _, rr := range append(slices.Clone(rrs[1:]), rrs[0]) {
		c, err := canonicalize(rr)
		if err != nil {
			t.Fatal(err)
		}
		canon = append(canon, c)
	}
	if !slices.IsSortedFunc(canon[:len(canon)-1], compareCanon) {
		t.Error("records after the SOA are not in canonical order")
	}
	for i := 1; i < len(canon)-1; i++ {
		if compareCanon(canon[i-1], canon[i]) == 0 {
			t.Errorf("duplicate record %v", rrs[i+1])
		}
	}
	if err := VerifyDigest(rrs); err != nil {
		t.Errorf("VerifyDigest(Records()): %v", err)
	}
	d, err := Digest384(rrs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d, z.Digest()) {
		t.Errorf("Digest384(Records()) = %x, Digest() = %x", d, z.Digest())
	}
}

func writeZone(t *testing.T, z *Zone) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zone")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestJudges has BIND's named-checkzone and ldns-verify-zone (which checks
// the ZONEMD of an unsigned zone with -Z) judge the exported root zone.
func TestJudges(t *testing.T) {
	checkzone := testtool.Path(t, "named-checkzone")
	verify := testtool.Path(t, "ldns-verify-zone")
	z := buildRoot(t)
	path := writeZone(t, z)
	if out, err := exec.Command(checkzone, "-i", "local", "-k", "fail", ".", path).CombinedOutput(); err != nil {
		t.Errorf("named-checkzone: %v\n%s", err, out)
	}
	if out, err := exec.Command(verify, "-Z", path).CombinedOutput(); err != nil {
		t.Errorf("ldns-verify-zone -Z: %v\n%s", err, out)
	}
	// The judges must notice a wrong digest.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(data, []byte("172800\tIN\tA\t192.5.6.30"), []byte("172800\tIN\tA\t192.5.6.31"), 1)
	if bytes.Equal(bad, data) {
		t.Fatal("a.gtld-servers.net glue not found in the export")
	}
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(verify, "-Z", path).CombinedOutput(); err == nil {
		t.Errorf("ldns-verify-zone -Z accepted a zone with a changed glue record:\n%s", out)
	}
}
