package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/strictjson"
	"github.com/commonroot/commonroot/setup"
)

// The founding ceremony across machines (docs/design.md, "Founding a
// federation"): `init --member` on each founder's host, `constitution
// assemble` of the public parts, `constitution sign` by each founder,
// `constitution merge` of the signatures into constitution.sigs.

// runInitMember makes one founder's keys on its own host.
func runInitMember(member, dir, p2p string) error {
	if dir == "" {
		return errors.New("usage: commonroot init --member NAME --dir DIR [--p2p HOST:PORT]")
	}
	if p2p != "" {
		if err := checkHostPort(p2p); err != nil {
			return fmt.Errorf("--p2p %q: %v", p2p, err)
		}
	}
	p, err := setup.InitMember(dir, member, p2p)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	fmt.Printf("%s\n", b)
	fmt.Fprintf(os.Stderr, "member %q initialised in %s: private keys in %s and %s (they never leave this host);\nsend the public part above (also in %s) to whoever assembles the constitution\n",
		member, dir, setup.MemberDirKey(dir, member), filepath.Join(setup.MemberDirHome(dir), "config"), setup.MemberDirPublic(dir))
	return nil
}

func checkHostPort(s string) error {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return errors.New("want HOST:PORT")
	}
	return nil
}

const constitutionUsage = `usage:
  commonroot constitution assemble --origin ORIGIN [--apex APEX] --ns NAME=IP[,IP]... [--tlds FILE] [--rules FILE]
                                   [--voting-period D] [--genesis TIME] --out constitution.json PUBLIC.json...
  commonroot constitution sign --key KEYFILE constitution.json [--add constitution.sigs]
  commonroot constitution merge --out constitution.sigs constitution.json SIGNATURE...
  commonroot constitution check constitution.json constitution.sigs`

func runConstitution(args []string) error {
	if len(args) == 0 {
		return errors.New(constitutionUsage)
	}
	switch args[0] {
	case "assemble":
		return runAssemble(args[1:])
	case "sign":
		return runSignConstitution(args[1:])
	case "merge":
		return runMergeSigs(args[1:])
	case "check":
		return runCheckSigs(args[1:])
	}
	return fmt.Errorf("unknown constitution command %q\n%s", args[0], constitutionUsage)
}

// hosts reads NAME=IP[,IP] specs; a value without "=" continues the
// previous host's addresses (the list flag splits at commas).
func hosts(specs []string) ([]constitution.Host, error) {
	var out []constitution.Host
	for _, s := range specs {
		name, ip, ok := strings.Cut(s, "=")
		if !ok {
			if len(out) == 0 {
				return nil, fmt.Errorf("--ns %q: want NAME=IP", s)
			}
			out[len(out)-1].Addrs = append(out[len(out)-1].Addrs, s)
			continue
		}
		h := constitution.Host{Name: name}
		if ip != "" {
			h.Addrs = []string{ip}
		}
		out = append(out, h)
	}
	return out, nil
}

func runAssemble(args []string) error {
	fs := flag.NewFlagSet("constitution assemble", flag.ContinueOnError)
	origin := fs.String("origin", "", "the log origin, e.g. example.org/federation")
	apex := fs.String("apex", ".", "the governed zone")
	out := fs.String("out", "", "the constitution file to write")
	founders := fs.String("founders", "", "where to write the founders' public parts (default founders.json next to --out)")
	tlds := fs.String("tlds", "", "a JSON file: the genesis TLDs, an array in the constitution's \"tlds\" form")
	rules := fs.String("rules", "", "a JSON file: the rules, an object in the constitution's \"rules\" form (default: the standard rules)")
	votingPeriod := fs.Duration("voting-period", 0, "replace every rule's voting period")
	genesis := fs.String("genesis", "", "the genesis time, RFC 3339 (default: now)")
	var ns list
	fs.Var(&ns, "ns", "an apex name server NAME=IP[,IP] (repeat)")
	pubs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *origin == "" || *out == "" || len(ns) == 0 || len(pubs) == 0 {
		return errors.New(constitutionUsage)
	}
	o := setup.AssembleOptions{Origin: *origin, Apex: *apex, VotingPeriod: *votingPeriod, Genesis: time.Now().UTC().Truncate(time.Second)}
	if *genesis != "" {
		if o.Genesis, err = time.Parse(time.RFC3339, *genesis); err != nil {
			return fmt.Errorf("--genesis %q: %v", *genesis, err)
		}
	}
	if o.NameServers, err = hosts(ns); err != nil {
		return err
	}
	if *tlds != "" {
		if err := readStrict(*tlds, &o.TLDs); err != nil {
			return err
		}
	}
	if *rules != "" {
		if err := readStrict(*rules, &o.Rules); err != nil {
			return err
		}
	}
	var parts []setup.Public
	for _, f := range pubs {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		p, err := setup.ParsePublic(b)
		if err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
		parts = append(parts, *p)
	}
	c, err := setup.Assemble(o, parts)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: refusing to overwrite a constitution", *out)
	}
	if err := os.WriteFile(*out, c.Bytes, 0o644); err != nil {
		return err
	}
	if *founders == "" {
		*founders = filepath.Join(filepath.Dir(*out), "founders.json")
	}
	fb, _ := json.MarshalIndent(parts, "", "  ")
	if err := os.WriteFile(*founders, append(fb, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d founders, chain %s) and %s\n", *out, len(c.Members), c.ChainID(), *founders)
	fmt.Printf("each founder now signs it: commonroot constitution sign --key DIR/keys/NAME.key %s\n", *out)
	fmt.Printf("the text they sign:\n%s", setup.ConstitutionSigText(c))
	return nil
}

func readStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := strictjson.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

func readConstitution(path string) (*constitution.Constitution, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := constitution.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return c, nil
}

func runSignConstitution(args []string) error {
	fs := flag.NewFlagSet("constitution sign", flag.ContinueOnError)
	key := fs.String("key", "", "the founder's member key file (DIR/keys/NAME.key)")
	add := fs.String("add", "", "also merge the signature into this signatures file (created if missing)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *key == "" || len(pos) != 1 {
		return errors.New(constitutionUsage)
	}
	c, err := readConstitution(pos[0])
	if err != nil {
		return err
	}
	k, err := setup.LoadKey(*key)
	if err != nil {
		return err
	}
	sig, err := setup.SignConstitution(c, k.Signer)
	if err != nil {
		return err
	}
	if *add != "" {
		notes := [][]byte{sig}
		if b, err := os.ReadFile(*add); err == nil {
			notes = append(notes, b)
		} else if !os.IsNotExist(err) {
			return err
		}
		merged, err := setup.MergeConstitutionSigs(c, notes...)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*add, merged, 0o644); err != nil {
			return err
		}
	}
	os.Stdout.Write(sig)
	return nil
}

func runMergeSigs(args []string) error {
	fs := flag.NewFlagSet("constitution merge", flag.ContinueOnError)
	out := fs.String("out", "", "the signatures file to write (its signatures, if any, are kept)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) < 2 {
		return errors.New(constitutionUsage)
	}
	c, err := readConstitution(pos[0])
	if err != nil {
		return err
	}
	var notes [][]byte
	if b, err := os.ReadFile(*out); err == nil {
		notes = append(notes, b)
	}
	for _, f := range pos[1:] {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		notes = append(notes, b)
	}
	merged, err := setup.MergeConstitutionSigs(c, notes...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, merged, 0o644); err != nil {
		return err
	}
	var missing *setup.MissingSignaturesError
	if err := setup.CheckConstitutionSigs(c, merged); errors.As(err, &missing) {
		fmt.Printf("wrote %s: %d of %d founders signed; %v\n", *out, len(c.Members)-len(missing.Founders), len(c.Members), err)
		return nil
	}
	return reportSigs(c, merged)
}

func runCheckSigs(args []string) error {
	fs := flag.NewFlagSet("constitution check", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New(constitutionUsage)
	}
	c, err := readConstitution(pos[0])
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	return reportSigs(c, b)
}

func reportSigs(c *constitution.Constitution, sigs []byte) error {
	if err := setup.CheckConstitutionSigs(c, sigs); err != nil {
		return err
	}
	fmt.Printf("all %d founders signed the constitution (chain %s)\n", len(c.Members), c.ChainID())
	return nil
}
