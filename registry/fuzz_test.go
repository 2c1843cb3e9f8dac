package registry

import (
	"strings"
	"testing"

	"github.com/commonroot/commonroot/action"
)

// FuzzDelegation feeds arbitrary delegations of shared. to the checks: they
// never panic, and whatever they accept leaves every NS host below the apex
// with addresses and every host's addresses owned by its own TLD.
func FuzzDelegation(f *testing.F) {
	f.Add("ns1.shared. ns2.shared.", "ns2.shared.=198.51.100.7", "2371 13 2 C988EC423E3880EB8DD8A46FE06CA230EE23F35B578D64E2A5C8BB8FF9C2EB48", "")
	f.Add("ns1.shared. ns1.aa.", "ns1.aa.=192.0.2.9", "", "uses.")
	f.Add("a.b.shared. ns1.shared.", "a.b.shared.=2001:db8::1,203.0.113.5", "", "")
	f.Fuzz(func(t *testing.T, ns, glue, ds, affects string) {
		fd := newFedOnce(t)
		d := &action.Delegate{TLD: "shared.", NS: strings.Fields(ns), DS: splitNonEmpty(ds, ";"), Affects: strings.Fields(affects)}
		for _, g := range strings.Fields(glue) {
			host, addrs, _ := strings.Cut(g, "=")
			d.Glue = append(d.Glue, action.Glue{Host: host, Addrs: splitNonEmpty(addrs, ",")})
		}
		s, err := Genesis(fd.c)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.planDelegation("shared.", d)
		if err != nil {
			return
		}
		s.applyPlan(p, &Output{})
		for _, h := range s.tlds["shared."].NS {
			if s.isApexNS(h) {
				continue
			}
			if _, ok := s.hosts[h]; !ok {
				t.Fatalf("accepted NS host %q without addresses", h)
			}
		}
		for _, h := range p.hosts {
			if !strings.HasSuffix(h.Name, ".shared.") {
				t.Fatalf("shared. set the addresses of %q", h.Name)
			}
		}
	})
}

var fuzzFed *fed

func newFedOnce(t *testing.T) *fed {
	if fuzzFed == nil {
		fuzzFed = newFed(t)
	}
	return fuzzFed
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkApply measures actions applied per second by the state machine
// alone: delegation changes of shared TLDs, one block of 1,000.
func BenchmarkApply(b *testing.B) {
	f := newFed(b)
	const perBlock = 1000
	txs := make([][][]byte, 0)
	for i := 0; i < b.N; i += perBlock {
		var block [][]byte
		for j := 0; j < perBlock && i+j < b.N; j++ {
			ns := "ns2.shared."
			if (i+j)%2 == 1 {
				ns = "ns1.aa."
			}
			block = append(block, f.act("op1", action.KindDelegate, deleg("shared.", "ns1.shared.", ns)))
		}
		txs = append(txs, block)
	}
	b.ResetTimer()
	for _, block := range txs {
		out := f.block(block...)
		for _, r := range out.Results {
			if r.Code != OK {
				b.Fatal(r.Reason)
			}
		}
		f.s.TakeWrites()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "actions/s")
}
