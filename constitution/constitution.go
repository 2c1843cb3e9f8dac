// Package constitution parses and validates a federation's genesis document:
// the apex it governs, its equal members and their keys, the TLDs each member
// owns, the federation's own name servers, the delegation policy and the rules
// (quorum, threshold, voting period, vetoes) for every kind of proposal.
//
// The document is JSON (RFC 8259), decoded strictly: unknown fields, trailing
// data and duplicate entries are errors that name the field. Fractions are
// kept as integer parts per million so that every replica compares them the
// same way; durations are Go duration strings ("72h").
package constitution

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/internal/strictjson"

	"github.com/commonroot/commonroot/dnsname"
)

// Proposal kinds. Every kind has a rule in every constitution.
const (
	TLDCreate         = "tld.create"
	TLDDelete         = "tld.delete"
	TLDTransfer       = "tld.transfer"
	MemberAdmit       = "member.admit"
	MemberRemove      = "member.remove"
	RestrictionImpose = "restriction.impose"
	RestrictionLift   = "restriction.lift"
	ConstitutionAmend = "constitution.amend"
	// KeyGenerate runs a distributed key generation among the members for
	// the zone's signing key; KeyRoll makes a new key the same way and
	// rolls the zone over to it (see Signing.RolloverPublish).
	KeyGenerate = "key.generate"
	KeyRoll     = "key.roll"
)

// Kinds lists every proposal kind, sorted.
var Kinds = []string{ConstitutionAmend, KeyGenerate, KeyRoll, MemberAdmit, MemberRemove, RestrictionImpose, RestrictionLift, TLDCreate, TLDDelete, TLDTransfer}

// MaxGenesisNS bounds the name servers of a genesis TLD (the delegation
// policy, which applies to later changes, allows at most 64 too).
const MaxGenesisNS = 64

// MaxSize bounds a constitution document; it travels in the CometBFT genesis.
const MaxSize = 16 << 20

// Constitution is a validated genesis document. Its fields are read-only
// after Parse; Bytes is the exact document that was parsed.
type Constitution struct {
	Version     int       `json:"version"`
	Origin      string    `json:"origin"`
	Apex        string    `json:"apex"`
	GenesisTime time.Time `json:"genesis_time"`
	Members     []Member  `json:"members"`
	NameServers []Host    `json:"nameservers"`
	SOA         SOA       `json:"soa"`
	TTLs        TTLs      `json:"ttls"`
	Policy      Policy    `json:"policy"`
	// Signing is how the zone is signed once the members have made a zone
	// key; nil means DefaultSigning.
	Signing *Signing `json:"signing,omitempty"`
	// Rules maps each proposal kind to how it is decided.
	Rules map[string]Rule `json:"rules"`
	// RemovedMemberTLDs says what becomes of the TLDs a removed member owned:
	// "shared" (they become shared TLDs, their operator keys kept) or "keep"
	// (the member, though no longer voting, keeps sole control).
	RemovedMemberTLDs string `json:"removed_member_tlds"`
	// TLDs are the delegations the federation starts with.
	TLDs []TLD `json:"tlds"`

	// Bytes is the document as parsed; Hash is its SHA-256.
	Bytes []byte   `json:"-"`
	Hash  [32]byte `json:"-"`
}

// Member is an equal party: one vote, one validator of equal power.
type Member struct {
	Name string `json:"name"`
	// Key is the member's C2SP signed-note verifier key; its name is Name.
	Key string `json:"key"`
	// Validator is the base64 Ed25519 public key of the member's CometBFT validator.
	Validator string `json:"validator"`
}

// Host is a name server with its addresses.
type Host struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// SOA holds the apex SOA fields other than the serial.
type SOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"`
}

// TTLs are the TTLs the zone is built with.
type TTLs struct {
	SOA    uint32 `json:"soa"`
	ApexNS uint32 `json:"apex_ns"`
	NS     uint32 `json:"ns"`
	DS     uint32 `json:"ds"`
	Glue   uint32 `json:"glue"`
}

// Policy is the technical check every delegation passes.
type Policy struct {
	MinNS int `json:"min_ns"`
	MaxNS int `json:"max_ns"`
	MaxDS int `json:"max_ds"`
	// DSDigestTypes lists the accepted DS digest types (RFC 8624: 2 and 4).
	DSDigestTypes []uint8 `json:"ds_digest_types"`
}

// Signing is the zone's DNSSEC signing policy. Every time is block time.
type Signing struct {
	// Validity is how long a new signature is valid, from the block time of
	// the signing request (its inception is back-dated by an hour, for
	// validators whose clocks run slow).
	Validity Duration `json:"validity"`
	// Refresh: a signature that expires within Refresh is signed again,
	// in a new zone version, with no one acting. Less than Validity.
	Refresh Duration `json:"refresh"`
	// Timeout is how long the chosen signers have to send their signature
	// shares before a new set is chosen without the silent ones.
	Timeout Duration `json:"timeout"`
	// RolloverPublish and RolloverRetire time a key rollover (RFC 7583
	// §3.3, a CSK roll): the new key's DNSKEY is published, beside the
	// old key that still signs, for RolloverPublish before the new key
	// takes over the signing (the publication interval Ipub: propagation
	// delay plus DNSKEY TTL, plus the RFC 5011 add hold-down where
	// resolvers learn the trust anchor from the zone); the old DNSKEY
	// stays published for RolloverRetire after the first version signed
	// by the new key (the retire interval Iret: propagation delay plus the
	// largest TTL of a signed RRset). Zero means the default.
	RolloverPublish Duration `json:"rollover_publish,omitempty"`
	RolloverRetire  Duration `json:"rollover_retire,omitempty"`
	// Batch is how many signatures one signing session makes at most: a
	// version that needs more is signed in batches, one after another,
	// each with its own nonce commitments, so that nonce pools stay
	// bounded whatever the zone's size. 1..MaxSigningBatch; zero means
	// the default (MaxSigningBatch).
	Batch int `json:"batch,omitempty"`
}

// MaxSigningBatch is the largest signing batch (see Signing.Batch): a
// member's nonce pool holds two batches' commitments, so that the next
// batch's are there when one batch is signed.
const MaxSigningBatch = 4096

// DefaultSigning is the signing policy of a constitution that states none:
// signatures valid 14 days, refreshed 5 days before they expire, signers
// replaced after 30 seconds of silence.
// A rollover publishes the new key for 30 days (the RFC 5011 add
// hold-down) plus the root's DNSKEY TTL of 2 days plus an hour, and keeps
// the old one 2 days (the root's largest TTL) plus an hour after the
// switch.
var DefaultSigning = Signing{Validity: Duration(14 * 24 * time.Hour), Refresh: Duration(5 * 24 * time.Hour), Timeout: Duration(30 * time.Second),
	RolloverPublish: Duration((30*24 + 48 + 1) * time.Hour), RolloverRetire: Duration(49 * time.Hour), Batch: MaxSigningBatch}

// SigningPolicy returns c.Signing or, if it is not set, DefaultSigning; the
// rollover times and batch it leaves out are DefaultSigning's.
func (c *Constitution) SigningPolicy() Signing {
	if c.Signing == nil {
		return DefaultSigning
	}
	sp := *c.Signing
	if sp.RolloverPublish == 0 {
		sp.RolloverPublish = DefaultSigning.RolloverPublish
	}
	if sp.RolloverRetire == 0 {
		sp.RolloverRetire = DefaultSigning.RolloverRetire
	}
	if sp.Batch == 0 {
		sp.Batch = DefaultSigning.Batch
	}
	return sp
}

// TLD is a delegation the federation starts with.
type TLD struct {
	Name string `json:"name"`
	// Owner is the member that alone controls the TLD; empty for a shared TLD.
	Owner string `json:"owner,omitempty"`
	// Operator is the verifier key of the TLD manager, who may change NS, DS
	// and glue on its own; optional for an owned TLD.
	Operator string   `json:"operator,omitempty"`
	NS       []string `json:"ns"`
	// DS records in presentation form: "KEYTAG ALGORITHM DIGESTTYPE HEX".
	DS   []string `json:"ds,omitempty"`
	Glue []Host   `json:"glue,omitempty"`
}

// Rule decides one kind of proposal when its voting period ends.
type Rule struct {
	// Quorum is the fraction of members that must cast a vote (yes, no or abstain).
	Quorum Fraction `json:"quorum"`
	// Threshold is the fraction of yes among yes and no votes needed to pass.
	Threshold    Fraction `json:"threshold"`
	VotingPeriod Duration `json:"voting_period"`
	// Veto lists members whose no vote alone rejects the proposal.
	Veto []string `json:"veto,omitempty"`
	// MaxDuration bounds a restriction's duration (restriction.impose only).
	MaxDuration Duration `json:"max_duration,omitempty"`
	// DecideEarly closes the vote as soon as no remaining vote can change
	// the outcome (votes are final); otherwise it closes at the end of the
	// voting period.
	DecideEarly bool `json:"decide_early,omitempty"`
}

// Fraction is a number in (0,1], held in parts per million.
type Fraction int64

// PPM is one whole in Fraction units.
const PPM = 1_000_000

// UnmarshalJSON reads a JSON number with at most six decimals, exactly.
func (f *Fraction) UnmarshalJSON(b []byte) error {
	s := string(b)
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 || whole == "" || strings.ContainsAny(s, "eE+-") {
		return fmt.Errorf("fraction %s: want a decimal like 0.667 with at most 6 decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 32)
	if err != nil {
		return fmt.Errorf("fraction %s: %v", s, err)
	}
	var p int64
	if frac != "" {
		p, err = strconv.ParseInt((frac + "000000")[:6], 10, 32)
		if err != nil {
			return fmt.Errorf("fraction %s: %v", s, err)
		}
	}
	*f = Fraction(w*PPM + p)
	return nil
}

// MarshalJSON writes the fraction as a decimal number.
func (f Fraction) MarshalJSON() ([]byte, error) {
	s := strconv.FormatInt(int64(f)/PPM, 10)
	if r := int64(f) % PPM; r != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", r), "0")
	}
	return []byte(s), nil
}

// AtLeast reports whether num/den >= f, in exact integer arithmetic.
func (f Fraction) AtLeast(num, den int) bool {
	if den <= 0 {
		return false
	}
	return int64(num)*PPM >= int64(f)*int64(den)
}

// Duration is a time.Duration written as a Go duration string.
type Duration time.Duration

// UnmarshalJSON reads "72h", "30m" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a string like \"72h\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Parse decodes and validates a constitution. The error names the first
// field that is wrong.
func Parse(data []byte) (*Constitution, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("constitution: %d bytes, more than the %d allowed", len(data), MaxSize)
	}
	c := new(Constitution)
	if err := strictjson.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("constitution: %v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Bytes = append([]byte(nil), data...)
	c.Hash = sha256.Sum256(data)
	return c, nil
}

// Marshal encodes c as indented JSON; Parse(Marshal(c)) is c again.
func Marshal(c *Constitution) ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Validate checks every field; the error names the field.
func (c *Constitution) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("constitution: %s: %s", field, fmt.Sprintf(format, args...))
	}
	if c.Version != 1 {
		return fail("version", "%d is not supported (want 1)", c.Version)
	}
	if c.Origin == "" || strings.ContainsAny(c.Origin, " \t\n+") || !isPrintableASCII(c.Origin) {
		return fail("origin", "%q must be a non-empty log origin without spaces or '+'", c.Origin)
	}
	if err := dnsname.Check(c.Apex); err != nil {
		return fail("apex", "%v", err)
	}
	if c.GenesisTime.IsZero() {
		return fail("genesis_time", "missing")
	}
	if len(c.Members) == 0 {
		return fail("members", "a federation needs at least one member")
	}
	names := map[string]bool{}
	keys := map[string]string{}
	for i, m := range c.Members {
		f := fmt.Sprintf("members[%d]", i)
		if err := CheckSignerName(m.Name); err != nil {
			return fail(f+".name", "%v", err)
		}
		if names[m.Name] {
			return fail(f+".name", "duplicate member %q", m.Name)
		}
		names[m.Name] = true
		v, err := note.NewVerifier(m.Key)
		if err != nil {
			return fail(f+".key", "%q is not a signed-note verifier key: %v", m.Key, err)
		}
		if v.Name() != m.Name {
			return fail(f+".key", "key is named %q, member is %q", v.Name(), m.Name)
		}
		if other, dup := keys[m.Key]; dup {
			return fail(f+".key", "same key as member %q", other)
		}
		keys[m.Key] = m.Name
		if pub, err := base64.StdEncoding.DecodeString(m.Validator); err != nil || len(pub) != 32 {
			return fail(f+".validator", "%q is not a base64 Ed25519 public key", m.Validator)
		}
	}
	if len(c.NameServers) == 0 {
		return fail("nameservers", "the apex needs at least one name server")
	}
	seenNS := map[string]bool{}
	for i, h := range c.NameServers {
		f := fmt.Sprintf("nameservers[%d]", i)
		if err := dnsname.Check(h.Name); err != nil {
			return fail(f+".name", "%v", err)
		}
		if seenNS[h.Name] {
			return fail(f+".name", "duplicate name server %q", h.Name)
		}
		seenNS[h.Name] = true
		if dnsname.IsBelow(h.Name, c.Apex) && len(h.Addrs) == 0 {
			return fail(f+".addrs", "%q lies below the apex %q and needs addresses", h.Name, c.Apex)
		}
		if err := checkAddrs(h.Addrs); err != nil {
			return fail(f+".addrs", "%v", err)
		}
	}
	if err := dnsname.Check(c.SOA.MName); err != nil {
		return fail("soa.mname", "%v", err)
	}
	if err := dnsname.Check(c.SOA.RName); err != nil {
		return fail("soa.rname", "%v", err)
	}
	if c.SOA.Refresh == 0 || c.SOA.Retry == 0 || c.SOA.Expire == 0 {
		return fail("soa", "refresh, retry and expire must be positive")
	}
	for f, v := range map[string]uint32{"ttls.soa": c.TTLs.SOA, "ttls.apex_ns": c.TTLs.ApexNS, "ttls.ns": c.TTLs.NS, "ttls.ds": c.TTLs.DS, "ttls.glue": c.TTLs.Glue} {
		if v == 0 || v > 1<<31-1 {
			return fail(f, "%d is outside 1..2147483647", v)
		}
	}
	if c.Policy.MinNS < 1 || c.Policy.MaxNS < c.Policy.MinNS || c.Policy.MaxNS > 64 {
		return fail("policy", "need 1 <= min_ns (%d) <= max_ns (%d) <= 64", c.Policy.MinNS, c.Policy.MaxNS)
	}
	if c.Policy.MaxDS < 0 || c.Policy.MaxDS > 32 {
		return fail("policy.max_ds", "%d is outside 0..32", c.Policy.MaxDS)
	}
	if len(c.Policy.DSDigestTypes) == 0 {
		return fail("policy.ds_digest_types", "list at least one accepted digest type")
	}
	for _, t := range c.Policy.DSDigestTypes {
		if dnsname.DigestLength(t) == 0 {
			return fail("policy.ds_digest_types", "digest type %d is not one of 1, 2, 4", t)
		}
	}
	if sp := c.Signing; sp != nil {
		if sp.Validity < Duration(time.Minute) || sp.Validity > Duration(365*24*time.Hour) {
			return fail("signing.validity", "%s is outside 1m..8760h", time.Duration(sp.Validity))
		}
		if sp.Refresh <= 0 || sp.Refresh >= sp.Validity {
			return fail("signing.refresh", "%s must be positive and less than the validity %s", time.Duration(sp.Refresh), time.Duration(sp.Validity))
		}
		if sp.Timeout < Duration(time.Second) || sp.Timeout > sp.Refresh/2 {
			return fail("signing.timeout", "%s is outside 1s..half the refresh (%s)", time.Duration(sp.Timeout), time.Duration(sp.Refresh/2))
		}
		if sp.Batch < 0 || sp.Batch > MaxSigningBatch {
			return fail("signing.batch", "%d is outside 1..%d (0: the default)", sp.Batch, MaxSigningBatch)
		}
		for _, f := range []struct {
			name string
			d    Duration
		}{{"signing.rollover_publish", sp.RolloverPublish}, {"signing.rollover_retire", sp.RolloverRetire}} {
			if f.d != 0 && (f.d < Duration(time.Second) || f.d > Duration(365*24*time.Hour)) {
				return fail(f.name, "%s is outside 1s..8760h", time.Duration(f.d))
			}
		}
	}
	for _, k := range Kinds {
		if _, ok := c.Rules[k]; !ok {
			return fail(fmt.Sprintf("rules[%q]", k), "missing")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Rules)) {
		r := c.Rules[k]
		f := fmt.Sprintf("rules[%q]", k)
		if !slices.Contains(Kinds, k) {
			return fail(f, "unknown proposal kind")
		}
		if r.Quorum <= 0 || r.Quorum > PPM {
			return fail(f+".quorum", "%s is outside (0,1]", fracString(r.Quorum))
		}
		if r.Threshold <= 0 || r.Threshold > PPM {
			return fail(f+".threshold", "%s is outside (0,1]", fracString(r.Threshold))
		}
		if r.VotingPeriod <= 0 {
			return fail(f+".voting_period", "must be positive")
		}
		for _, v := range r.Veto {
			if !names[v] {
				return fail(f+".veto", "%q is not a member", v)
			}
		}
		if k == RestrictionImpose && r.MaxDuration <= 0 {
			return fail(f+".max_duration", "a restriction needs a positive maximum duration")
		}
		if k != RestrictionImpose && r.MaxDuration != 0 {
			return fail(f+".max_duration", "only restriction.impose has a maximum duration")
		}
	}
	switch c.RemovedMemberTLDs {
	case "shared", "keep":
	default:
		return fail("removed_member_tlds", "%q must be \"shared\" or \"keep\"", c.RemovedMemberTLDs)
	}
	tlds := map[string]bool{}
	for i, t := range c.TLDs {
		f := fmt.Sprintf("tlds[%d]", i)
		if err := dnsname.Check(t.Name); err != nil {
			return fail(f+".name", "%v", err)
		}
		if !dnsname.IsChild(t.Name, c.Apex) {
			return fail(f+".name", "%q is not a child of the apex %q", t.Name, c.Apex)
		}
		if tlds[t.Name] {
			return fail(f+".name", "%q is listed twice (a TLD has one owner)", t.Name)
		}
		tlds[t.Name] = true
		if t.Owner != "" && !names[t.Owner] {
			return fail(f+".owner", "%q is not a member", t.Owner)
		}
		if t.Owner == "" && t.Operator == "" {
			return fail(f+".operator", "a shared TLD needs an operator key")
		}
		if t.Operator != "" {
			v, err := note.NewVerifier(t.Operator)
			if err != nil {
				return fail(f+".operator", "%q is not a signed-note verifier key: %v", t.Operator, err)
			}
			if names[v.Name()] {
				return fail(f+".operator", "key name %q is a member's name", v.Name())
			}
		}
		if len(t.NS) == 0 {
			return fail(f+".ns", "a delegation needs at least one name server")
		}
		if len(t.NS) > MaxGenesisNS {
			return fail(f+".ns", "%d name servers, more than %d", len(t.NS), MaxGenesisNS)
		}
		seenHost := map[string]bool{}
		for j, ns := range t.NS {
			if err := dnsname.Check(ns); err != nil {
				return fail(fmt.Sprintf("%s.ns[%d]", f, j), "%v", err)
			}
			if seenHost[ns] {
				return fail(fmt.Sprintf("%s.ns[%d]", f, j), "%q is listed twice", ns)
			}
			seenHost[ns] = true
		}
		for j, d := range t.DS {
			if _, err := dnsname.ParseDS(d); err != nil {
				return fail(fmt.Sprintf("%s.ds[%d]", f, j), "%v", err)
			}
		}
		for j, g := range t.Glue {
			if err := dnsname.Check(g.Name); err != nil {
				return fail(fmt.Sprintf("%s.glue[%d].name", f, j), "%v", err)
			}
			if !dnsname.IsBelow(g.Name, t.Name) {
				return fail(fmt.Sprintf("%s.glue[%d].name", f, j), "%q is not below %q (a TLD gives addresses only to hosts under it)", g.Name, t.Name)
			}
			if err := checkAddrs(g.Addrs); err != nil {
				return fail(fmt.Sprintf("%s.glue[%d].addrs", f, j), "%v", err)
			}
		}
	}
	return nil
}

// Member returns the member called name.
func (c *Constitution) Member(name string) (Member, bool) {
	for _, m := range c.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// ChainID is the CometBFT chain ID: derived from the origin and the
// document's hash, so two federations never share one.
func (c *Constitution) ChainID() string {
	return "commonroot-" + hex.EncodeToString(c.Hash[:8])
}

func checkAddrs(addrs []string) error {
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" || ip.Is4In6() {
			return fmt.Errorf("%q is not an IPv4 or IPv6 address", a)
		}
		if seen[ip] {
			return fmt.Errorf("address %q listed twice", a)
		}
		seen[ip] = true
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func fracString(f Fraction) string {
	b, _ := f.MarshalJSON()
	return string(b)
}

// CheckSignerName checks the name of a member or operator key: 1..72
// characters of lower-case letters, digits, '-' and '.', starting with a
// letter (it is also the key's signed-note name).
func CheckSignerName(name string) error {
	if name == "" || len(name) > 72 {
		return fmt.Errorf("name %q must have 1 to 72 characters", trimQuote(name))
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("name %q must start with a lower-case letter", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("name %q has %q: use lower-case letters, digits, '-' and '.'", name, c)
		}
	}
	return nil
}

// Default returns a constitution with the given apex, origin, members and
// name servers and commonroot's default SOA, TTLs, delegation policy and
// rules: a two-thirds majority of votes cast with half the members voting,
// a week to vote (constitution amendments: unanimity, two weeks), and
// restrictions of at most 90 days. It is not validated; call Validate.
func Default(origin, apex string, genesis time.Time, members []Member, ns []Host) *Constitution {
	day := Duration(24 * time.Hour)
	majority := Rule{Quorum: PPM / 2, Threshold: 666_666, VotingPeriod: 7 * day, DecideEarly: true}
	rules := map[string]Rule{}
	for _, k := range Kinds {
		rules[k] = majority
	}
	rules[ConstitutionAmend] = Rule{Quorum: PPM, Threshold: PPM, VotingPeriod: 14 * day}
	r := majority
	r.MaxDuration = 90 * day
	rules[RestrictionImpose] = r
	mname := "."
	if len(ns) > 0 {
		mname = ns[0].Name
	}
	rname := "hostmaster." + strings.TrimPrefix(apex, ".")
	if apex == "." {
		rname = "hostmaster.invalid."
	}
	return &Constitution{
		Version:           1,
		Origin:            origin,
		Apex:              apex,
		GenesisTime:       genesis.UTC(),
		Members:           members,
		NameServers:       ns,
		SOA:               SOA{MName: mname, RName: rname, Refresh: 1800, Retry: 900, Expire: 604800, Minimum: 86400},
		TTLs:              TTLs{SOA: 86400, ApexNS: 518400, NS: 172800, DS: 86400, Glue: 172800},
		Policy:            Policy{MinNS: 2, MaxNS: 13, MaxDS: 8, DSDigestTypes: []uint8{2, 4}},
		Rules:             rules,
		RemovedMemberTLDs: "shared",
	}
}

// trimQuote shortens what an error quotes, so a hostile megabyte is not echoed.
func trimQuote(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
