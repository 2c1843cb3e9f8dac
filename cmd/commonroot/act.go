package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/setup"
)

// actor holds the flags every action command shares.
type actor struct {
	node, key string
	dryRun    bool
	ttl       time.Duration
}

func (a *actor) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.node, "node", "http://127.0.0.1:8053", "the node's HTTP API")
	fs.StringVar(&a.key, "key", "", "the signing key file")
	fs.BoolVar(&a.dryRun, "dry-run", false, "print the signed action instead of submitting it")
	fs.DurationVar(&a.ttl, "expires", time.Hour, "how long the action stays valid")
}

// submit builds, signs and submits (or prints) an action.
func (a *actor) submit(kind string, body any) (*client.Outcome, error) {
	if a.key == "" {
		return nil, fmt.Errorf("--key FILE is required (a member's or operator's key file)")
	}
	k, err := setup.LoadKey(a.key)
	if err != nil {
		return nil, err
	}
	c := client.New(a.node)
	msg, err := c.Build(k.Signer, kind, body, a.ttl)
	if err != nil {
		return nil, err
	}
	if a.dryRun {
		os.Stdout.Write(msg)
		return nil, nil
	}
	o, err := c.Submit(msg)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// delegation reads the --ns, --glue, --ds and --affects flags.
type delegation struct{ ns, glue, ds, affects list }

func (d *delegation) flags(fs *flag.FlagSet) {
	fs.Var(&d.ns, "ns", "a name-server host (repeat, or comma-separate)")
	fs.Var(&d.glue, "glue", "HOST=IP[,IP...]... addresses of an in-bailiwick name server (repeat)")
	fs.Var(&d.ds, "ds", `a DS record "TAG ALG TYPE HEX" (repeat)`)
	fs.Var(&d.affects, "affects", "another TLD whose delegation this change touches (repeat)")
}

func (d *delegation) build(tld string) (*action.Delegate, error) {
	out := &action.Delegate{TLD: tld, NS: d.ns, DS: d.ds, Affects: d.affects}
	// --glue h=ip1 --glue h=ip2 and --glue h=ip1,ip2 both work (a comma
	// without "=" continues the previous host's list).
	var last *action.Glue
	for _, g := range d.glue {
		host, ip, ok := strings.Cut(g, "=")
		if !ok {
			if last == nil {
				return nil, fmt.Errorf("--glue %q: want HOST=IP", g)
			}
			last.Addrs = append(last.Addrs, g)
			continue
		}
		found := false
		for i := range out.Glue {
			if out.Glue[i].Host == host {
				out.Glue[i].Addrs = append(out.Glue[i].Addrs, ip)
				last, found = &out.Glue[i], true
			}
		}
		if !found {
			out.Glue = append(out.Glue, action.Glue{Host: host, Addrs: []string{ip}})
			last = &out.Glue[len(out.Glue)-1]
		}
	}
	return out, nil
}

func runDelegate(args []string) error {
	fs := flag.NewFlagSet("delegate", flag.ContinueOnError)
	var a actor
	var d delegation
	a.flags(fs)
	d.flags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return fmt.Errorf("usage: commonroot delegate --node URL --key FILE TLD --ns HOST... [--glue HOST=IP...] [--ds \"TAG ALG TYPE HEX\"...]")
	}
	d.ns = append(d.ns, pos[1:]...) // "--ns a. b." leaves b. positional
	body, err := d.build(pos[0])
	if err != nil {
		return err
	}
	o, err := a.submit(action.KindDelegate, body)
	if err != nil || o == nil {
		return err
	}
	fmt.Printf("accepted: log index %d, block %d\n", o.Index, o.Height)
	return nil
}

func runPropose(args []string) error {
	fs := flag.NewFlagSet("propose", flag.ContinueOnError)
	var a actor
	var d delegation
	a.flags(fs)
	d.flags(fs)
	rationale := fs.String("rationale", "", "why (public)")
	operator := fs.String("operator", "", "operator verifier key (tld.create, tld.transfer)")
	memberKey := fs.String("member-key", "", "the new member's verifier key (member.admit)")
	validator := fs.String("validator", "", "the new member's validator public key, base64 (member.admit)")
	legal := fs.String("legal-basis", "", "the legal basis of a restriction")
	evidence := fs.String("evidence", "", "a file of evidence: its SHA-256 is logged (restriction.impose)")
	evidenceHash := fs.String("evidence-sha256", "", "the evidence's SHA-256 in hex, instead of --evidence")
	duration := fs.String("duration", "", "how long a restriction lasts, e.g. 720h")
	threshold := fs.Int("threshold", 0, "how many members must sign with the zone key (key.generate)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return fmt.Errorf("usage: commonroot propose --node URL --key FILE KIND [ARGS...] (see commonroot help)")
	}
	kind, rest := pos[0], pos[1:]
	p := &action.Propose{Proposal: kind, Rationale: *rationale}
	arg := func(what string) (string, error) {
		if len(rest) < 1 {
			return "", fmt.Errorf("%s needs %s", kind, what)
		}
		return rest[0], nil
	}
	switch kind {
	case "tld.create", "tld.delete", "tld.transfer", "restriction.impose":
		if p.TLD, err = arg("a TLD"); err != nil {
			return err
		}
	case "member.admit", "member.remove":
		name, err := arg("a member name")
		if err != nil {
			return err
		}
		p.Member = &action.Member{Name: name, Key: *memberKey, Validator: *validator}
	case "restriction.lift":
		s, err := arg("a restriction id")
		if err != nil {
			return err
		}
		if p.Restriction, err = strconv.ParseUint(s, 10, 64); err != nil {
			return fmt.Errorf("restriction id %q is not a number", s)
		}
	case "key.generate", "key.roll":
		if *threshold < 2 {
			return fmt.Errorf("%s needs --threshold T (at least 2): how many members must cooperate to sign", kind)
		}
		p.Threshold = *threshold
	case "constitution.amend":
		f, err := arg("the amended constitution's file")
		if err != nil {
			return err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		p.Constitution = json.RawMessage(b)
	default:
		return fmt.Errorf("unknown proposal kind %q (see commonroot help)", kind)
	}
	switch kind {
	case "tld.create", "tld.transfer":
		p.Operator = *operator
	}
	if kind == "tld.create" && len(d.ns) > 0 {
		if p.Delegation, err = d.build(""); err != nil {
			return err
		}
	}
	if kind == "restriction.impose" {
		p.LegalBasis, p.Duration, p.Evidence = *legal, *duration, *evidenceHash
		if *evidence != "" {
			b, err := os.ReadFile(*evidence)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			p.Evidence = hex.EncodeToString(sum[:])
		}
	}
	o, err := a.submit(action.KindPropose, p)
	if err != nil || o == nil {
		return err
	}
	fmt.Println(o.Proposal)
	return nil
}

func runVote(args []string) error {
	fs := flag.NewFlagSet("vote", flag.ContinueOnError)
	var a actor
	a.flags(fs)
	rationale := fs.String("rationale", "", "why (public)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("usage: commonroot vote --node URL --key FILE PROPOSAL-ID yes|no|abstain")
	}
	id, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("proposal id %q is not a number", pos[0])
	}
	o, err := a.submit(action.KindVote, &action.Vote{Proposal: id, Vote: pos[1], Rationale: *rationale})
	if err != nil || o == nil {
		return err
	}
	fmt.Printf("accepted: log index %d, block %d\n", o.Index, o.Height)
	return nil
}

func runRespond(args []string) error {
	fs := flag.NewFlagSet("respond", flag.ContinueOnError)
	var a actor
	a.flags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return fmt.Errorf("usage: commonroot respond --node URL --key FILE RESTRICTION-ID TEXT")
	}
	id, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("restriction id %q is not a number", pos[0])
	}
	o, err := a.submit(action.KindRespond, &action.Respond{Restriction: id, Text: strings.Join(pos[1:], " ")})
	if err != nil || o == nil {
		return err
	}
	fmt.Printf("accepted: log index %d, block %d\n", o.Index, o.Height)
	return nil
}
