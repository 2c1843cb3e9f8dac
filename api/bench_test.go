package api

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/registry"
)

// BenchmarkLargeRegistry measures the server time of the list and TLD
// routes over a registry of 1,000,000 TLDs (4 of the fixture's and
// 999,996 generated ones, owned in turn by the four members), one of which
// (shared.) has 10,000 delegations in its history. The first request
// (which builds the API's sorted snapshot of the names) is made before the
// clock starts; every iteration is a whole request through the handler.
//
// Measured on the 2-core machine, shared with other work (load average
// 5 to 7), go test -run X -bench LargeRegistry -benchtime 30x ./api/,
// server time per request:
//
//	route                                  before      after
//	/v1/tlds                               351 ms      54 µs
//	/v1/tlds?limit=1000                    307 ms      0.54 ms
//	/v1/tlds?after=xmmmm0.                 326 ms      61 µs
//	/v1/tlds?prefix=xab                    (q only)    62 µs
//	/v1/tlds?q=zzz (57 matches in 1M)      313 ms      9.3 ms (100,000 names a page)
//	/v1/tlds?owner=alpha&after=xmmmm0.     —           106 µs
//	/v1/tlds/shared. (10,000 changes)      35 µs       18 µs
//	/v1/members (250,000 TLDs each)        1.65 s      28 µs (100 embedded + tld_count)
//	/v1/members/alpha                      1.37 s      16 µs
//	/v1/signers/op1                        1.04 s      12 µs
//	/v1/status                             46 µs       16 µs
//	snapshot rebuild (at the first request, —          1.2 to 2.9 s
//	  then once per passed member.remove)
//	snapshot patch (once per passed         —          4.1 ms
//	  tld.create, tld.delete, tld.transfer)
func BenchmarkLargeRegistry(b *testing.B) {
	f := newFed(b, 1_000_000-4, Options{})
	const history = 10_000
	f.b.mu.Lock()
	for done := 0; done < history; {
		var block [][]byte
		for ; done < history && len(block) < 500; done++ {
			ns := []string{"ns1.shared.", "ns2.shared."}
			if done%2 == 1 {
				ns = []string{"ns2.shared.", "ns1.shared."}
			}
			block = append(block, f.act("op1", action.KindDelegate, &action.Delegate{TLD: "shared.", NS: ns}))
		}
		f.b.now = f.b.now.Add(time.Minute)
		out := f.b.s.Apply(f.b.height+1, f.b.now, f.b.log.Size(), block)
		for i, r := range out.Results {
			if r.Code != 0 {
				b.Fatalf("delegation %d: %s", i, r.Reason)
			}
		}
		f.b.commit(out)
	}
	f.b.mu.Unlock()
	b.Run("snapshot-rebuild", func(b *testing.B) {
		for b.Loop() {
			f.b.View(func(st *registry.State) { newTLDSnapshot(st) })
		}
	})
	b.Run("snapshot-patch", func(b *testing.B) {
		// What a passed tld.create, tld.delete or tld.transfer costs:
		// one name taken out of the snapshot and put back.
		var snap *tldSnapshot
		f.b.View(func(st *registry.State) { snap = newTLDSnapshot(st) })
		for b.Loop() {
			f.b.View(func(st *registry.State) { snap.reconcile(st, "shared.") })
		}
	})
	for _, path := range []string{
		"/v1/tlds",
		"/v1/tlds?limit=1000",
		"/v1/tlds?after=xmmmm0.",
		"/v1/tlds?prefix=xab",
		"/v1/tlds?q=zzz",
		"/v1/tlds?owner=alpha&after=xmmmm0.",
		"/v1/tlds/shared.",
		"/v1/tlds/xabcd1.",
		"/v1/members",
		"/v1/members/alpha",
		"/v1/signers/op1",
		"/v1/status",
	} {
		if code, _, body := f.do("GET", path, nil); code != 200 {
			b.Fatalf("GET %s: %d %s", path, code, body)
		}
		b.Run(strings.NewReplacer("/v1/", "", "/", "_", "?", "_").Replace(path), func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
				io.Discard.Write(rec.Body.Bytes())
			}
		})
	}
}
