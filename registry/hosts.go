package registry

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/dnsname"
)

// Name-server hosts are shared objects. The root shows why: com. names
// a.gtld-servers.net. as a name server, and that host's addresses are glue
// that lives under net. commonroot's rule:
//
//   - a host below the apex belongs to the TLD it lies under
//     (a.gtld-servers.net. belongs to net.); only that TLD's owner or
//     operator sets its addresses, through that TLD's delegate action;
//   - the federation's own name servers belong to the constitution and
//     change only by amendment;
//   - any TLD may name any host as a name server, but a host below the apex
//     must already have addresses (or get them in the same action, if it is
//     the TLD's own);
//   - an action that changes the addresses of a host that other TLDs use
//     must name every one of them in "affects", so no delegation ever
//     changes without the log saying so in the action that changed it;
//   - a host no TLD uses any more is removed.

// MaxAddrs bounds the addresses of one host.
const MaxAddrs = 16

// plan is a checked delegation, ready to apply.
type plan struct {
	tld   string
	ns    []string
	ds    []string
	hosts []Host // hosts whose addresses this delegation sets (sorted)
}

// planDelegation checks d as the new delegation of tld against the policy
// and the host rules. exists says whether tld is already a TLD (for a
// tld.create it is not yet).
func (s *State) planDelegation(tld string, d *action.Delegate) (*plan, error) {
	c := s.c
	pol := c.Policy
	p := &plan{tld: tld}
	seen := map[string]bool{}
	for _, h := range d.NS {
		if err := dnsname.Check(h); err != nil {
			return nil, fmt.Errorf("NS host: %v", err)
		}
		if h == c.Apex {
			return nil, fmt.Errorf("NS host %q is the apex itself", h)
		}
		if seen[h] {
			return nil, fmt.Errorf("NS host %q is listed twice", h)
		}
		seen[h] = true
		p.ns = append(p.ns, h)
	}
	sort.Strings(p.ns)
	if len(p.ns) < pol.MinNS {
		return nil, fmt.Errorf("%d distinct NS hosts, the policy needs at least %d", len(p.ns), pol.MinNS)
	}
	if len(p.ns) > pol.MaxNS {
		return nil, fmt.Errorf("%d NS hosts, the policy allows at most %d", len(p.ns), pol.MaxNS)
	}
	if len(d.DS) > pol.MaxDS {
		return nil, fmt.Errorf("%d DS records, the policy allows at most %d", len(d.DS), pol.MaxDS)
	}
	seenDS := map[string]bool{}
	for _, text := range d.DS {
		ds, err := dnsname.ParseDS(text)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(pol.DSDigestTypes, ds.DigestType) {
			return nil, fmt.Errorf("DS %q: digest type %d is not accepted by the policy (accepted: %v)", trim(text), ds.DigestType, pol.DSDigestTypes)
		}
		if seenDS[ds.String()] {
			return nil, fmt.Errorf("DS %q is listed twice", trim(text))
		}
		seenDS[ds.String()] = true
		p.ds = append(p.ds, ds.String())
	}
	sort.Strings(p.ds)

	glue := map[string][]string{}
	for _, g := range d.Glue {
		if err := dnsname.Check(g.Host); err != nil {
			return nil, fmt.Errorf("glue host: %v", err)
		}
		if _, dup := glue[g.Host]; dup {
			return nil, fmt.Errorf("glue for %q is given twice", g.Host)
		}
		if !dnsname.IsBelow(g.Host, c.Apex) {
			return nil, fmt.Errorf("glue for %q, which is outside the apex %q: hosts outside the zone get no glue", g.Host, c.Apex)
		}
		if s.isApexNS(g.Host) {
			return nil, fmt.Errorf("glue for %q: it is one of the federation's name servers, whose addresses change only by constitution amendment", g.Host)
		}
		if owner := dnsname.ChildOf(g.Host, c.Apex); owner != tld {
			return nil, fmt.Errorf("glue for %q: the host belongs to %q, and only %q's owner or operator sets its addresses", g.Host, owner, owner)
		}
		if !seen[g.Host] && len(s.otherUsers(g.Host, tld)) == 0 {
			return nil, fmt.Errorf("glue for %q, which no delegation names as a name server", g.Host)
		}
		addrs, err := checkAddrs(g.Host, g.Addrs)
		if err != nil {
			return nil, err
		}
		glue[g.Host] = addrs
	}
	for _, h := range p.ns {
		if !dnsname.IsBelow(h, c.Apex) || s.isApexNS(h) {
			continue
		}
		owner := dnsname.ChildOf(h, c.Apex)
		if owner == tld {
			if _, ok := glue[h]; !ok {
				if _, ok := s.hosts[h]; !ok {
					return nil, fmt.Errorf("NS host %q lies under %q and needs glue (its addresses) in this action", h, tld)
				}
			}
			continue
		}
		if _, ok := s.tlds[owner]; !ok {
			return nil, fmt.Errorf("NS host %q lies under %q, which is not a TLD here", h, owner)
		}
		if _, ok := s.hosts[h]; !ok {
			return nil, fmt.Errorf("NS host %q has no addresses: they belong to %q, whose owner or operator must publish them first", h, owner)
		}
	}
	var hostNames []string
	for h := range glue {
		hostNames = append(hostNames, h)
	}
	sort.Strings(hostNames)
	needed := map[string]bool{}
	for _, h := range hostNames {
		old, exists := s.hosts[h]
		if exists && slices.Equal(old.Addrs, glue[h]) {
			continue
		}
		for _, u := range s.otherUsers(h, tld) {
			needed[u] = true
		}
		p.hosts = append(p.hosts, Host{Name: h, Addrs: glue[h]})
	}
	named := map[string]bool{}
	for _, a := range d.Affects {
		if !needed[a] {
			return nil, fmt.Errorf("affects names %q, whose delegation this action does not change", trim(a))
		}
		named[a] = true
	}
	for _, u := range sortedKeys(needed) {
		if !named[u] {
			return nil, fmt.Errorf("this changes the addresses of a host that %q uses as a name server: name every such TLD in affects (%s) to confirm", u, strings.Join(sortedKeys(needed), ", "))
		}
	}
	return p, nil
}

// applyPlan stores a checked delegation.
func (s *State) applyPlan(p *plan, out *Output) {
	t := s.tlds[p.tld]
	old := t.NS
	t.NS, t.DS, t.Changed = p.ns, p.ds, s.meta.Time
	s.touch(prefixTLD + p.tld)
	for _, h := range p.hosts {
		h := h
		s.hosts[h.Name] = &h
		s.touch(prefixHost + h.Name)
		out.changedHost(h.Name)
		for _, u := range s.HostUsers(h.Name) {
			out.changedTLD(u)
		}
	}
	s.setUsers(p.tld, old, p.ns, out)
	out.changedTLD(p.tld)
}

// setUsers moves tld from the users of its old NS hosts to its new ones and
// removes hosts nobody uses any more.
func (s *State) setUsers(tld string, old, new []string, out *Output) {
	for _, h := range old {
		delete(s.hostUsers[h], tld)
		out.changedHost(h)
	}
	for _, h := range new {
		if s.hostUsers[h] == nil {
			s.hostUsers[h] = map[string]bool{}
		}
		s.hostUsers[h][tld] = true
		out.changedHost(h)
	}
	for _, h := range old {
		if len(s.hostUsers[h]) == 0 {
			delete(s.hostUsers, h)
			if _, ok := s.hosts[h]; ok {
				delete(s.hosts, h)
				s.touch(prefixHost + h)
			}
		}
	}
}

// otherUsers returns the TLDs other than tld that name host, sorted.
func (s *State) otherUsers(host, tld string) []string {
	var out []string
	for _, u := range s.HostUsers(host) {
		if u != tld {
			out = append(out, u)
		}
	}
	return out
}

func (s *State) isApexNS(host string) bool {
	for _, h := range s.c.NameServers {
		if h.Name == host {
			return true
		}
	}
	return false
}

// checkAddrs parses a host's addresses: public unicast IPv4 or IPv6, no
// duplicates, at most MaxAddrs; it returns them in canonical form, sorted.
func checkAddrs(host string, addrs []string) ([]string, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("glue for %q has no addresses", host)
	}
	if len(addrs) > MaxAddrs {
		return nil, fmt.Errorf("glue for %q has %d addresses, at most %d are allowed", host, len(addrs), MaxAddrs)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" || ip.Is4In6() {
			return nil, fmt.Errorf("glue for %q: %q is not an IPv4 or IPv6 address", host, trim(a))
		}
		if !ip.IsGlobalUnicast() || ip.IsPrivate() {
			return nil, fmt.Errorf("glue for %q: %s is not a public unicast address", host, ip)
		}
		if seen[ip] {
			return nil, fmt.Errorf("glue for %q: %s is listed twice", host, ip)
		}
		seen[ip] = true
	}
	return canonicalAddrs(addrs)
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// canonicalAddrs parses addresses and returns them canonical and sorted,
// without the policy's public-address rule (for genesis data).
func canonicalAddrs(addrs []string) ([]string, error) {
	var ips []netip.Addr
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address", trim(a))
		}
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out, nil
}

func parseDS(text string) (string, error) {
	ds, err := dnsname.ParseDS(text)
	if err != nil {
		return "", err
	}
	return ds.String(), nil
}

func dnsnameIsBelow(name, apex string) bool { return dnsname.IsBelow(name, apex) }
