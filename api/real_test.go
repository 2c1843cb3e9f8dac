package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/zone"
)

var (
	_ Log  = (*translog.Log)(nil)
	_ Zone = (*zone.Zone)(nil)
)

// realZone builds the zone from the state with the zone package, as a
// node does (delegations without DS: the fixture has none).
func realZone(t testing.TB) func(s *registry.State) Zone {
	return func(s *registry.State) Zone {
		c := s.Constitution()
		p := zone.Params{Origin: c.Apex, SOA: zone.SOA{MName: c.SOA.MName, RName: c.SOA.RName, Refresh: c.SOA.Refresh, Retry: c.SOA.Retry, Expire: c.SOA.Expire, Minimum: c.SOA.Minimum}}
		for _, h := range c.NameServers {
			p.NS = append(p.NS, h.Name)
		}
		var dels []zone.Delegation
		for _, name := range s.TLDNames() {
			if ns, ds, ok := s.ZoneDelegation(name); ok {
				if len(ds) > 0 {
					t.Fatalf("realZone: %s has DS records", name)
				}
				dels = append(dels, zone.Delegation{Name: name, NS: ns})
			}
		}
		var hosts []zone.Host
		for _, name := range s.ZoneHostNames() {
			if addrs, ok := s.ZoneHost(name); ok {
				h := zone.Host{Name: name}
				for _, a := range addrs {
					h.Addrs = append(h.Addrs, netip.MustParseAddr(a))
				}
				hosts = append(hosts, h)
			}
		}
		z, err := zone.Build(p, s.Serial(), dels, hosts)
		if err != nil {
			t.Fatalf("building the zone: %v", err)
		}
		return z
	}
}

// TestRealLogAndZone serves a federation whose log is a translog.Log on
// bbolt and whose zone is built by the zone package, and checks what a
// verifier would: the signed checkpoint agrees with every JSON stamp, each
// entry's proof verifies against it, the log's own paths serve the same
// bytes, and the served zone carries the ZONEMD the status reports.
func TestRealLogAndZone(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var l *translog.Log
	f := newFedLog(t, 0, Options{}, func(origin string) (Log, func([][]byte)) {
		if l, err = translog.Open(db, origin); err != nil {
			t.Fatal(err)
		}
		return l, func(entries [][]byte) {
			b := l.NewBatch()
			for _, e := range entries {
				if _, err := b.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Update(b.Write); err != nil {
				t.Fatal(err)
			}
			if err := l.Advance(b); err != nil {
				t.Fatal(err)
			}
		}
	})
	f.b.mkZone = realZone(t)
	f.b.zone = f.b.mkZone(f.b.s)
	f.populate()

	var vs []note.Verifier
	for _, m := range []string{"alpha", "beta", "gamma", "delta"} {
		if _, err := l.Sign(f.signers[m]); err != nil {
			t.Fatal(err)
		}
		v, _ := note.NewVerifier(f.vkeys[m])
		vs = append(vs, v)
	}
	code, _, cp := f.do("GET", "/checkpoint", nil)
	if code != 200 {
		t.Fatalf("GET /checkpoint: %d %s", code, cp)
	}
	tree, signers, err := translog.VerifyCheckpoint(cp, f.b.c.Origin, note.VerifierList(vs...), 4)
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, cp)
	}
	if len(signers) != 4 {
		t.Errorf("checkpoint signed by %v", signers)
	}
	var st Status
	f.get("/v1/status", 200, &st)
	if st.LogSize != tree.N || st.LogRoot != base64.StdEncoding.EncodeToString(tree.Hash[:]) {
		t.Errorf("status log %d %s, checkpoint %d %x", st.LogSize, st.LogRoot, tree.N, tree.Hash)
	}
	for i := int64(0); i < tree.N; i++ {
		var got struct {
			Stamp
			Entry
		}
		f.get(fmt.Sprintf("/v1/log/entries/%d", i), 200, &got)
		code, _, raw := f.do("GET", fmt.Sprintf("/entry/%d", i), nil)
		if code != 200 || got.Raw != string(raw) || got.Type == "unknown" {
			t.Errorf("entry %d: /entry %d %q, /v1/log/entries type %s raw %q", i, code, raw, got.Type, got.Raw)
		}
		checkInclusion(t, got.Entry, raw, got.Checkpoint)
		// The log's own proof endpoint gives the same proof.
		code, _, proof := f.do("GET", fmt.Sprintf("/proof/inclusion?index=%d&size=%d", i, tree.N), nil)
		if want := strings.Join(got.InclusionProof, "\n"); code != 200 || strings.TrimSuffix(string(proof), "\n") != want {
			t.Errorf("entry %d: /proof/inclusion %d %q, JSON proof %q", i, code, proof, want)
		}
	}
	// The entry bundle holds the same entries.
	code, _, bundle := f.do("GET", fmt.Sprintf("/tile/entries/000.p/%d", tree.N), nil)
	entries, err := translog.ParseEntryBundle(bundle)
	if code != 200 || err != nil || int64(len(entries)) != tree.N {
		t.Fatalf("entry bundle: %d, %d entries, %v", code, len(entries), err)
	}
	for i, e := range entries {
		if h := tlog.RecordHash(e); h != mustRecordHash(t, l, int64(i)) {
			t.Errorf("bundle entry %d differs from the log", i)
		}
	}

	// The zone: the status's ZONEMD is the served zone's.
	code, _, text := f.do("GET", "/v1/zone", nil)
	if code != 200 {
		t.Fatalf("GET /v1/zone: %d %s", code, text)
	}
	if _, err := zone.Import(bytes.NewReader(text), "."); err != nil {
		t.Fatalf("importing the served zone: %v", err)
	}
	var rrs []dns.RR
	zp := dns.NewZoneParser(bytes.NewReader(text), ".", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parsing the served zone: %v", err)
	}
	if err := zone.VerifyDigest(rrs); err != nil {
		t.Errorf("served zone: %v", err)
	}
	z, _ := f.b.Zone()
	if st.Serial != z.Serial() || st.ZONEMD != fmt.Sprintf("%X", z.Digest()) || !strings.Contains(strings.ToUpper(string(text)), st.ZONEMD) {
		t.Errorf("status serial %d ZONEMD %s; zone %d %X", st.Serial, st.ZONEMD, z.Serial(), z.Digest())
	}
	// uses. is restricted: out of the zone; aa. is in with its new NS.
	if strings.Contains(string(text), "\nuses.") || !strings.Contains(string(text), "ns3.aa.") {
		t.Errorf("served zone does not reflect the state:\n%s", text)
	}
	var v struct {
		Versions []ZoneVersion `json:"versions"`
	}
	f.get("/v1/zone/versions", 200, &v)
	if len(v.Versions) != 3 || v.Versions[2].ZONEMD != st.ZONEMD {
		b, _ := json.Marshal(v)
		t.Errorf("versions %s", b)
	}
}

func mustRecordHash(t *testing.T, l *translog.Log, i int64) tlog.Hash {
	t.Helper()
	h, err := l.RecordHash(i)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
