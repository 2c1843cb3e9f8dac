package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/setup"
)

func runDev(args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dir := fs.String("dir", "commonroot-dev", "the federation's directory (created on first run, reused after)")
	members := fs.Int("members", 4, "how many members (first run only)")
	dnsAddr := fs.String("dns", "127.0.0.1:5353", "the first member's DNS address")
	httpAddr := fs.String("http", "127.0.0.1:8053", "the first member's HTTP address")
	verbose := fs.Bool("v", false, "log consensus details")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := os.Stat(setup.ConstitutionPath(*dir)); os.IsNotExist(err) {
		fmt.Printf("creating a federation of %d members in %s, importing the root zone...\n", *members, *dir)
		if _, err := localfed.CreateDev(*dir, *members); err != nil {
			return err
		}
	} else if fs.Lookup("members").Value.String() != "4" {
		fmt.Fprintf(os.Stderr, "note: %s exists; --members applies only to a new federation\n", *dir)
	}
	var comet *os.File
	if *verbose {
		comet = os.Stderr
	}
	start := time.Now()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	opts := localfed.Options{Dir: *dir, HTTP: *httpAddr, DNS: *dnsAddr, AllowTransfer: loopback, Logger: logger}
	if comet != nil {
		opts.CometLog = comet
	}
	f, err := localfed.Start(opts)
	if err != nil {
		return err
	}
	defer f.Stop()
	if err := f.WaitReady(60 * time.Second); err != nil {
		return err
	}
	fmt.Printf("federation %s (apex %q) ready in %s\n", f.Constitution.Origin, f.Constitution.Apex, time.Since(start).Round(time.Millisecond))
	fmt.Printf("constitution: %s\n", setup.ConstitutionPath(*dir))
	for _, m := range f.Constitution.Members {
		n := f.Nodes[m.Name]
		fmt.Printf("  %-8s http %-24s dns %-22s key %s\n", m.Name, "http://"+n.HTTPAddr(), n.DNSAddr(), setup.MemberKeyPath(*dir, m.Name))
	}
	fmt.Printf("operator keys: %s\n", strings.TrimSuffix(setup.OperatorKeyPath(*dir, "com."), "com.key"))
	first := f.Nodes[f.Constitution.Members[0].Name]
	fmt.Printf("try: kdig @%s -p %s com. NS\n", hostOf(first.DNSAddr()), portOf(first.DNSAddr()))
	fmt.Println("stop with Ctrl-C")
	wait()
	fmt.Println("stopping")
	return nil
}

func wait() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}

func hostOf(addr string) string { h, _, _ := strings.Cut(addr, ":"); return h }
func portOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	return addr[i+1:]
}

func runInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	dir := fs.String("dir", "", "the new federation's directory")
	origin := fs.String("origin", "", "the log origin, e.g. example.org/federation")
	apex := fs.String("apex", ".", "the governed zone")
	member := fs.String("member", "", "a founding member's name: make its keys in --dir on this host (the founding ceremony)")
	p2p := fs.String("p2p", "", "with --member: the node's consensus address HOST:PORT, written to its public part")
	var members, ns, operators list
	fs.Var(&members, "members", "member names, comma-separated (a whole federation in one directory, for tests and demos)")
	fs.Var(&ns, "ns", "an apex name server NAME=IP[,IP] (repeat)")
	fs.Var(&operators, "operator", "also make an operator key named for this TLD (repeat)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *member != "" {
		if len(members) > 0 || *origin != "" || len(ns) > 0 {
			return fmt.Errorf("--member makes one founder's keys; --members, --origin and --ns belong to a whole federation in one directory")
		}
		return runInitMember(*member, *dir, *p2p)
	}
	if *dir == "" || *origin == "" || len(members) == 0 {
		return fmt.Errorf("usage: commonroot init --member NAME --dir DIR [--p2p HOST:PORT]\n   or: commonroot init --dir DIR --origin ORIGIN --members a,b,c,d --ns NAME=IP")
	}
	var hosts []constitution.Host
	for _, spec := range ns {
		name, addrs, _ := strings.Cut(spec, "=")
		h := constitution.Host{Name: name}
		if addrs != "" {
			h.Addrs = strings.Split(addrs, ";")
		}
		hosts = append(hosts, h)
	}
	c, err := setup.Create(setup.Options{Dir: *dir, Origin: *origin, Apex: *apex, Members: members, Genesis: time.Now().UTC().Truncate(time.Second), NameServers: hosts})
	if err != nil {
		return err
	}
	for _, t := range operators {
		k, err := setup.NewKey(setup.OperatorName(t))
		if err != nil {
			return err
		}
		if err := setup.WriteKey(setup.OperatorKeyPath(*dir, t), k); err != nil {
			return err
		}
		fmt.Printf("operator key for %s: %s\n", t, k.Verifier)
	}
	fmt.Printf("wrote %s (chain %s) with %d members\n", setup.ConstitutionPath(*dir), c.ChainID(), len(c.Members))
	return nil
}
