package zone

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var testParams = Params{
	Origin: ".",
	SOA:    SOA{MName: "a.root-servers.net.", RName: "nstld.verisign-grs.com.", Refresh: 1800, Retry: 900, Expire: 604800, Minimum: 86400},
	NS:     []string{"a.root-servers.net.", "b.root-servers.net."},
}

// synthDelegation is delegation i of a synthetic zone: two in-bailiwick
// name servers and one SHA-256 DS.
func synthDelegation(i int) (Delegation, []Host) {
	name := fmt.Sprintf("t%d.", i)
	sum := sha256.Sum256([]byte(name))
	d := Delegation{
		Name: name,
		NS:   []string{"ns1." + name, "ns2." + name},
		DS:   []DS{{KeyTag: uint16(i), Algorithm: 13, DigestType: 2, Digest: strings.ToUpper(fmt.Sprintf("%x", sum))}},
	}
	hs := []Host{
		{Name: "ns1." + name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", i&0xffff))}},
		{Name: "ns2." + name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::2", i&0xffff))}},
	}
	return d, hs
}

func synthZone(n int) ([]Delegation, []Host) {
	dels := make([]Delegation, 0, n)
	hosts := make([]Host, 0, 2*n+2)
	for i := range n {
		d, hs := synthDelegation(i)
		dels = append(dels, d)
		hosts = append(hosts, hs...)
	}
	hosts = append(hosts,
		Host{Name: "a.root-servers.net.", Addrs: []netip.Addr{netip.MustParseAddr("198.41.0.4")}},
		Host{Name: "b.root-servers.net.", Addrs: []netip.Addr{netip.MustParseAddr("170.247.170.2")}})
	return dels, hosts
}

func exportBytes(t testing.TB, z *Zone) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := z.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sameZone fails t unless a and b are the same zone in every observable way.
func sameZone(t testing.TB, got, want *Zone) {
	t.Helper()
	if !bytes.Equal(got.Digest(), want.Digest()) {
		t.Errorf("digest %x, want %x", got.Digest(), want.Digest())
	}
	if got.Len() != want.Len() {
		t.Errorf("Len %d, want %d", got.Len(), want.Len())
	}
	if g, w := exportBytes(t, got), exportBytes(t, want); !bytes.Equal(g, w) {
		t.Errorf("master files differ:\n%s\nwant\n%s", trimBytes(g), trimBytes(w))
	}
	g, w := allNodes(got), allNodes(want)
	if len(g) != len(w) {
		t.Fatalf("%d nodes, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i].key != w[i].key || !bytes.Equal(g[i].wire, w[i].wire) {
			t.Fatalf("node %d differs", i)
		}
	}
	checkChunks(t, got)
}

func allNodes(z *Zone) []node {
	var out []node
	z.eachNode(func(n *node) bool { out = append(out, *n); return true })
	return out
}

// checkChunks checks the chunk invariants: none empty, none over twice the
// size, keys strictly increasing across all of them.
func checkChunks(t testing.TB, z *Zone) {
	t.Helper()
	prev := ""
	for ci, c := range z.chunks {
		if len(c.nodes) == 0 || len(c.nodes) > 2*chunkSize {
			t.Fatalf("chunk %d has %d nodes", ci, len(c.nodes))
		}
		for i := range c.nodes {
			if (ci > 0 || i > 0) && c.nodes[i].key <= prev {
				t.Fatalf("chunk %d node %d is out of order", ci, i)
			}
			prev = c.nodes[i].key
		}
	}
}

func trimBytes(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// model is the content of a zone kept as maps: what Build gets.
type model struct {
	dels  map[string]Delegation
	hosts map[string]Host
}

func (m model) build(t testing.TB, serial uint32) *Zone {
	t.Helper()
	z, err := Build(testParams, serial, slices.Collect(maps.Values(m.dels)), slices.Collect(maps.Values(m.hosts)))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return z
}

func TestUpdateTable(t *testing.T) {
	dels, hosts := synthZone(5)
	base, err := Build(testParams, 1, dels, hosts)
	if err != nil {
		t.Fatal(err)
	}
	a4 := func(s string) []netip.Addr { return []netip.Addr{netip.MustParseAddr(s)} }
	newDel := Delegation{Name: "new.", NS: []string{"ns.example.net.", "ns.new."}}
	tests := []struct {
		name        string
		set         []Delegation
		remove      []string
		setHosts    []Host
		removeHosts []string
		wantDels    []Delegation // the Build input after the change
		wantHosts   []Host
		wantErr     string
	}{
		{name: "nothing", wantDels: dels, wantHosts: hosts},
		{name: "add", set: []Delegation{newDel}, setHosts: []Host{{"ns.new.", a4("192.0.2.1")}},
			wantDels: append(slices.Clone(dels), newDel), wantHosts: append(slices.Clone(hosts), Host{"ns.new.", a4("192.0.2.1")})},
		{name: "replace NS and DS", set: []Delegation{{Name: "t1.", NS: []string{"ns9.t1."}}},
			wantDels: replaceDel(dels, Delegation{Name: "t1.", NS: []string{"ns9.t1."}}), wantHosts: hosts},
		{name: "remove delegation keeps glue", remove: []string{"t2."},
			wantDels: removeDel(dels, "t2."), wantHosts: hosts},
		{name: "remove host", removeHosts: []string{"ns1.t3."},
			wantDels: dels, wantHosts: removeHost(hosts, "ns1.t3.")},
		{name: "host at a delegation", setHosts: []Host{{"t4.", a4("192.0.2.4")}},
			wantDels: dels, wantHosts: append(slices.Clone(hosts), Host{"t4.", a4("192.0.2.4")})},
		{name: "merged hosts", setHosts: []Host{{"ns1.t0.", a4("192.0.2.7")}, {"ns1.t0.", a4("192.0.2.8")}},
			wantDels: dels, wantHosts: append(removeHost(hosts, "ns1.t0."), Host{"ns1.t0.", []netip.Addr{netip.MustParseAddr("192.0.2.8"), netip.MustParseAddr("192.0.2.7")}})},
		{name: "remove missing delegation", remove: []string{"nope."}, wantErr: `removed delegation "nope." does not exist`},
		{name: "remove missing host", removeHosts: []string{"ns3.t1."}, wantErr: `removed host "ns3.t1." does not exist`},
		{name: "remove glue-only name as delegation", remove: []string{"ns1.t1."}, wantErr: "does not exist"},
		{name: "set and remove", set: []Delegation{{Name: "t1.", NS: []string{"a.b."}}}, remove: []string{"t1."}, wantErr: "both set and removed"},
		{name: "set twice", set: []Delegation{{Name: "x.", NS: []string{"a.b."}}, {Name: "x.", NS: []string{"a.c."}}}, wantErr: "given twice"},
		{name: "host set and removed", setHosts: []Host{{"ns1.t1.", a4("192.0.2.1")}}, removeHosts: []string{"ns1.t1."}, wantErr: "both set and removed"},
		{name: "not a child", set: []Delegation{{Name: "a.t1.", NS: []string{"a.b."}}}, wantErr: "not a child of the origin"},
		{name: "apex", set: []Delegation{{Name: ".", NS: []string{"a.b."}}}, wantErr: "delegation at the origin"},
		{name: "upper case", set: []Delegation{{Name: "X.", NS: []string{"a.b."}}}, wantErr: "upper-case"},
		{name: "no NS", set: []Delegation{{Name: "x."}}, wantErr: "has no NS"},
		{name: "bad NS", set: []Delegation{{Name: "x.", NS: []string{"a b."}}}, wantErr: "NS host of"},
		{name: "odd digest", set: []Delegation{{Name: "x.", NS: []string{"a.b."}, DS: []DS{{1, 8, 2, "ABC"}}}}, wantErr: "odd number"},
		{name: "lower-case digest", set: []Delegation{{Name: "x.", NS: []string{"a.b."}, DS: []DS{{1, 8, 2, "ab"}}}}, wantErr: "not upper-case hex"},
		{name: "host without address", setHosts: []Host{{Name: "ns.x."}}, wantErr: "no addresses"},
		{name: "host at apex", setHosts: []Host{{".", a4("192.0.2.1")}}, wantErr: "not below the origin"},
		{name: "invalid address", setHosts: []Host{{"ns.x.", []netip.Addr{{}}}}, wantErr: "not a plain IPv4 or IPv6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := base.Update(2, tt.set, tt.remove, tt.setHosts, tt.removeHosts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Update error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := Build(testParams, 2, tt.wantDels, tt.wantHosts)
			if err != nil {
				t.Fatal(err)
			}
			sameZone(t, got, want)
			// The base version is untouched.
			sameZone(t, base, mustBuild(t, testParams, 1, dels, hosts))
		})
	}
}

func mustBuild(t testing.TB, p Params, serial uint32, dels []Delegation, hosts []Host) *Zone {
	t.Helper()
	z, err := Build(p, serial, dels, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func replaceDel(dels []Delegation, d Delegation) []Delegation {
	return append(removeDel(dels, d.Name), d)
}

func removeDel(dels []Delegation, name string) []Delegation {
	return slices.DeleteFunc(slices.Clone(dels), func(d Delegation) bool { return d.Name == name })
}

func removeHost(hosts []Host, name string) []Host {
	return slices.DeleteFunc(slices.Clone(hosts), func(h Host) bool { return h.Name == name })
}

// randomChanges draws a valid change set for m and applies it to m.
func randomChanges(r *rand.Rand, m model, universe int) (set []Delegation, remove []string, setHosts []Host, removeHosts []string) {
	touchedD := map[string]bool{}
	touchedH := map[string]bool{}
	for range r.Intn(12) {
		i := r.Intn(universe)
		d, hs := synthDelegation(i)
		switch r.Intn(6) {
		case 0, 1: // set a delegation, sometimes with other NS and DS
			if touchedD[d.Name] {
				continue
			}
			if r.Intn(2) == 0 {
				d.NS = append(d.NS, fmt.Sprintf("ns%d.example.net.", r.Intn(5)), d.NS[0])
				d.DS = append(d.DS, DS{KeyTag: uint16(r.Intn(65536)), Algorithm: 8, DigestType: 2, Digest: d.DS[0].Digest}, d.DS[0])
			}
			if r.Intn(4) == 0 {
				d.DS = nil
			}
			touchedD[d.Name] = true
			set = append(set, d)
			m.dels[d.Name] = d
		case 2: // remove a delegation
			if _, ok := m.dels[d.Name]; !ok || touchedD[d.Name] {
				continue
			}
			touchedD[d.Name] = true
			remove = append(remove, d.Name)
			delete(m.dels, d.Name)
		case 3, 4: // set glue, sometimes at the delegation name itself
			h := hs[r.Intn(2)]
			if r.Intn(5) == 0 {
				h.Name = d.Name
			}
			if touchedH[h.Name] {
				continue
			}
			h.Addrs = append(h.Addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(r.Intn(256))}))
			touchedH[h.Name] = true
			setHosts = append(setHosts, h)
			m.hosts[h.Name] = h
		case 5: // remove glue
			h := hs[r.Intn(2)]
			if _, ok := m.hosts[h.Name]; !ok || touchedH[h.Name] {
				continue
			}
			touchedH[h.Name] = true
			removeHosts = append(removeHosts, h.Name)
			delete(m.hosts, h.Name)
		}
	}
	return
}

// TestUpdateEqualsBuild applies random change sets one after the other and
// checks each version against a Build of the same content.
func TestUpdateEqualsBuild(t *testing.T) {
	for _, size := range []int{1, 3, 512} {
		t.Run(fmt.Sprintf("chunk%d", size), func(t *testing.T) {
			defer setChunkSize(size)()
			testUpdateEqualsBuild(t)
		})
	}
}

// setChunkSize sets chunkSize and returns what restores it.
func setChunkSize(n int) func() {
	old := chunkSize
	chunkSize = n
	return func() { chunkSize = old }
}

func testUpdateEqualsBuild(t *testing.T) {
	const universe = 400
	r := rand.New(rand.NewSource(1))
	dels, hosts := synthZone(universe / 2)
	m := model{dels: map[string]Delegation{}, hosts: map[string]Host{}}
	for _, d := range dels {
		m.dels[d.Name] = d
	}
	for _, h := range hosts {
		m.hosts[h.Name] = h
	}
	z := m.build(t, 1)
	for step := range 300 {
		set, remove, setHosts, removeHosts := randomChanges(r, m, universe)
		serial := uint32(step + 2)
		nz, err := z.Update(serial, set, remove, setHosts, removeHosts)
		if err != nil {
			t.Fatalf("step %d: Update: %v", step, err)
		}
		sameZone(t, nz, m.build(t, serial))
		if t.Failed() {
			t.Fatalf("step %d: set %v remove %v setHosts %v removeHosts %v", step, set, remove, setHosts, removeHosts)
		}
		z = nz
	}
}

// TestDiff checks, over random updates, that old's records minus removed
// plus added are z's records (SOA aside), and that removed and added are
// disjoint.
func TestDiff(t *testing.T) {
	defer setChunkSize(3)()
	r := rand.New(rand.NewSource(2))
	dels, hosts := synthZone(100)
	m := model{dels: map[string]Delegation{}, hosts: map[string]Host{}}
	for _, d := range dels {
		m.dels[d.Name] = d
	}
	for _, h := range hosts {
		m.hosts[h.Name] = h
	}
	z := m.build(t, 1)
	for step := range 100 {
		set, remove, setHosts, removeHosts := randomChanges(r, m, 200)
		nz, err := z.Update(uint32(step+2), set, remove, setHosts, removeHosts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range []struct{ old, new *Zone }{{z, nz}, {z, m.build(t, uint32(step+2))}} {
			removed, added, err := pair.new.Diff(pair.old)
			if err != nil {
				t.Fatal(err)
			}
			if removed[0].String() != pair.old.Records()[0].String() || added[0].String() != pair.new.Records()[0].String() {
				t.Fatalf("step %d: diff does not start with the SOAs", step)
			}
			set := map[string]bool{}
			for _, rr := range pair.old.Records()[1:] {
				set[rr.String()] = true
			}
			for _, rr := range removed[1:] {
				if !set[rr.String()] {
					t.Fatalf("step %d: removed %v is not in the old zone", step, rr)
				}
				delete(set, rr.String())
			}
			for _, rr := range added[1:] {
				if set[rr.String()] {
					t.Fatalf("step %d: added %v is already there", step, rr)
				}
				set[rr.String()] = true
			}
			want := map[string]bool{}
			for _, rr := range pair.new.Records()[1:] {
				want[rr.String()] = true
			}
			if !maps.Equal(set, want) {
				t.Fatalf("step %d: old zone with the diff applied differs from the new zone", step)
			}
		}
		z = nz
	}
}
