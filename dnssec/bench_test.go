package dnssec

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/commonroot/commonroot/zone"
)

// signOnce plans z from scratch, signs with s and finishes.
func signOnce(b *testing.B, z *zone.Zone, k Key, s Signer) *Signed {
	pl, err := NewPlan(z, k, testPolicy)
	if err != nil {
		b.Fatal(err)
	}
	sz, err := pl.Sign(s)
	if err != nil {
		b.Fatal(err)
	}
	return sz
}

// BenchmarkSignRoot signs the real root zone from scratch with an
// in-process Ed25519 key: plan, sign, verify every signature, ZONEMD.
func BenchmarkSignRoot(b *testing.B) {
	z := rootZone(b)
	k, s := testKey("root")
	b.ReportAllocs()
	for b.Loop() {
		signOnce(b, z, k, s)
	}
}

// BenchmarkSignRootFROST is BenchmarkSignRoot with a 3-of-4 FROST dealer
// key, every session run in this process (3 commitments, 3 shares, an
// aggregate per RRset).
func BenchmarkSignRootFROST(b *testing.B) {
	z := rootZone(b)
	f, k := newFrostSigner(b, 3, 4)
	b.ReportAllocs()
	for b.Loop() {
		signOnce(b, z, k, f)
	}
}

// BenchmarkSignRootPooled is BenchmarkSignRootFROST as the federation
// signs (pooledSigner): the nonce commitments made, batch by batch, while
// the timer is stopped (the nodes make them ahead and check them on
// arrival), then each member computes its shares (SignChecked) and the
// aggregator aggregates and verifies (AggregateChecked), on all cores.
func BenchmarkSignRootPooled(b *testing.B) {
	benchPooled(b, rootZone(b))
}

// benchPooled signs z from scratch with a 3-of-4 pooledSigner, reporting
// the CPU time of the timed part and the time that making the commitments
// took.
func benchPooled(b *testing.B, z *zone.Zone) {
	f, k := newFrostSigner(b, 3, 4)
	var made, cpu time.Duration
	var madeAt time.Time
	c0 := cpuTime()
	p := &pooledSigner{frostSigner: f,
		pause: func() {
			b.StopTimer()
			cpu += cpuTime() - c0
			madeAt = time.Now()
		},
		resume: func() {
			made += time.Since(madeAt)
			c0 = cpuTime()
			b.StartTimer()
		}}
	for b.Loop() {
		c0 = cpuTime()
		pl, err := NewPlan(z, k, testPolicy)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pl.Sign(p); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(made.Seconds()/float64(b.N), "commit-s/op")
}

// BenchmarkUpdateRoot re-signs the root after 10 random delegation changes.
func BenchmarkUpdateRoot(b *testing.B) {
	k, s := testKey("root")
	z := rootZone(b)
	prev := signOnce(b, z, k, s)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		nz := randomChanges(b, nil, z, 10)
		b.StartTimer()
		pl, err := PlanUpdate(prev, nz, k, testPolicy)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pl.Sign(s); err != nil {
			b.Fatal(err)
		}
	}
}

// synthZone is a zone of n delegations like the zone package's benchmark
// zone: delegation i is "t<i>." with two in-bailiwick name servers (A and
// AAAA glue each), and a SHA-256 DS for one in five (i%5 == 0).
func synthZone(b *testing.B, n int) *zone.Zone {
	dels := make([]zone.Delegation, 0, n)
	hosts := make([]zone.Host, 0, 2*n+2)
	for i := range n {
		name := fmt.Sprintf("t%d.", i)
		d := zone.Delegation{Name: name, NS: []string{"ns1." + name, "ns2." + name}}
		if i%5 == 0 {
			sum := sha256.Sum256([]byte(name))
			d.DS = []zone.DS{{KeyTag: uint16(i), Algorithm: 13, DigestType: 2, Digest: strings.ToUpper(fmt.Sprintf("%x", sum))}}
		}
		dels = append(dels, d)
		hosts = append(hosts,
			zone.Host{Name: "ns1." + name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", i&0xffff))}},
			zone.Host{Name: "ns2." + name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::2", i&0xffff))}})
	}
	hosts = append(hosts,
		zone.Host{Name: "a.root-servers.net.", Addrs: []netip.Addr{netip.MustParseAddr("198.41.0.4")}},
		zone.Host{Name: "b.root-servers.net.", Addrs: []netip.Addr{netip.MustParseAddr("170.247.170.2")}})
	p := zone.Params{
		Origin: ".",
		SOA:    zone.SOA{MName: "a.root-servers.net.", RName: "nstld.verisign-grs.com.", Refresh: 1800, Retry: 900, Expire: 604800, Minimum: 86400},
		NS:     []string{"a.root-servers.net.", "b.root-servers.net."},
	}
	z, err := zone.Build(p, 1, dels, hosts)
	if err != nil {
		b.Fatal(err)
	}
	return z
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSign1M signs a synthetic zone of 1,000,000 delegations (20% with
// DS; 1,200,005 RRSIGs) from scratch with an in-process Ed25519 key on all
// cores, and reports the live heap of the signed version beyond the
// unsigned zone. With DNSSEC_BENCH_ZONE=path it first writes the unsigned
// zone there as a master file (bench/signing.sh signs that file with
// ldns-signzone and Knot).
func BenchmarkSign1M(b *testing.B) {
	z := synthZone(b, 1_000_000)
	if path := os.Getenv("DNSSEC_BENCH_ZONE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := z.WriteTo(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	k, s := testKey("root")
	b.ReportAllocs()
	var sz *Signed
	cpu := cpuTime()
	for b.Loop() {
		sz = nil
		sz = signOnce(b, z, k, s)
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
	before := heapInUse()
	runtime.KeepAlive(sz)
	sz = nil
	after := heapInUse()
	b.ReportMetric(float64(before-after)/(1<<20), "MB-live/signed")
	runtime.KeepAlive(z)
}

// BenchmarkSign1MPooled is BenchmarkSign1M with the 3-of-4 FROST key, as
// the federation signs (see BenchmarkSignRootPooled): the planning, the
// members' shares, aggregation and verification of every signature, and
// the ZONEMD are timed; making the nonce commitments ahead is not, and is
// reported as commit-s/op. bench/signing.sh runs it beside ldns-signzone and
// Knot.
func BenchmarkSign1MPooled(b *testing.B) {
	benchPooled(b, synthZone(b, 1_000_000))
}

// BenchmarkUpdate1M re-signs the synthetic million-delegation zone after
// 10 delegations changed (new NS for 5, DS toggled for 5): PlanUpdate,
// signing the changed RRsets, and the ZONEMD over the whole signed zone.
func BenchmarkUpdate1M(b *testing.B) {
	z := synthZone(b, 1_000_000)
	k, s := testKey("root")
	prev := signOnce(b, z, k, s)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var set []zone.Delegation
		for i := range 10 {
			d, _ := z.Delegation(fmt.Sprintf("t%d.", (int(z.Serial())*7919+i*99991)%1_000_000))
			if i%2 == 0 {
				d.NS = d.NS[:1]
			} else if len(d.DS) > 0 {
				d.DS = nil
			} else {
				d.DS = []zone.DS{{KeyTag: 1, Algorithm: 15, DigestType: 2, Digest: strings.Repeat("AB", 32)}}
			}
			set = append(set, d)
		}
		nz, err := z.Update(z.Serial()+1, set, nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		pl, err := PlanUpdate(prev, nz, k, testPolicy)
		if err != nil {
			b.Fatal(err)
		}
		if prev, err = pl.Sign(s); err != nil {
			b.Fatal(err)
		}
		z = nz
	}
}
