package zone

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
)

func BenchmarkBuildRoot(b *testing.B) {
	imp := importRoot(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImportRoot(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		importRoot(b)
	}
}

func BenchmarkWriteToRoot(b *testing.B) {
	z := buildRoot(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := z.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

const million = 1_000_000

var synth1M = sync.OnceValues(func() ([]Delegation, []Host) { return synthZone(million) })

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBuild1M builds a synthetic zone of 1,000,000 delegations, each
// with two in-bailiwick name servers (A and AAAA glue) and one DS: 3,000,002
// names, 7,000,004 records. It reports the live heap of one zone.
func BenchmarkBuild1M(b *testing.B) {
	dels, hosts := synth1M()
	b.ReportAllocs()
	var z *Zone
	for b.Loop() {
		z = nil
		var err error
		if z, err = Build(testParams, 1, dels, hosts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	before := heapInUse()
	z2, err := Build(testParams, 1, dels, hosts)
	if err != nil {
		b.Fatal(err)
	}
	after := heapInUse()
	b.ReportMetric(float64(after-before)/(1<<20), "MB-live/zone")
	runtime.KeepAlive(z)
	runtime.KeepAlive(z2)
}

// BenchmarkUpdate1M changes 10 delegations (new NS, DS and glue) of the
// synthetic million-delegation zone.
func BenchmarkUpdate1M(b *testing.B) {
	dels, hosts := synth1M()
	z, err := Build(testParams, 1, dels, hosts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	serial := uint32(2)
	for b.Loop() {
		var set []Delegation
		var setHosts []Host
		for i := range 10 {
			d, hs := synthDelegation((int(serial)*7919 + i*99991) % million)
			d.NS = append(d.NS, fmt.Sprintf("ns3.%s", d.Name))
			hs[0].Addrs = hs[0].Addrs[:1]
			set = append(set, d)
			setHosts = append(setHosts, hs[0])
		}
		if _, err := z.Update(serial, set, nil, setHosts, nil); err != nil {
			b.Fatal(err)
		}
		serial++
	}
}

// BenchmarkDiff1M diffs the million-delegation zone against a version with
// 10 delegations changed.
func BenchmarkDiff1M(b *testing.B) {
	dels, hosts := synth1M()
	z, err := Build(testParams, 1, dels, hosts)
	if err != nil {
		b.Fatal(err)
	}
	var set []Delegation
	for i := range 10 {
		d, _ := synthDelegation(i * 99991)
		d.NS = d.NS[:1]
		set = append(set, d)
	}
	nz, err := z.Update(2, set, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		removed, added, err := nz.Diff(z)
		if err != nil || len(removed) != 12 || len(added) != 2 {
			b.Fatalf("Diff = %d removed, %d added, %v", len(removed), len(added), err)
		}
	}
}
