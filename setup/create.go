package setup

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/dnsname"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/zone"
)

// Options describe a new federation.
type Options struct {
	Dir     string
	Origin  string
	Apex    string
	Members []string
	Genesis time.Time
	// NameServers are the apex name servers; with Import, the imported
	// zone's apex NS (and their glue) are used when this is empty.
	NameServers []constitution.Host
	// Import is a master file whose delegations become the genesis TLDs;
	// Owned gives some of them to members, the others are shared.
	Import []byte
	Owned  map[string][]string
	// Operators, when set, makes an operator key for every genesis TLD
	// (always for shared TLDs, which need one).
	Operators bool
	// VotingPeriod, when set, replaces the default voting periods.
	VotingPeriod time.Duration
	// Signing, when set, is the constitution's signing policy.
	Signing *constitution.Signing
}

// Create writes a new federation into o.Dir: keys, node homes, the
// constitution and constitution.sigs, signed by every founder (all their
// keys are made here). It refuses a directory that already holds a constitution.
func Create(o Options) (*constitution.Constitution, error) {
	if _, err := os.Stat(ConstitutionPath(o.Dir)); err == nil {
		return nil, fmt.Errorf("setup: %s already exists", ConstitutionPath(o.Dir))
	}
	if len(o.Members) == 0 {
		return nil, fmt.Errorf("setup: a federation needs at least one member")
	}
	var members []constitution.Member
	var keys []*Key
	for _, name := range o.Members {
		if err := constitution.CheckSignerName(name); err != nil {
			return nil, fmt.Errorf("setup: member: %v", err)
		}
		k, err := NewKey(name)
		if err != nil {
			return nil, err
		}
		if err := WriteKey(MemberKeyPath(o.Dir, name), k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
		id, err := consensus.InitHome(NodeHome(o.Dir, name))
		if err != nil {
			return nil, err
		}
		members = append(members, constitution.Member{Name: name, Key: k.Verifier, Validator: base64.StdEncoding.EncodeToString(id.Validator)})
	}
	ns := o.NameServers
	var imp *zone.Imported
	if o.Import != nil {
		var err error
		imp, err = zone.Import(bytes.NewReader(o.Import), o.Apex)
		if err != nil {
			return nil, fmt.Errorf("setup: importing the zone: %v", err)
		}
		if len(ns) == 0 {
			ns = apexNameServers(imp)
		}
	}
	c := constitution.Default(o.Origin, o.Apex, o.Genesis, members, ns)
	c.Signing = o.Signing
	if o.VotingPeriod > 0 {
		for k, r := range c.Rules {
			r.VotingPeriod = constitution.Duration(o.VotingPeriod)
			c.Rules[k] = r
		}
	}
	if imp != nil {
		c.SOA = constitution.SOA{MName: imp.Params.SOA.MName, RName: imp.Params.SOA.RName, Refresh: imp.Params.SOA.Refresh,
			Retry: imp.Params.SOA.Retry, Expire: imp.Params.SOA.Expire, Minimum: imp.Params.SOA.Minimum}
		c.TTLs = constitution.TTLs{SOA: imp.Params.TTLs.SOA, ApexNS: imp.Params.TTLs.ApexNS, NS: imp.Params.TTLs.NS, DS: imp.Params.TTLs.DS, Glue: imp.Params.TTLs.Glue}
		tlds, err := importTLDs(o, imp)
		if err != nil {
			return nil, err
		}
		c.TLDs = tlds
	}
	doc, err := constitution.Marshal(c)
	if err != nil {
		return nil, err
	}
	parsed, err := constitution.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("setup: the new constitution is invalid: %v", err)
	}
	if err := os.WriteFile(ConstitutionPath(o.Dir), doc, 0o644); err != nil {
		return nil, fmt.Errorf("setup: %v", err)
	}
	// Every founder's key is here: each signs, as in a founding ceremony.
	var notes [][]byte
	for _, k := range keys {
		sig, err := SignConstitution(parsed, k.Signer)
		if err != nil {
			return nil, err
		}
		notes = append(notes, sig)
	}
	sigs, err := MergeConstitutionSigs(parsed, notes...)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(SigsPath(o.Dir), sigs, 0o644); err != nil {
		return nil, fmt.Errorf("setup: %v", err)
	}
	return parsed, nil
}

// apexNameServers takes the apex NS and their addresses from an import.
func apexNameServers(imp *zone.Imported) []constitution.Host {
	addrs := map[string][]string{}
	for _, h := range imp.Hosts {
		for _, a := range h.Addrs {
			addrs[h.Name] = append(addrs[h.Name], a.String())
		}
	}
	var out []constitution.Host
	for _, n := range imp.Params.NS {
		out = append(out, constitution.Host{Name: n, Addrs: addrs[n]})
	}
	return out
}

// importTLDs turns imported delegations into genesis TLDs: the glue of each
// host goes to the TLD it lies under.
func importTLDs(o Options, imp *zone.Imported) ([]constitution.TLD, error) {
	owner := map[string]string{}
	for m, tlds := range o.Owned {
		for _, t := range tlds {
			owner[t] = m
		}
	}
	glue := map[string][]constitution.Host{}
	for _, h := range imp.Hosts {
		t := dnsname.ChildOf(h.Name, o.Apex)
		var addrs []string
		for _, a := range h.Addrs {
			addrs = append(addrs, a.String())
		}
		glue[t] = append(glue[t], constitution.Host{Name: h.Name, Addrs: addrs})
	}
	var out []constitution.TLD
	for _, d := range imp.Delegations {
		t := constitution.TLD{Name: d.Name, Owner: owner[d.Name], NS: d.NS, Glue: glue[d.Name]}
		for _, ds := range d.DS {
			t.DS = append(t.DS, fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest))
		}
		if t.Owner == "" || o.Operators {
			k, err := NewKey(OperatorName(d.Name))
			if err != nil {
				return nil, err
			}
			if err := WriteKey(OperatorKeyPath(o.Dir, d.Name), k); err != nil {
				return nil, err
			}
			t.Operator = k.Verifier
		}
		delete(owner, d.Name)
		out = append(out, t)
	}
	if len(owner) > 0 {
		var missing []string
		for t := range owner {
			missing = append(missing, t)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("setup: owned TLDs %v are not in the imported zone", missing)
	}
	return out, nil
}
