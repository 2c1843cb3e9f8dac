// Package verify checks a commonroot node from the outside, trusting
// nothing it serves: its checkpoint must carry enough member signatures, be
// consistent with a checkpoint seen before, and the zone it serves over DNS
// must hash (ZONEMD, RFC 8976) to the digest that a zone.version entry in
// the log, proven included in that checkpoint, records for that serial.
package verify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/zone"
)

// Options say what to check.
type Options struct {
	// Node is the node's HTTP API base URL; DNS its DNS address (host:port).
	Node string
	DNS  string
	// Constitution gives the origin and the member keys.
	Constitution *constitution.Constitution
	// Quorum is how many distinct member signatures the checkpoint needs
	// (default: more than two thirds of the members).
	Quorum int
	// Previous is a checkpoint seen before (a signed note); the current one
	// must be consistent with it.
	Previous []byte
	// Wait is how long to wait for a checkpoint with a quorum of
	// signatures (default 10 s).
	Wait time.Duration
	// MaxScan bounds how many log entries are read back to find the zone
	// version of the served serial (default 10,000).
	MaxScan int
}

// Report is what a successful check established.
type Report struct {
	Size       int64
	Root       tlog.Hash
	Signers    []string
	Checkpoint []byte
	Serial     uint32
	ZONEMD     string
	// VersionIndex is the log index of the zone.version entry that explains
	// the served zone.
	VersionIndex int64
	Records      int
}

// Run performs every check and returns the first failure as an error with
// a plain reason.
func Run(o Options) (*Report, error) {
	c := o.Constitution
	if o.Quorum <= 0 {
		o.Quorum = len(c.Members)*2/3 + 1
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	if o.MaxScan <= 0 {
		o.MaxScan = 10000
	}
	var vs []note.Verifier
	for _, m := range c.Members {
		v, err := note.NewVerifier(m.Key)
		if err != nil {
			return nil, fmt.Errorf("constitution key of %q: %v", m.Name, err)
		}
		vs = append(vs, v)
	}
	verifiers := note.VerifierList(vs...)
	cl := client.New(o.Node)
	// A checkpoint just made carries only its own node's signature until
	// the others' arrive: wait a little for the quorum.
	var cp []byte
	var tree tlog.Tree
	var signers []string
	deadline := time.Now().Add(o.Wait)
	for {
		var err error
		cp, err = cl.Get("/checkpoint")
		if err != nil {
			return nil, fmt.Errorf("fetching the checkpoint: %v", err)
		}
		tree, signers, err = translog.VerifyCheckpoint(cp, c.Origin, verifiers, o.Quorum)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("checkpoint: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r := &Report{Size: tree.N, Root: tree.Hash, Signers: signers, Checkpoint: cp}
	if o.Previous != nil {
		old, _, err := translog.VerifyCheckpoint(o.Previous, c.Origin, verifiers, 1)
		if err != nil {
			return nil, fmt.Errorf("the saved checkpoint: %v", err)
		}
		if old.N > tree.N {
			return nil, fmt.Errorf("the log shrank: the saved checkpoint has %d entries, the node's %d", old.N, tree.N)
		}
		proof, err := fetchProof(cl, fmt.Sprintf("/proof/consistency?old=%d&new=%d", old.N, tree.N))
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
			return nil, fmt.Errorf("the log is not consistent with the saved checkpoint (size %d): %v", old.N, err)
		}
	}
	records, err := transfer(o.DNS, c.Apex)
	if err != nil {
		return nil, fmt.Errorf("zone transfer from %s: %v", o.DNS, err)
	}
	r.Records = len(records)
	if err := zone.VerifyDigest(records); err != nil {
		return nil, fmt.Errorf("the served zone: %v", err)
	}
	soa, zonemd := records[0].(*dns.SOA), findZONEMD(records)
	if zonemd == nil {
		return nil, errors.New("the served zone has no ZONEMD")
	}
	r.Serial, r.ZONEMD = soa.Serial, strings.ToUpper(zonemd.Digest)
	for i := tree.N - 1; i >= 0 && i >= tree.N-int64(o.MaxScan); i-- {
		entry, err := cl.Get(fmt.Sprintf("/entry/%d", i))
		if err != nil {
			return nil, fmt.Errorf("fetching log entry %d: %v", i, err)
		}
		ev, err := registry.DecodeEvent(entry)
		if err != nil || ev.Event != "zone.version" || ev.Serial != r.Serial {
			continue
		}
		proof, err := fetchProof(cl, fmt.Sprintf("/proof/inclusion?index=%d&size=%d", i, tree.N))
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			return nil, fmt.Errorf("log entry %d is not included in the checkpoint: %v", i, err)
		}
		if !strings.EqualFold(ev.ZONEMD, r.ZONEMD) {
			return nil, fmt.Errorf("the served zone (serial %d) has ZONEMD %s but the log (entry %d) says %s", r.Serial, r.ZONEMD, i, ev.ZONEMD)
		}
		r.VersionIndex = i
		return r, nil
	}
	return nil, fmt.Errorf("no zone.version entry for the served serial %d in the last %d log entries: the log does not explain the served zone", r.Serial, o.MaxScan)
}

func fetchProof(cl *client.Client, path string) ([]tlog.Hash, error) {
	b, err := cl.Get(path)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %v", path, err)
	}
	var proof []tlog.Hash
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("%s: bad hash line %q", path, line)
		}
		proof = append(proof, tlog.Hash(h))
	}
	return proof, nil
}

// transfer AXFRs apex from addr and returns the records, SOA first and the
// closing SOA dropped.
func transfer(addr, apex string) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetAxfr(apex)
	t := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	env, err := t.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			return nil, e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	if len(rrs) < 2 {
		return nil, fmt.Errorf("AXFR returned %d records", len(rrs))
	}
	if _, ok := rrs[0].(*dns.SOA); !ok {
		return nil, errors.New("AXFR does not start with the SOA")
	}
	if _, ok := rrs[len(rrs)-1].(*dns.SOA); !ok {
		return nil, errors.New("AXFR does not end with the SOA")
	}
	return rrs[:len(rrs)-1], nil
}

func findZONEMD(rrs []dns.RR) *dns.ZONEMD {
	for _, rr := range rrs {
		if z, ok := rr.(*dns.ZONEMD); ok && z.Hash == dns.ZoneMDHashAlgSHA384 && z.Scheme == dns.ZoneMDSchemeSimple {
			return z
		}
	}
	return nil
}

// ParseQuorum reads a --quorum value.
func ParseQuorum(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("quorum %q must be a positive number", s)
	}
	return n, nil
}
