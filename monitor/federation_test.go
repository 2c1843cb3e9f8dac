package monitor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/monitor"
	"github.com/commonroot/commonroot/zone"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestFederation: the monitor passes an honest 4-member dev federation,
// then flags the node whose DNS serves a zone with one delegation altered
// (same serial, its own ZONEMD right), with both digests as evidence.
func TestFederation(t *testing.T) {
	dir := t.TempDir()
	if _, err := localfed.CreateDev(dir, 4); err != nil {
		t.Fatal(err)
	}
	f, err := localfed.Start(localfed.Options{Dir: dir, AllowTransfer: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	members := localfed.MemberNames[:4]
	nodes := func() []monitor.Node {
		var ns []monitor.Node
		for _, name := range members {
			ns = append(ns, monitor.Node{Name: name, URL: f.HTTP(name), DNS: f.Nodes[name].DNSAddr()})
		}
		return ns
	}

	reg := prometheus.NewRegistry()
	m, err := monitor.New(monitor.Config{Constitution: f.Constitution, Nodes: nodes(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Right after start a node may still serve the size-0 checkpoint (its
	// first cosigned one needs another block): check until every node has
	// served a non-empty one, which must come within seconds.
	for deadline := time.Now().Add(60 * time.Second); ; {
		alerts, err := m.Once(context.Background(), 60*time.Second)
		if err != nil || len(alerts) != 0 {
			t.Fatalf("honest federation: alerts %v, %v", alerts, err)
		}
		empty := 0
		for _, name := range members {
			if metric(t, reg, "commonroot_monitor_verified_size", "node", name) == 0 {
				empty++
			}
		}
		if empty == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes still serve an empty checkpoint after 60 s", empty)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, name := range members {
		if got, want := metric(t, reg, "commonroot_monitor_verified_size", "node", name), f.Nodes[name].App().Log().Size(); got < 1 || got > float64(want) {
			t.Errorf("commonroot_monitor_verified_size{node=%q} = %v, want 1 to %d", name, got, want)
		}
	}

	// charlie's DNS lies: one delegation altered, same serial.
	z, _ := f.Nodes["charlie"].App().Zone()
	dels := append([]zone.Delegation(nil), z.Delegations()...)
	altered := false
	for i, d := range dels {
		if d.Name == "org." {
			dels[i].NS = []string{"ns1.evil.example.", "ns2.evil.example."}
			altered = true
		}
	}
	if !altered {
		t.Fatal("no org. in the zone")
	}
	forged, err := zone.Build(z.Params(), z.Serial(), dels, z.Hosts())
	if err != nil {
		t.Fatal(err)
	}
	liar, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0", AllowTransfer: loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := liar.Publish(forged); err != nil {
		t.Fatal(err)
	}
	if err := liar.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { liar.Close() })

	ns := nodes()
	ns[2].DNS = liar.Addr()
	reg = prometheus.NewRegistry()
	var logs bytes.Buffer
	m, err = monitor.New(monitor.Config{Constitution: f.Constitution, Nodes: ns, Registerer: reg, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := m.Once(context.Background(), 60*time.Second)
	if err != nil {
		t.Fatalf("lying node: %v", err)
	}
	if len(alerts) != 1 {
		t.Fatalf("lying node: alerts %v, want one", alerts)
	}
	a := alerts[0]
	served, logged := fmt.Sprintf("%X", forged.Digest()), fmt.Sprintf("%X", z.Digest())
	if a.Kind != monitor.KindZone || fmt.Sprint(a.Nodes) != "[charlie]" || a.Serial != z.Serial() ||
		!strings.EqualFold(a.Served, served) || !strings.EqualFold(a.Logged, logged) {
		t.Fatalf("alert %+v, want a zone alert naming charlie, serial %d, served %s, logged %s", a, z.Serial(), served, logged)
	}
	for _, want := range []string{`"kind":"zone"`, `"nodes":["charlie"]`, `"served_zonemd":"` + a.Served, `"logged_zonemd":"` + a.Logged} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %s lacks %s", logs.String(), want)
		}
	}
	if got := metric(t, reg, "commonroot_monitor_alerts_total", "kind", monitor.KindZone); got != 1 {
		t.Errorf("commonroot_monitor_alerts_total{kind=zone} = %v, want 1", got)
	}
}

// liarAt serves z on a free loopback port.
func liarAt(t *testing.T, z dnsserver.Zone) string {
	t.Helper()
	s, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0", AllowTransfer: loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(z); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr()
}

// records is a dnsserver.Zone of any records, for zones zone.Build
// would never make.
type records struct {
	origin string
	serial uint32
	rrs    []dns.RR
}

func (r *records) Origin() string    { return r.origin }
func (r *records) Serial() uint32    { return r.serial }
func (r *records) Records() []dns.RR { return r.rrs }

// TestZoneLies: other lies a node's DNS can tell, each caught and
// attributed to that node.
func TestZoneLies(t *testing.T) {
	dir := t.TempDir()
	if _, err := localfed.CreateDev(dir, 4); err != nil {
		t.Fatal(err)
	}
	f, err := localfed.Start(localfed.Options{Dir: dir, AllowTransfer: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	honest := func() []monitor.Node {
		var ns []monitor.Node
		for _, name := range localfed.MemberNames[:4] {
			ns = append(ns, monitor.Node{Name: name, URL: f.HTTP(name), DNS: f.Nodes[name].DNSAddr()})
		}
		return ns
	}
	// First, every node's checkpoint covers its zone (the checkpoint
	// trails the zone by a block or two: that is what Grace is for).
	m, err := monitor.New(monitor.Config{Constitution: f.Constitution, Nodes: honest()})
	if err != nil {
		t.Fatal(err)
	}
	if alerts, err := m.Once(context.Background(), 60*time.Second); err != nil || len(alerts) != 0 {
		t.Fatalf("honest federation: %v, %v", alerts, err)
	}
	z, _ := f.Nodes["bravo"].App().Zone()
	unlogged, err := zone.Build(z.Params(), z.Serial()+1000, z.Delegations(), z.Hosts())
	if err != nil {
		t.Fatal(err)
	}
	badMD := append([]dns.RR(nil), z.Records()...)
	for i, rr := range badMD {
		if md, ok := rr.(*dns.ZONEMD); ok {
			bad := dns.Copy(md).(*dns.ZONEMD)
			bad.Digest = strings.Repeat("AB", 48)
			badMD[i] = bad
		}
	}
	tests := []struct {
		name   string
		zone   dnsserver.Zone
		serial uint32
		want   string // in the reason
	}{
		{"a serial the log never recorded", unlogged, z.Serial() + 1000, "has no zone.version entry in the log"},
		{"a ZONEMD that does not match the records", &records{origin: z.Origin(), serial: z.Serial(), rrs: badMD}, 0, zone.ErrDigestMismatch.Error()},
		{"the honest zone", z, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := honest()
			ns[1].DNS = liarAt(t, tt.zone)
			m, err := monitor.New(monitor.Config{Constitution: f.Constitution, Nodes: ns, Grace: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			alerts, err := m.Once(context.Background(), 60*time.Second)
			if tt.want == "" {
				if err != nil || len(alerts) != 0 {
					t.Fatalf("Once = %v, %v; want no alert", alerts, err)
				}
				return
			}
			if err != nil || len(alerts) != 1 {
				t.Fatalf("Once = %v, %v; want one alert", alerts, err)
			}
			a := alerts[0]
			if a.Kind != monitor.KindZone || fmt.Sprint(a.Nodes) != "[bravo]" || !strings.Contains(a.Reason, tt.want) || a.Serial != tt.serial && tt.serial != 0 {
				t.Fatalf("alert %+v, want a zone alert naming bravo with %q", a, tt.want)
			}
		})
	}
}
