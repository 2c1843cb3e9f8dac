package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/translog"
)

// TestWalkthrough runs the README's walk-through against a real `commonroot
// dev` process: every command is taken as written in README.md (the test
// fails if the README no longer has it), with only the ports and the paths
// of the Debian tools substituted. Then the dev process is interrupted and
// restarted on the same directory, and what was committed is still served.
func TestWalkthrough(t *testing.T) {
	readme := walkthroughSection(t)
	work := t.TempDir()
	bin := filepath.Join(work, "commonroot")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dnsAddr, httpAddr := testtool.FreeAddr(t), testtool.FreeAddr(t)
	_, dnsPort, _ := net.SplitHostPort(dnsAddr)
	devArgs := []string{"dev", "--dir", "commonroot-dev", "--dns", dnsAddr, "--http", httpAddr}
	dev := startDev(t, work, bin, devArgs)
	tools := map[string]string{}
	for _, name := range []string{"kdig", "named-checkzone", "ldns-verify-zone"} {
		tools[name] = testtool.Path(t, name)
	}

	// sh runs one README command in work with bash, after the README's
	// first line (D=... N=...) and the variables set so far.
	vars := ""
	// after, if given, is more script run after cmd (not from the README).
	sh := func(cmd string, after ...string) (stdout, stderr string, code int) {
		t.Helper()
		if !strings.Contains(readme, cmd) {
			t.Fatalf("the README walk-through no longer has the command\n%s", cmd)
		}
		script := vars + "\n" + cmd + "\n" + strings.Join(after, "\n")
		script = strings.ReplaceAll(script, "127.0.0.1:8053", httpAddr)
		script = strings.ReplaceAll(script, "127.0.0.1:5353", dnsAddr)
		script = strings.ReplaceAll(script, "-p 5353", "-p "+dnsPort)
		for name, path := range tools {
			script = regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+` `).ReplaceAllString(script, path+" ")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "bash", "-c", "set -eo pipefail\n"+script)
		c.Dir = work
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("running %q: %v", cmd, err)
		}
		return o.String(), e.String(), code
	}
	// ok runs cmd and fails the test unless it exits 0.
	ok := func(cmd string, after ...string) string {
		t.Helper()
		stdout, stderr, code := sh(cmd, after...)
		if code != 0 {
			t.Fatalf("%s\nexit status %d\nstdout:\n%s\nstderr:\n%s", cmd, code, stdout, stderr)
		}
		return stdout
	}

	vars = "D=commonroot-dev N=http://127.0.0.1:8053"
	ok(vars)

	// A new operator key; its verifier key is printed.
	out := ok(`./commonroot keys generate op-example --out $D/keys/operators/example.key   # prints its verifier key`)
	opKey := strings.TrimSpace(out)
	opVerifier, err := note.NewVerifier(opKey)
	if err != nil || opVerifier.Name() != "op-example" {
		t.Fatalf("keys generate printed %q: not a verifier key of op-example (%v)", out, err)
	}

	// The proposal; its id is what propose prints.
	out = ok(`id=$(./commonroot propose --node $N --key $D/keys/alpha.key tld.create example. \
      --operator "$(./commonroot keys public $D/keys/operators/example.key)" \
      --ns ns1.example. --ns a.gtld-servers.net. --glue ns1.example.=192.0.2.53 \
      --rationale "a TLD for documentation")`, `echo "$id"`)
	id, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("propose printed %q, want a proposal id", out)
	}
	vars += fmt.Sprintf("\nid=%d", id)

	out = ok(`for m in alpha bravo charlie; do ./commonroot vote --node $N --key $D/keys/$m.key $id yes; done`)
	if got := strings.Count(out, "accepted: log index "); got != 3 {
		t.Fatalf("votes printed\n%s\nwant 3 accepted", out)
	}

	// The referral for the new TLD, with its glue.
	// The node publishes a committed zone a moment after the commit that
	// answered the vote, so kdig may need a second try.
	kdig := func(wantNS string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			out := ok(`kdig @127.0.0.1 -p 5353 www.example. A`)
			got := kdigSection(out, "AUTHORITY", "NS")
			if got == wantNS {
				if !strings.Contains("|"+kdigSection(out, "ADDITIONAL", "A")+"|", "|ns1.example. A 192.0.2.53|") {
					t.Fatalf("kdig www.example. A: no glue ns1.example. A 192.0.2.53 in\n%s", out)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("kdig www.example. A: authority %q, want %q\n%s", got, wantNS, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	kdig("example. NS a.gtld-servers.net.|example. NS ns1.example.")

	out = ok(`./commonroot delegate --node $N --key $D/keys/operators/example.key example. --ns ns1.example. --ns b.gtld-servers.net.`)
	if !strings.HasPrefix(out, "accepted: log index ") {
		t.Fatalf("delegate printed %q", out)
	}

	// The operator of example. may not touch com.
	stdout, stderr, code := sh(`./commonroot delegate --node $N --key $D/keys/operators/example.key com. --ns ns1.example. --ns b.gtld-servers.net.`)
	if want := `commonroot delegate: rejected: "op-example" may not change "com."`; code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Fatalf("forbidden delegate: exit status %d, stdout %q, stderr %q; want 1, nothing, and a message starting %q", code, stdout, stderr, want)
	}

	// verify, twice: the second run checks consistency with the first's
	// checkpoint.
	verifyCmd := `./commonroot verify --node $N --dns 127.0.0.1:5353 --constitution $D/constitution.json --state seen-checkpoint`
	var sizes []int64
	for i := 0; i < 2; i++ {
		waitCovered(t, "http://"+httpAddr)
		out = ok(verifyCmd)
		if !strings.HasPrefix(out, "ok: log size ") {
			t.Fatalf("verify printed %q", out)
		}
		sizes = append(sizes, savedSize(t, filepath.Join(work, "seen-checkpoint")))
	}
	if sizes[1] < sizes[0] {
		t.Fatalf("verify saved checkpoints of sizes %v", sizes)
	}

	// The exported zone passes BIND's and ldns's checks (ZONEMD included)
	// and holds the operator's change.
	ok(`./commonroot zone export --node $N > root.zone`)
	if out := ok(`named-checkzone -i local -k fail . root.zone`); !strings.Contains(out, "OK") {
		t.Fatalf("named-checkzone printed %q", out)
	}
	ok(`ldns-verify-zone -Z root.zone`)
	exported, err := os.ReadFile(filepath.Join(work, "root.zone"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^example\.\s+\d+\s+IN\s+NS\s+b\.gtld-servers\.net\.$`).Match(exported) {
		t.Fatalf("the exported zone has no example. NS b.gtld-servers.net.")
	}

	// --dry-run prints the signed action and submits nothing.
	seq := nextSeq(t, "http://"+httpAddr, "op-example")
	out = ok(`./commonroot delegate --dry-run --node $N --key $D/keys/operators/example.key example. --ns ns1.example. --ns c.gtld-servers.net.`)
	n, err := note.Open([]byte(out), note.VerifierList(opVerifier))
	if err != nil {
		t.Fatalf("--dry-run printed %q: not a note signed by op-example: %v", out, err)
	}
	var a struct {
		Signer string `json:"signer"`
		Seq    uint64 `json:"seq"`
		Kind   string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(n.Text), &a); err != nil || a.Signer != "op-example" || a.Kind != "delegate" || a.Seq != seq || !strings.Contains(n.Text, "c.gtld-servers.net.") {
		t.Fatalf("--dry-run note text %q (%v): want a delegate by op-example with seq %d naming c.gtld-servers.net.", n.Text, err, seq)
	}
	if got := nextSeq(t, "http://"+httpAddr, "op-example"); got != seq {
		t.Fatalf("after --dry-run op-example's next seq is %d, want %d (nothing submitted)", got, seq)
	}

	// Ctrl-C, then start again on the same directory: example. is still
	// served as its operator left it, and verify finds the log consistent
	// with the checkpoint it saved before.
	dev.interrupt(t)
	startDev(t, work, bin, devArgs)
	kdig("example. NS b.gtld-servers.net.|example. NS ns1.example.")
	waitCovered(t, "http://"+httpAddr)
	if out := ok(verifyCmd); !strings.HasPrefix(out, "ok: log size ") {
		t.Fatalf("verify after the restart printed %q", out)
	}
	if got := savedSize(t, filepath.Join(work, "seen-checkpoint")); got < sizes[1] {
		t.Fatalf("after the restart the log has %d entries, before it had %d", got, sizes[1])
	}
}

// walkthroughSection returns the README's "Walk-through" section.
func walkthroughSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, s, found := strings.Cut(string(b), "\n## Walk-through\n")
	if !found {
		t.Fatal("README.md has no Walk-through section")
	}
	s, _, _ = strings.Cut(s, "\n## ")
	return s
}

func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// devProcess is a running `commonroot dev`.
type devProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// startDev starts bin with args in dir and waits until /healthz answers 200.
func startDev(t *testing.T, dir, bin string, args []string) *devProcess {
	t.Helper()
	httpAddr := args[len(args)-1]
	d := &devProcess{cmd: exec.Command(bin, args...), out: new(syncBuffer), done: make(chan error, 1)}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("commonroot %s output:\n%s", strings.Join(args, " "), d.out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("commonroot dev exited before it was ready: %v\n%s", err, d.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("commonroot dev not healthy after 90s\n%s", d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// interrupt sends SIGINT (Ctrl-C) and waits for a clean exit.
func (d *devProcess) interrupt(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("commonroot dev after Ctrl-C: %v\n%s", err, d.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("commonroot dev still running 30s after Ctrl-C\n%s", d.out.String())
	}
	if !strings.Contains(d.out.String(), "stopping") {
		t.Errorf("commonroot dev did not say it was stopping:\n%s", d.out.String())
	}
}

// kdigSection returns the records of type rrtype in a kdig answer's
// section, as "owner TYPE rdata" joined by "|" in sorted order (kdig
// prints them in the order received).
func kdigSection(out, section, rrtype string) string {
	var recs []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, ";;") {
			in = strings.HasPrefix(line, ";; "+section+" SECTION")
			continue
		}
		f := strings.Fields(line)
		if in && len(f) == 5 && f[3] == rrtype {
			recs = append(recs, f[0]+" "+f[3]+" "+f[4])
		}
	}
	sort.Strings(recs)
	return strings.Join(recs, "|")
}

// waitCovered waits until the node's served checkpoint covers its whole
// log. A node serves a checkpoint once a quorum of members signed it, a
// block or two after the block that made it; until then verify would find
// no zone.version entry for the zone just served.
func waitCovered(t *testing.T, node string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			LogSize int64 `json:"log_size"`
		}
		err := getJSON(node+"/v1/status", &st)
		if err == nil {
			var cp []byte
			if cp, err = get(node + "/checkpoint"); err == nil {
				text, _, _ := bytes.Cut(cp, []byte("\n\n"))
				var size int64
				if _, size, _, err = translog.ParseCheckpoint(append(text, '\n')); err == nil {
					if size >= st.LogSize {
						return
					}
					err = fmt.Errorf("checkpoint of size %d, log of %d", size, st.LogSize)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the served checkpoint does not cover the log: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// savedSize is the tree size of the checkpoint verify saved in path.
func savedSize(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("verify --state: %v", err)
	}
	text, _, _ := bytes.Cut(b, []byte("\n\n"))
	_, size, _, err := translog.ParseCheckpoint(append(text, '\n'))
	if err != nil {
		t.Fatalf("verify --state saved %q: %v", b, err)
	}
	return size
}

func nextSeq(t *testing.T, node, signer string) uint64 {
	t.Helper()
	var v struct {
		NextSeq uint64 `json:"next_seq"`
	}
	if err := getJSON(node+"/v1/signers/"+signer, &v); err != nil {
		t.Fatal(err)
	}
	return v.NextSeq
}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %q", url, resp.StatusCode, b.String())
	}
	return b.Bytes(), nil
}

func getJSON(url string, v any) error {
	b, err := get(url)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
