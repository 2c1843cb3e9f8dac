package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/verify"
	"github.com/miekg/dns"
)

func runStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	nodeURL := fs.String("node", "http://127.0.0.1:8053", "the node's HTTP API")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	b, err := client.New(*nodeURL).Get("/v1/status")
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	fmt.Println(string(out))
	return nil
}

func runZone(args []string) error {
	if len(args) >= 1 && args[0] == "ds" {
		return runZoneDS(args[1:])
	}
	if len(args) < 1 || args[0] != "export" {
		return fmt.Errorf("usage: commonroot zone export --node URL | commonroot zone ds --node URL")
	}
	fs := flag.NewFlagSet("zone export", flag.ContinueOnError)
	nodeURL := fs.String("node", "http://127.0.0.1:8053", "the node's HTTP API")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	b, err := client.New(*nodeURL).Get("/v1/zone")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(b)
	return err
}

// runZoneDS prints the DS of the zone's threshold key and the same DS as
// an unbound trust-anchor line. It computes them from the group key itself
// (not from the DS text the node offers) and checks that the node's key
// is the one its log recorded.
func runZoneDS(args []string) error {
	fs := flag.NewFlagSet("zone ds", flag.ContinueOnError)
	nodeURL := fs.String("node", "http://127.0.0.1:8053", "the node's HTTP API")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var keys api.KeysAnswer
	if err := client.New(*nodeURL).GetJSON("/v1/keys", &keys); err != nil {
		return err
	}
	zk := keys.ZoneKey
	if zk == nil {
		return fmt.Errorf("the federation at %s has no zone key yet (propose key.generate)", *nodeURL)
	}
	pub, err := base64.StdEncoding.DecodeString(zk.GroupKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("the node's group key %q is not a base64 Ed25519 key", zk.GroupKey)
	}
	rr, err := dns.NewRR(zk.DNSKEY)
	dk, ok := rr.(*dns.DNSKEY)
	if err != nil || !ok || dk.PublicKey != zk.GroupKey {
		return fmt.Errorf("the node's DNSKEY %q is not its group key %q", zk.DNSKEY, zk.GroupKey)
	}
	ds, ta, err := dnssec.DSLines(dnssec.Key{Public: pub}, dk.Hdr.Name)
	if err != nil {
		return err
	}
	if zk.DS != "" && zk.DS != ds {
		return fmt.Errorf("the node's DS %q is not the DS of its own group key (%q)", zk.DS, ds)
	}
	fmt.Println(ds)
	fmt.Println(ta)
	return nil
}

func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	nodeURL := fs.String("node", "http://127.0.0.1:8053", "the node's HTTP API")
	dnsAddr := fs.String("dns", "127.0.0.1:5353", "the node's DNS address")
	cpath := fs.String("constitution", "", "the federation's constitution")
	quorum := fs.Int("quorum", 0, "member signatures the checkpoint needs (default: more than 2/3)")
	state := fs.String("state", "", "a file keeping the last verified checkpoint: the next run checks consistency with it")
	var witnesses list
	fs.Var(&witnesses, "witness", "a witness's cosignature verifier key (repeatable)")
	witnessQuorum := fs.Int("witness-quorum", 0, "witness cosignatures the checkpoint needs (default 1 with --witness)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *cpath == "" {
		return fmt.Errorf("usage: commonroot verify --node URL --dns ADDR --constitution FILE [--quorum K]")
	}
	doc, err := os.ReadFile(*cpath)
	if err != nil {
		return err
	}
	c, err := constitution.Parse(doc)
	if err != nil {
		return err
	}
	if *witnessQuorum > 0 && len(witnesses) == 0 {
		return fmt.Errorf("--witness-quorum %d without any --witness key", *witnessQuorum)
	}
	o := verify.Options{Node: *nodeURL, DNS: *dnsAddr, Constitution: c, Quorum: *quorum, Witnesses: witnesses, WitnessQuorum: *witnessQuorum}
	if *state != "" {
		if prev, err := os.ReadFile(*state); err == nil {
			o.Previous = prev
		}
	}
	r, err := verify.Run(o)
	if err != nil {
		return fmt.Errorf("FAILED: %v", err)
	}
	fmt.Printf("ok: log size %d signed by %v; zone serial %d (%d records) has ZONEMD %s, as log entry %d records\n",
		r.Size, r.Signers, r.Serial, r.Records, r.ZONEMD, r.VersionIndex)
	if len(r.Witnesses) > 0 {
		fmt.Printf("ok: cosigned by the witnesses %v\n", r.Witnesses)
	}
	if *state != "" {
		if err := os.WriteFile(*state, r.Checkpoint, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func runKeys(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: commonroot keys generate NAME --out FILE | keys public FILE")
	}
	switch args[0] {
	case "generate":
		fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
		out := fs.String("out", "", "the key file to write")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *out == "" {
			return fmt.Errorf("usage: commonroot keys generate NAME --out FILE")
		}
		k, err := setup.NewKey(pos[0])
		if err != nil {
			return err
		}
		if err := setup.WriteKey(*out, k); err != nil {
			return err
		}
		fmt.Println(k.Verifier)
	case "public":
		if len(args) != 2 {
			return fmt.Errorf("usage: commonroot keys public FILE")
		}
		k, err := setup.LoadKey(args[1])
		if err != nil {
			return err
		}
		fmt.Println(k.Verifier)
	default:
		return fmt.Errorf("unknown keys command %q", args[0])
	}
	return nil
}
