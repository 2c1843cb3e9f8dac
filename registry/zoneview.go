package registry

// ZoneDelegation returns a TLD's delegation as the zone must show it; ok is
// false when the zone must not contain it: no such TLD, an active
// restriction, or no name servers yet.
func (s *State) ZoneDelegation(name string) (ns, ds []string, ok bool) {
	t, exists := s.tlds[name]
	if !exists || len(t.NS) == 0 || s.Restricted(name) {
		return nil, nil, false
	}
	return t.NS, t.DS, true
}

// ZoneHost returns a host's glue addresses if the zone must contain them:
// the federation's own name servers, and hosts that a TLD in the zone names
// as a name server.
func (s *State) ZoneHost(name string) ([]string, bool) {
	for _, h := range s.c.NameServers {
		if h.Name == name {
			if len(h.Addrs) == 0 {
				return nil, false
			}
			addrs, _ := canonicalAddrs(h.Addrs)
			return addrs, true
		}
	}
	h, ok := s.hosts[name]
	if !ok {
		return nil, false
	}
	for _, u := range s.HostUsers(name) {
		if _, _, in := s.ZoneDelegation(u); in {
			return h.Addrs, true
		}
	}
	return nil, false
}

// ZoneHostNames returns every host the zone may carry glue for (the
// federation's name servers and every stored host), sorted; filter with
// ZoneHost.
func (s *State) ZoneHostNames() []string {
	seen := map[string]bool{}
	for _, h := range s.c.NameServers {
		seen[h.Name] = true
	}
	for h := range s.hosts {
		seen[h] = true
	}
	return sortedKeys(seen)
}
