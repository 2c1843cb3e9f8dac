// Command dnsbench is the commonroot side of bench/dns.sh: it serves a
// master file with the dnsserver package, and generates the inputs of the
// benchmark (a zone of many delegations, a dnsperf query file).
//
//	dnsbench serve -zone FILE [-origin .] [-addr 127.0.0.1:5300]
//	dnsbench gen -n 1000000 [-serial N] > zone
//	dnsbench queries -zone FILE -n 1000000 [-missing 0.2] [-seed 1] > queries
package main

import (
	"bufio"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/miekg/dns"
)

const usage = `usage:
  dnsbench serve -zone FILE [-origin .] [-addr 127.0.0.1:5300]
  dnsbench gen -n COUNT [-serial N] > zone
  dnsbench queries -zone FILE -n COUNT [-missing 0.2] [-seed 1] > queries
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "gen":
		err = gen(os.Args[2:], os.Stdout)
	case "queries":
		err = queries(os.Args[2:], os.Stdout)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dnsbench: %v\n", err)
		os.Exit(1)
	}
}

// zone is a dnsserver.Zone read from a master file, SOA first.
type zone struct {
	origin string
	rrs    []dns.RR
}

func (z *zone) Origin() string    { return z.origin }
func (z *zone) Serial() uint32    { return z.rrs[0].(*dns.SOA).Serial }
func (z *zone) Records() []dns.RR { return z.rrs }

func readZone(path, origin string) (*zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(bufio.NewReaderSize(f, 1<<20), origin, path)
	z := &zone{origin: origin}
	soa := -1
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if _, isSOA := rr.(*dns.SOA); isSOA && soa < 0 {
			soa = len(z.rrs)
		}
		z.rrs = append(z.rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("reading zone %q: %v", path, err)
	}
	if soa < 0 {
		return nil, fmt.Errorf("zone %q has no SOA", path)
	}
	z.rrs[0], z.rrs[soa] = z.rrs[soa], z.rrs[0]
	return z, nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	path := fs.String("zone", "", "master file to serve")
	origin := fs.String("origin", ".", "zone origin")
	addr := fs.String("addr", "127.0.0.1:5300", "UDP and TCP address")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the serving time to this file")
	fs.Parse(args)
	z, err := readZone(*path, dns.Fqdn(*origin))
	if err != nil {
		return err
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "dnsbench: heap in use %d MiB with the records read\n", ms.HeapInuse>>20)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dnsserver.New(dnsserver.Config{
		Addr:          *addr,
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Logger:        log,
	})
	if err != nil {
		return err
	}
	if err := s.Publish(z); err != nil {
		return err
	}
	// The server keeps its own compact copy of the zone: drop the parsed
	// records and give back what they and parsing the master file held, so
	// that resident memory measures what serving needs.
	records, serial := len(z.rrs), z.Serial()
	z = nil
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "dnsbench: heap in use %d MiB after Publish\n", ms.HeapInuse>>20)
	if err := s.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dnsbench: serving %s (%d records, serial %d) on %s\n", *origin, records, serial, s.Addr())
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return s.Close()
}

// label returns the i-th delegation label: 6 to 12 letters and digits,
// the same for every run.
func label(i int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "delegation %d", i))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	n := 6 + int(h[0])%7
	b := make([]byte, n)
	for j := range b {
		b[j] = alphabet[int(h[j+1])%len(alphabet)]
	}
	if b[0] >= '0' && b[0] <= '9' {
		b[0] = 'x'
	}
	return fmt.Sprintf("%s%d", b, i)
}

// gen writes a root-like zone of n delegations: two NS each, out of zone
// for 90% of them and in-bailiwick with A and AAAA glue for the others, a
// DS for half of them.
func gen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	n := fs.Int("n", 1000000, "delegations")
	serial := fs.Uint("serial", 2026010100, "SOA serial")
	fs.Parse(args)
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintf(w, ".\t86400\tIN\tSOA\ta.root-servers.net. nstld.verisign-grs.com. %d 1800 900 604800 86400\n", *serial)
	for _, l := range "abcdefghijklm" {
		fmt.Fprintf(w, ".\t518400\tIN\tNS\t%c.root-servers.net.\n", l)
	}
	for i := range *n {
		name := label(i) + "."
		if i%10 == 0 {
			for k := 1; k <= 2; k++ {
				fmt.Fprintf(w, "%s\t172800\tIN\tNS\tns%d.%s\n", name, k, name)
			}
		} else {
			for k := 1; k <= 2; k++ {
				fmt.Fprintf(w, "%s\t172800\tIN\tNS\tns%d.host%d.example.net.\n", name, k, (i*2+k)%5000)
			}
		}
		if i%2 == 0 {
			h := sha256.Sum256([]byte(name))
			fmt.Fprintf(w, "%s\t86400\tIN\tDS\t%d 13 2 %X\n", name, 1000+i%60000, h)
		}
		if i%10 == 0 {
			for k := 1; k <= 2; k++ {
				fmt.Fprintf(w, "ns%d.%s\t172800\tIN\tA\t10.%d.%d.%d\n", k, name, (i>>16)&255, (i>>8)&255, (i+k)&255)
				fmt.Fprintf(w, "ns%d.%s\t172800\tIN\tAAAA\t2001:db8:%x:%x::%d\n", k, name, i>>16, i&0xffff, k)
			}
		}
	}
	for _, l := range "abcdefghijklm" {
		fmt.Fprintf(w, "%c.root-servers.net.\t518400\tIN\tA\t198.41.0.%d\n", l, l-'a'+4)
	}
	return w.Flush()
}

// queries writes n dnsperf queries for the zone: a share missing of
// names that do not exist (NXDOMAIN), the others for delegations (A below
// the delegation, its NS or its DS, in turn) and the apex (SOA, DNSKEY).
func queries(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("queries", flag.ExitOnError)
	path := fs.String("zone", "", "master file")
	n := fs.Int("n", 1000000, "queries")
	missing := fs.Float64("missing", 0.2, "share of names that do not exist")
	seed := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	z, err := readZone(*path, ".")
	if err != nil {
		return err
	}
	var cuts []string
	seen := map[string]bool{}
	for _, rr := range z.rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeNS && h.Name != "." && !seen[h.Name] {
			seen[h.Name] = true
			cuts = append(cuts, strings.ToLower(h.Name))
		}
	}
	if len(cuts) == 0 {
		return fmt.Errorf("zone %q has no delegations", *path)
	}
	r := rand.New(rand.NewPCG(*seed, 0))
	w := bufio.NewWriterSize(out, 1<<20)
	for i := range *n {
		if r.Float64() < *missing {
			fmt.Fprintf(w, "nx%x%d. A\n", r.Uint32(), i)
			continue
		}
		c := cuts[r.IntN(len(cuts))]
		switch i % 10 {
		case 0:
			fmt.Fprintf(w, "%s NS\n", c)
		case 1:
			fmt.Fprintf(w, "%s DS\n", c)
		case 2:
			if i%20 == 2 {
				fmt.Fprintf(w, ". SOA\n")
			} else {
				fmt.Fprintf(w, ". DNSKEY\n")
			}
		default:
			fmt.Fprintf(w, "www.%s A\n", c)
		}
	}
	return w.Flush()
}
