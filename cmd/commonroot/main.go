// Command commonroot runs and uses a federation that governs a DNS zone
// together: `commonroot dev` starts a whole local federation; `init` and
// `node` set up and run one member's node; `delegate`, `propose`, `vote`
// and `respond` sign and submit actions; `zone`, `status` and `verify` read
// and check what a node serves; `monitor` follows every node; `witness`
// runs a C2SP tlog witness.
package main

import (
	"fmt"
	"os"
	"strings"
)

const usage = `usage: commonroot COMMAND [ARGS]

Run a federation:
  dev      [--dir DIR] [--members N] [--dns ADDR] [--http ADDR]
           a whole local federation on loopback, seeded with the real root zone
  init     --member NAME --dir DIR [--p2p HOST:PORT]
           a founder's keys, made on its own host; prints its public part (DIR/public.json)
  constitution assemble --origin ORIGIN [--apex .] --ns NAME=IP... [--tlds FILE] [--rules FILE]
           [--voting-period D] --out constitution.json PUBLIC.json...
  constitution sign --key DIR/keys/NAME.key constitution.json [--add constitution.sigs]
  constitution merge --out constitution.sigs constitution.json SIGNATURE...
  constitution check constitution.json constitution.sigs
  node     --config FILE    run one member's node (see docs/design.md, "Running a member node")
  init     --dir DIR --origin ORIGIN --members a,b,c,d [--apex .] --ns NAME=IP...
           a whole federation in one directory (all keys in one place: tests and demos)

Act (each signs with --key FILE and submits to --node URL; --dry-run prints the action):
  delegate TLD --ns HOST... [--glue HOST=IP...] [--ds "TAG ALG TYPE HEX"...] [--affects TLD...]
  propose  KIND [ARGS...]    prints the proposal id; KIND is one of
           tld.create TLD --operator VKEY [--ns ... --glue ... --ds ...]
           tld.delete TLD | tld.transfer TLD --operator VKEY
           member.admit NAME --member-key VKEY --validator BASE64 | member.remove NAME
           restriction.impose TLD --legal-basis TEXT --evidence FILE --duration 720h
           restriction.lift ID | constitution.amend FILE
           key.generate --threshold T    (a zone key no fewer than T members can sign with)
           key.roll --threshold T        (a new zone key, rolled over to on the constitution's timing)
           (all take --rationale TEXT)
  vote     PROPOSAL-ID yes|no|abstain [--rationale TEXT]
  respond  RESTRICTION-ID TEXT

Read and check:
  status   --node URL
  zone     export --node URL           the master file on stdout
           ds --node URL               the DS of the zone key and the trust-anchor line for resolvers
  verify   --node URL --dns ADDR --constitution FILE [--quorum K] [--state FILE]
           [--witness VKEY... [--witness-quorum M]]
  monitor  --node URL... [--dns ADDR...] --constitution FILE [--quorum K] [--once [--wait 60s]]
           [--interval 2s] [--metrics ADDR]
           follows every node; the n-th --dns is the n-th node's DNS (or - for none)
  keys     generate NAME --out FILE    prints the verifier key
  keys     public FILE

Witness (c2sp.org/tlog-witness):
  witness  key NAME --out FILE         a cosigner key; prints its verifier key (type 0x04)
  witness  serve --key FILE --log ORIGIN=VKEY,VKEY,...[:K]... --addr ADDR --state DIR
           cosigns each log's checkpoints signed by K of its keys (default more than 2/3)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "dev":
		err = runDev(args)
	case "init":
		err = runInit(args)
	case "node":
		err = runNode(args)
	case "constitution":
		err = runConstitution(args)
	case "delegate":
		err = runDelegate(args)
	case "propose":
		err = runPropose(args)
	case "vote":
		err = runVote(args)
	case "respond":
		err = runRespond(args)
	case "status":
		err = runStatus(args)
	case "zone":
		err = runZone(args)
	case "verify":
		err = runVerify(args)
	case "keys":
		err = runKeys(args)
	case "witness":
		err = runWitness(args)
	case "monitor":
		err = runMonitor(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "commonroot: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "commonroot %s: %s\n", cmd, strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
