package fedtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/setup"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error

	hostileOnce sync.Once
	hostilePath string
	hostileErr  error

	netnsOnce sync.Once
	netnsSkip string
	netnsErr  error

	clusterSeq atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// commonroot builds the command once per test run.
func commonroot(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fedtest-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "commonroot")
		buildErr = goBuild(binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// hostileCommonroot builds, once per test run, the command with the
// hostile member's behaviours (cmd/commonroot/hostile.go, -tags hostile).
func hostileCommonroot(t testing.TB) string {
	t.Helper()
	commonroot(t)
	hostileOnce.Do(func() {
		hostilePath = filepath.Join(binDir, "commonroot-hostile")
		hostileErr = goBuild(hostilePath, "-tags", "hostile")
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return hostilePath
}

func goBuild(out string, flags ...string) error {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	args := append(append([]string{"build"}, flags...), "-o", out, "github.com/commonroot/commonroot/cmd/commonroot")
	if b, err := exec.Command(goBin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// requireNetns skips the test when it does not run as root, and fails it
// when it runs as root (as CI does) but cannot make a network namespace:
// a root that cannot (a container without CAP_SYS_ADMIN, a missing ip
// command) is a broken test machine, not a reason to test less.
func requireNetns(t testing.TB) {
	t.Helper()
	netnsOnce.Do(func() {
		if os.Geteuid() != 0 {
			netnsSkip = "fedtest: making network namespaces (ip netns add) needs root; run as root (CI does)"
			return
		}
		if _, err := exec.LookPath("ip"); err != nil {
			netnsErr = fmt.Errorf("fedtest: the ip command (Debian's iproute2) is missing: %v", err)
			return
		}
		name := fmt.Sprintf("crprobe%d", os.Getpid())
		out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
		if err != nil {
			netnsErr = fmt.Errorf("fedtest: running as root but ip netns add %s failed (the tests need CAP_SYS_ADMIN and a writable /var/run/netns): %v: %s",
				name, err, strings.TrimSpace(string(out)))
			return
		}
		exec.Command("ip", "netns", "del", name).Run()
	})
	if netnsSkip != "" {
		t.Skip(netnsSkip)
	}
	if netnsErr != nil {
		t.Fatal(netnsErr)
	}
}

// run runs a command and returns its stdout; a failure fails the test.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// cluster is a federation of hosts, each a network namespace on a bridge
// of the hub namespace.
type cluster struct {
	t      testing.TB
	bin    string
	dir    string
	subnet int
	hub    string
	hosts  []*host
	c      *constitution.Constitution
	// ops are the operator keys of the genesis TLDs, by TLD.
	ops  map[string]*setup.Key
	tlds []string
}

// host is one member's machine.
type host struct {
	cl   *cluster
	name string // the member
	ns   string
	ip   string
	port string // its veth in the hub namespace
	dir  string // its member directory
	cfg  string
	// bin and env, when set, replace the cluster's command and add to the
	// node's environment (a hostile member's build and behaviours).
	bin string
	env []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *logBuffer
	done   chan struct{}
	err    error // the process's exit, once done is closed
	starts int   // how many times start ran

	api *client.Client
}

// logBuffer collects a process's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var memberNames = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"}

// newCluster makes n hosts on one bridge: no processes yet.
func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	if n > len(memberNames) {
		t.Fatalf("a cluster of %d hosts: at most %d", n, len(memberNames))
	}
	requireNetns(t)
	bin := commonroot(t)
	seq := clusterSeq.Add(1)
	cl := &cluster{t: t, bin: bin, dir: t.TempDir(), subnet: int(seq), ops: map[string]*setup.Key{}}
	prefix := fmt.Sprintf("cr%d-%d", os.Getpid(), seq)
	cl.hub = prefix + "-hub"
	run(t, "ip", "netns", "add", cl.hub)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", cl.hub).Run() })
	for _, br := range []string{"br0", "br1"} {
		run(t, "ip", "-n", cl.hub, "link", "add", br, "type", "bridge")
		run(t, "ip", "-n", cl.hub, "link", "set", br, "up")
	}
	for i := range n {
		h := &host{cl: cl, name: memberNames[i], ns: prefix + "-" + memberNames[i], ip: fmt.Sprintf("10.77.%d.%d", cl.subnet, i+1),
			port: fmt.Sprintf("h%d", i), log: &logBuffer{}}
		h.dir = filepath.Join(cl.dir, h.name)
		run(t, "ip", "netns", "add", h.ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", h.ns).Run() })
		run(t, "ip", "-n", cl.hub, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		run(t, "ip", "-n", cl.hub, "link", "set", h.port, "master", "br0", "up")
		run(t, "ip", "-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		run(t, "ip", "-n", h.ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
		h.api = client.New("http://" + h.ip + ":8053")
		h.api.HTTP = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DialContext: dialIn(h.ns), MaxIdleConnsPerHost: 200}}
		cl.hosts = append(cl.hosts, h)
	}
	return cl
}

// dialIn returns a dialer whose sockets live in network namespace ns: it
// dials on a goroutine locked to an OS thread that entered ns, and lets
// that thread end with the goroutine (it is never reused).
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			f, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("setns %s: %v", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// in runs a command in h's namespace.
func (h *host) in(args ...string) (string, error) {
	return runErr("ip", append([]string{"netns", "exec", h.ns}, args...)...)
}

// found runs the founding ceremony through the command line: each member
// inits on its own host, the public parts are assembled with tlds shared
// TLDs (operator keys held by the test), each member signs on its host,
// the signatures are merged. It writes every host's node config.
func (cl *cluster) found(tlds int) {
	t := cl.t
	t.Helper()
	var pubs []string
	for _, h := range cl.hosts {
		out, err := h.in(cl.bin, "init", "--member", h.name, "--dir", h.dir, "--p2p", h.ip+":26656")
		if err != nil {
			t.Fatal(err)
		}
		var p setup.Public
		if err := json.Unmarshal([]byte(out), &p); err != nil || p.Name != h.name {
			t.Fatalf("init --member %s printed %q: %v", h.name, out, err)
		}
		pubs = append(pubs, setup.MemberDirPublic(h.dir))
	}
	var specs []constitution.TLD
	for i := range tlds {
		name := fmt.Sprintf("t%02d.fed.test.", i)
		k, err := setup.NewKey(setup.OperatorName(name))
		if err != nil {
			t.Fatal(err)
		}
		cl.ops[name] = k
		cl.tlds = append(cl.tlds, name)
		specs = append(specs, constitution.TLD{Name: name, Operator: k.Verifier, NS: []string{"a.example.net.", "b.example.net."}})
	}
	tldFile := filepath.Join(cl.dir, "tlds.json")
	b, _ := json.Marshal(specs)
	if err := os.WriteFile(tldFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cons := filepath.Join(cl.dir, "constitution.json")
	args := []string{"constitution", "assemble", "--origin", fmt.Sprintf("fedtest.example/%s", t.Name()), "--apex", "fed.test.",
		"--ns", "ns1.fed.test.=" + cl.hosts[0].ip, "--ns", "ns2.fed.test.=" + cl.hosts[1%len(cl.hosts)].ip,
		"--tlds", tldFile, "--voting-period", "5m", "--out", cons}
	run(t, cl.bin, append(args, pubs...)...)
	var sigs []string
	for _, h := range cl.hosts {
		out, err := h.in(cl.bin, "constitution", "sign", "--key", setup.MemberDirKey(h.dir, h.name), cons)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(cl.dir, h.name+".sig")
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, f)
	}
	run(t, cl.bin, append([]string{"constitution", "merge", "--out", filepath.Join(cl.dir, "constitution.sigs"), cons}, sigs...)...)
	doc, err := os.ReadFile(cons)
	if err != nil {
		t.Fatal(err)
	}
	if cl.c, err = constitution.Parse(doc); err != nil {
		t.Fatal(err)
	}
	for _, h := range cl.hosts {
		h.cfg = filepath.Join(h.dir, "node.json")
		h.writeConfig(nil)
	}
}

// writeConfig writes h's node config; extra fields override the defaults.
func (h *host) writeConfig(extra map[string]any) {
	cfg := map[string]any{
		"constitution": "../constitution.json", "constitution_sigs": "../constitution.sigs", "founders": "../founders.json",
		"member": h.name, "dir": ".", "http": h.ip + ":8053", "dns": h.ip + ":5353",
		"allow_transfer": []string{fmt.Sprintf("10.77.%d.0/24", h.cl.subnet)}, "fast": true, "peer_timeout": "2s",
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(h.cfg, b, 0o644); err != nil {
		h.cl.t.Fatal(err)
	}
}

// start starts h's node process in its namespace.
func (h *host) start() {
	t := h.cl.t
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil {
		t.Fatalf("%s is running", h.name)
	}
	fmt.Fprintf(h.log, "=== start %s\n", time.Now().Format(time.TimeOnly))
	bin := h.cl.bin
	if h.bin != "" {
		bin = h.bin
	}
	cmd := exec.Command("ip", "netns", "exec", h.ns, bin, "node", "--config", h.cfg)
	cmd.Env = append(os.Environ(), h.env...)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h.cmd, h.done = cmd, done
	h.starts++
	start := h.starts
	go func() {
		err := cmd.Wait()
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		h.mu.Lock()
		last := start == h.starts
		h.mu.Unlock()
		if t.Failed() && last { // the log holds every start's output: show it once
			t.Logf("log of %s:\n%s", h.name, tail(h.log.String(), 80))
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// signal sends sig to h's node and waits for it to exit; it returns the
// process's exit error (nil for a clean exit).
func (h *host) signal(sig syscall.Signal) error {
	t := h.cl.t
	t.Helper()
	h.mu.Lock()
	cmd, done := h.cmd, h.done
	h.mu.Unlock()
	if cmd == nil {
		t.Fatalf("%s is not running", h.name)
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not exit within 30s of %v", h.name, sig)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmd = nil
	return h.err
}

// exited waits for h's node to exit on its own and returns its error.
func (h *host) exited(timeout time.Duration) error {
	t := h.cl.t
	t.Helper()
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s; log:\n%s", h.name, timeout, tail(h.log.String(), 40))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmd = nil
	return h.err
}

// running reports whether h's node process runs.
func (h *host) running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return false
	}
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// status is the part of GET /v1/status the tests read.
type status struct {
	Height      int64  `json:"height"`
	ChainHeight int64  `json:"chain_height"`
	AppHash     string `json:"app_hash"`
	LogSize     int64  `json:"log_size"`
	Serial      uint32 `json:"serial"`
	ZONEMD      string `json:"zonemd"`
}

func (h *host) status() (*status, error) {
	s := new(status)
	return s, h.api.GetJSON("/v1/status", s)
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startAll starts every node and waits until each has committed a block.
func (cl *cluster) startAll() {
	cl.t.Helper()
	for _, h := range cl.hosts {
		h.start()
	}
	for _, h := range cl.hosts {
		h.waitHeight(1, 90*time.Second)
	}
}

// waitHeight waits until h's node has committed height min.
func (h *host) waitHeight(min int64, timeout time.Duration) {
	t := h.cl.t
	t.Helper()
	eventually(t, h.name+" reaches height "+fmt.Sprint(min), timeout, func() error {
		if !h.running() {
			t.Fatalf("%s exited: %v\n%s", h.name, h.err, tail(h.log.String(), 40))
		}
		s, err := h.status()
		if err != nil {
			return err
		}
		if s.ChainHeight < min {
			return fmt.Errorf("at height %d", s.ChainHeight)
		}
		return nil
	})
}

// agree waits until hosts report the same app hash at the same height
// (they keep committing, so it polls until one round of answers lines up)
// and returns that status.
func agree(t testing.TB, hosts []*host, timeout time.Duration) *status {
	t.Helper()
	var got *status
	eventually(t, "nodes agree on the app hash", timeout, func() error {
		var first *status
		for _, h := range hosts {
			s, err := h.status()
			if err != nil {
				return fmt.Errorf("%s: %v", h.name, err)
			}
			if first == nil {
				first = s
				continue
			}
			if s.ChainHeight != first.ChainHeight {
				return fmt.Errorf("%s at height %d, %s at %d", hosts[0].name, first.ChainHeight, h.name, s.ChainHeight)
			}
			if s.AppHash != first.AppHash || s.LogSize != first.LogSize || s.ZONEMD != first.ZONEMD {
				t.Fatalf("divergence at height %d: %s has app hash %s (log %d, ZONEMD %s), %s has %s (log %d, ZONEMD %s)",
					s.ChainHeight, hosts[0].name, first.AppHash, first.LogSize, first.ZONEMD, h.name, s.AppHash, s.LogSize, s.ZONEMD)
			}
		}
		got = first
		return nil
	})
	return got
}

// axfr transfers the zone from h's DNS server, from inside h's namespace.
func (h *host) axfr(apex string) ([]dns.RR, error) {
	c, err := dialIn(h.ns)(context.Background(), "tcp", h.ip+":5353")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: c}, ReadTimeout: 10 * time.Second}
	m := new(dns.Msg)
	m.SetAxfr(apex)
	ch, err := tr.In(m, h.ip+":5353")
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return nil, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// checkpointHead is a checkpoint's origin, size and root (its signatures,
// which nodes gather at their own pace, left out).
func (h *host) checkpointHead() (string, error) {
	b, err := h.api.Get("/checkpoint")
	if err != nil {
		return "", err
	}
	head, _, ok := strings.Cut(string(b), "\n\n")
	if !ok {
		return "", fmt.Errorf("checkpoint %q has no signatures", b)
	}
	return head, nil
}

// entries fetches h's log entries at indexes, 16 requests at a time; the
// first failure is returned.
func (h *host) entries(indexes []int64) (map[int64][]byte, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, 16)
	)
	got := make(map[int64][]byte, len(indexes))
	for _, i := range indexes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			b, err := h.api.Get(fmt.Sprintf("/entry/%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("%s: entry %d: %v", h.name, i, err)
			}
			got[i] = b
		}()
	}
	wg.Wait()
	return got, first
}
