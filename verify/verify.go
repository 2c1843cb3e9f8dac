// Package verify checks a commonroot node from the outside, trusting
// nothing it serves: its checkpoint must carry enough member signatures, be
// consistent with a checkpoint seen before, and the zone it serves over DNS
// must hash (ZONEMD, RFC 8976) to the digest that a zone.version entry in
// the log, proven included in that checkpoint, records for that serial.
// Given witness keys, it also requires the cosignatures of enough external
// witnesses (c2sp.org/tlog-cosignature). Its pieces (MemberVerifiers,
// CheckWitnesses, FetchProof, Transfer, ServedVersion, FindZoneVersion,
// CheckZone) serve other checkers such as the monitor.
package verify

import (
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
	"github.com/commonroot/commonroot/witness"
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
	// Witnesses are the verifier keys (Ed25519 cosignature keys, type
	// 0x04) of external witnesses; WitnessQuorum of them (default 1 when
	// Witnesses is set) must have cosigned the checkpoint.
	Witnesses     []string
	WitnessQuorum int
}

// Report is what a successful check established.
type Report struct {
	Size    int64
	Root    tlog.Hash
	Signers []string
	// Witnesses names the witnesses whose cosignatures verified (only
	// when Options.Witnesses is set).
	Witnesses  []string
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
	verifiers, err := MemberVerifiers(c)
	if err != nil {
		return nil, err
	}
	var wverifiers note.Verifiers
	if len(o.Witnesses) > 0 {
		if o.WitnessQuorum <= 0 {
			o.WitnessQuorum = 1
		}
		if o.WitnessQuorum > len(o.Witnesses) {
			return nil, fmt.Errorf("witness quorum %d of %d witness keys can never be met", o.WitnessQuorum, len(o.Witnesses))
		}
		if wverifiers, err = witness.Verifiers(o.Witnesses); err != nil {
			return nil, err
		}
	}
	cl := client.New(o.Node)
	// Right after a commit (or a start) the node may serve no checkpoint
	// with a quorum yet, or one that does not cover the newest zone
	// version: the members' signatures arrive a block or two later. Those
	// failures are retried until o.Wait has passed; every other one is
	// final at once.
	deadline := time.Now().Add(o.Wait)
	for {
		r, retry, err := attempt(cl, o, verifiers, wverifiers)
		if err == nil {
			return r, nil
		}
		if !retry || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// attempt runs every check once; retry says the failure may pass later.
func attempt(cl *client.Client, o Options, verifiers, wverifiers note.Verifiers) (r *Report, retry bool, err error) {
	c := o.Constitution
	cp, err := cl.Get("/checkpoint")
	if err != nil {
		var he *client.Error
		return nil, errors.As(err, &he) && he.Status == 404, fmt.Errorf("fetching the checkpoint: %v", err)
	}
	tree, signers, err := translog.VerifyCheckpoint(cp, c.Origin, verifiers, o.Quorum)
	if err != nil {
		return nil, true, fmt.Errorf("checkpoint: %v", err)
	}
	var witnesses []string
	if wverifiers != nil {
		if witnesses, err = CheckWitnesses(cp, wverifiers, o.WitnessQuorum); err != nil {
			return nil, true, err
		}
	}
	r = &Report{Size: tree.N, Root: tree.Hash, Signers: signers, Witnesses: witnesses, Checkpoint: cp}
	if o.Previous != nil {
		old, _, err := translog.VerifyCheckpoint(o.Previous, c.Origin, verifiers, 1)
		if err != nil {
			return nil, false, fmt.Errorf("the saved checkpoint: %v", err)
		}
		if old.N > tree.N {
			return nil, false, fmt.Errorf("the log shrank: the saved checkpoint has %d entries, the node's %d", old.N, tree.N)
		}
		proof, err := FetchProof(cl, fmt.Sprintf("/proof/consistency?old=%d&new=%d", old.N, tree.N))
		if err != nil {
			return nil, false, err
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
			return nil, false, fmt.Errorf("the log is not consistent with the saved checkpoint (size %d): %v", old.N, err)
		}
	}
	z, err := CheckZone(cl, o.DNS, c.Apex, tree, o.MaxScan)
	if err != nil {
		return nil, errors.Is(err, ErrNotLogged), err
	}
	r.Serial, r.ZONEMD, r.VersionIndex, r.Records = z.Serial, z.ZONEMD, z.VersionIndex, z.Records
	return r, false, nil
}

// MemberVerifiers returns the verifiers of the constitution's members'
// keys.
func MemberVerifiers(c *constitution.Constitution) (note.Verifiers, error) {
	var vs []note.Verifier
	for _, m := range c.Members {
		v, err := note.NewVerifier(m.Key)
		if err != nil {
			return nil, fmt.Errorf("constitution key of %q: %v", m.Name, err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// CheckWitnesses checks that at least quorum distinct witnesses of
// verifiers cosigned the checkpoint cp, and returns their names. One
// witness cosignature that fails refuses the checkpoint.
func CheckWitnesses(cp []byte, verifiers note.Verifiers, quorum int) ([]string, error) {
	var names []string
	n, err := note.Open(cp, verifiers)
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &unverified):
	case err != nil:
		return nil, fmt.Errorf("witnesses: %v", err)
	default:
		for _, s := range n.Sigs {
			names = append(names, s.Name)
		}
	}
	if len(names) < quorum {
		return names, fmt.Errorf("witnesses: the checkpoint is cosigned by %d of the witnesses %q, want at least %d", len(names), names, quorum)
	}
	return names, nil
}

// ZoneReport is what CheckZone established.
type ZoneReport struct {
	Serial uint32
	ZONEMD string // upper-case hex
	// VersionIndex is the log index of the zone.version entry that
	// explains the served zone.
	VersionIndex int64
	Records      int
}

// ErrNotLogged says that no zone.version entry for the served serial was
// found in the log entries scanned. Right after a zone change it may mean
// only that the checkpoint covering the new version is not served yet.
var ErrNotLogged = errors.New("the log does not explain the served zone")

// A ZoneMismatchError says that the served zone's ZONEMD is not the one
// the log recorded for its serial: the node serves a zone the log does not
// explain.
type ZoneMismatchError struct {
	Serial uint32
	Served string // the served zone's ZONEMD (SHA-384, upper-case hex)
	Logged string // the ZONEMD of log entry Index
	Index  int64
}

func (e *ZoneMismatchError) Error() string {
	return fmt.Sprintf("the served zone (serial %d) has ZONEMD %s but the log (entry %d) says %s", e.Serial, e.Served, e.Index, e.Logged)
}

// CheckZone transfers the zone apex from the DNS server at dnsAddr, checks
// its own ZONEMD, and checks that the log of the node cl, at the verified
// tree, holds a zone.version entry for its serial with the same digest,
// proven included in tree. It reads back at most maxScan entries.
func CheckZone(cl *client.Client, dnsAddr, apex string, tree tlog.Tree, maxScan int) (*ZoneReport, error) {
	records, err := Transfer(dnsAddr, apex)
	if err != nil {
		return nil, fmt.Errorf("zone transfer from %s: %v", dnsAddr, err)
	}
	r := &ZoneReport{Records: len(records)}
	if r.Serial, r.ZONEMD, err = ServedVersion(records); err != nil {
		return nil, err
	}
	i, logged, err := FindZoneVersion(cl, tree, r.Serial, maxScan)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(logged, r.ZONEMD) {
		return nil, &ZoneMismatchError{Serial: r.Serial, Served: r.ZONEMD, Logged: logged, Index: i}
	}
	r.VersionIndex = i
	return r, nil
}

// ServedVersion checks a transferred zone's own ZONEMD (RFC 8976) and
// returns its serial and digest (upper-case hex).
func ServedVersion(records []dns.RR) (serial uint32, zonemd string, err error) {
	if err := zone.VerifyDigest(records); err != nil {
		return 0, "", fmt.Errorf("the served zone: %v", err)
	}
	soa, md := records[0].(*dns.SOA), findZONEMD(records)
	if md == nil {
		return 0, "", errors.New("the served zone has no ZONEMD")
	}
	return soa.Serial, strings.ToUpper(md.Digest), nil
}

// FindZoneVersion reads the log of the node cl back from the end of tree,
// at most maxScan entries, for the newest zone.version or zone.signed
// entry of serial, checks
// that it is included in tree, and returns its index and the ZONEMD it
// records. If there is none, the error wraps [ErrNotLogged].
func FindZoneVersion(cl *client.Client, tree tlog.Tree, serial uint32, maxScan int) (int64, string, error) {
	for i := tree.N - 1; i >= 0 && i >= tree.N-int64(maxScan); i-- {
		entry, err := cl.Get(fmt.Sprintf("/entry/%d", i))
		if err != nil {
			return 0, "", fmt.Errorf("fetching log entry %d: %v", i, err)
		}
		ev, err := registry.DecodeEvent(entry)
		// A signed version's own digest is in its zone.signed entry,
		// later in the log than the zone.version entry of the unsigned
		// zone it signs; a signed serial is never served unsigned.
		if err != nil || ev.Event != "zone.version" && ev.Event != "zone.signed" || ev.Serial != serial {
			continue
		}
		proof, err := FetchProof(cl, fmt.Sprintf("/proof/inclusion?index=%d&size=%d", i, tree.N))
		if err != nil {
			return 0, "", err
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			return 0, "", fmt.Errorf("log entry %d is not included in the checkpoint: %v", i, err)
		}
		return i, strings.ToUpper(ev.ZONEMD), nil
	}
	return 0, "", fmt.Errorf("no zone.version entry for the served serial %d in the last %d log entries: %w", serial, maxScan, ErrNotLogged)
}

// FetchProof fetches a proof from the node cl (a path such as
// "/proof/consistency?old=M&new=N") and decodes its hashes.
func FetchProof(cl *client.Client, path string) ([]tlog.Hash, error) {
	b, err := cl.Get(path)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %v", path, err)
	}
	proof, err := translog.ParseProof(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return proof, nil
}

// Transfer AXFRs apex from addr and returns the records, SOA first and the
// closing SOA dropped.
func Transfer(addr, apex string) ([]dns.RR, error) {
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
