//go:build hostile

package main

// A hostile member's node, for the multi-process tests of package fedtest
// (go build -tags hostile): the released command has none of this.
// COMMONROOT_HOSTILE lists what the node does, comma-separated:
//
//   - equivocate: its vote extensions sign a checkpoint with a wrong root
//     (the others must catch it and log the two notes as evidence);
//   - flood=N: its mempool admits every transaction, and it broadcasts N
//     invalid actions a second (validly signed by its member key but out
//     of sequence, with a broken signature, or bytes that are no action at
//     all, in turn), which it gossips to the others and puts in the blocks
//     it proposes.

import (
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/node"
)

func init() { afterStart = hostile }

func hostile(n *node.Node, cfg node.Config) {
	spec := os.Getenv("COMMONROOT_HOSTILE")
	for _, part := range strings.Split(spec, ",") {
		switch name, arg, _ := strings.Cut(part, "="); name {
		case "":
		case "equivocate":
			n.App().SetEquivocate(true)
			cfg.Logger.Warn("hostile: signing wrong checkpoints")
		case "flood":
			rate, err := strconv.Atoi(arg)
			if err != nil || rate <= 0 {
				fmt.Fprintf(os.Stderr, "COMMONROOT_HOSTILE: flood=%q is not a positive rate\n", arg)
				os.Exit(2)
			}
			n.App().SetAdmitAll(true)
			cfg.Logger.Warn("hostile: flooding invalid actions", "per_second", rate)
			go flood(n, cfg, rate)
		default:
			fmt.Fprintf(os.Stderr, "COMMONROOT_HOSTILE: unknown behaviour %q\n", name)
			os.Exit(2)
		}
	}
}

// flood broadcasts rate invalid actions a second, in ticks of 10 ms.
func flood(n *node.Node, cfg node.Config, rate int) {
	tld := "flood."
	if len(cfg.Constitution.TLDs) > 0 {
		tld = cfg.Constitution.TLDs[0].Name
	}
	var sent, refused int
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	report := time.Now()
	for i := 0; ; {
		<-tick.C
		due := int(time.Since(start).Seconds()*float64(rate)) - sent
		for ; due > 0; due-- {
			tx := invalidAction(cfg, tld, i)
			i++
			sent++
			if err := n.Broadcast(tx); err != nil {
				refused++
			}
		}
		if time.Since(report) > 10*time.Second {
			cfg.Logger.Warn("hostile: flood", "sent", sent, "refused_by_own_mempool", refused)
			report = time.Now()
		}
	}
}

// invalidAction is the i-th flood action: each is distinct (the mempool
// cache would drop a repeat) and none can be accepted.
func invalidAction(cfg node.Config, tld string, i int) []byte {
	if i%3 == 2 {
		junk := make([]byte, 256)
		rand.Read(junk)
		return junk
	}
	msg, err := action.Sign(action.Action{
		Origin: cfg.Constitution.Origin, Signer: cfg.Member, Seq: 1<<40 + uint64(i),
		Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:    action.KindDelegate, Body: &action.Delegate{TLD: tld, NS: []string{"flood.example.", fmt.Sprintf("f%d.example.", i)}},
	}, cfg.Key)
	if err != nil {
		panic(err)
	}
	if i%3 == 1 { // break the signature: change a base64 digit inside it
		j := len(msg) - 20
		if msg[j] == 'A' {
			msg[j] = 'B'
		} else {
			msg[j] = 'A'
		}
	}
	return msg
}
