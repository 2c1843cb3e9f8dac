// Package localfed runs a whole federation in one process on loopback:
// every member's node (consensus, store, log, DNS, HTTP) with its own home
// directory, peered with the others. It is what `commonroot dev` runs and
// what multi-node tests use; a real federation runs one `commonroot node`
// per member host instead.
package localfed

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/setup"
)

// MemberNames are the members of a local federation, in order.
var MemberNames = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"}

// DevOwned are the ccTLDs each dev member owns (member i owns pairs i).
var DevOwned = []string{"de.", "fr.", "br.", "in.", "jp.", "za.", "ch.", "mx.", "se.", "kr.", "ar.", "ca.", "au.", "ng.", "cl.", "no.", "nz.", "pl.", "es.", "it."}

// CreateDev writes a dev federation into dir: n members, the real root
// zone imported (the members own a few ccTLDs each, every other TLD is
// shared with its own operator key), short voting periods.
func CreateDev(dir string, n int) (*constitution.Constitution, error) {
	return createDev(dir, n, nil)
}

// createDev is CreateDev with a signing policy (nil: the default).
func createDev(dir string, n int, signing *constitution.Signing) (*constitution.Constitution, error) {
	return createDevZone(dir, n, signing, devzone.Root)
}

// createDevZone is createDev importing the master file zone instead of the
// real root (it must hold the members' DevOwned TLDs).
func createDevZone(dir string, n int, signing *constitution.Signing, zone []byte) (*constitution.Constitution, error) {
	if n < 1 || n > len(MemberNames) {
		return nil, fmt.Errorf("localfed: %d members: choose 1 to %d", n, len(MemberNames))
	}
	owned := map[string][]string{}
	for i := 0; i < n; i++ {
		owned[MemberNames[i]] = DevOwned[2*i : 2*i+2]
	}
	return setup.Create(setup.Options{
		Dir: dir, Origin: "commonroot.dev/" + fmt.Sprint(time.Now().Unix()), Apex: ".", Members: MemberNames[:n],
		Genesis: time.Now().UTC().Truncate(time.Second), Import: zone, Owned: owned, Operators: true,
		VotingPeriod: 10 * time.Minute, Signing: signing,
	})
}

// Options say how to run a federation directory.
type Options struct {
	Dir string
	// HTTP and DNS are the first member's addresses; the others get free
	// loopback ports. Empty means a free port.
	HTTP, DNS string
	// AllowTransfer and Notify go to every node's DNS server.
	AllowTransfer []netip.Prefix
	Notify        []string
	// Witnesses go to every node (see node.Config.Witnesses).
	Witnesses []string
	Logger    *slog.Logger
	CometLog  io.Writer
	// Only, when set, starts only these members (others stay down).
	Only []string
}

// Federation is a running local federation.
type Federation struct {
	Constitution *constitution.Constitution
	Nodes        map[string]*node.Node
	opts         Options
	p2p          map[string]string // member → host:port
	ids          map[string]string // member → node ID
	http         map[string]string // member → HTTP address
	sigs         []byte            // constitution.sigs
}

// founderSigs reads dir's constitution.sigs; a directory made before
// founders signed gets one, signed with every founder key it holds (a
// local federation holds them all), so that every node runs the same
// check as a node of a real federation.
func founderSigs(dir string, c *constitution.Constitution) ([]byte, error) {
	if b, err := os.ReadFile(setup.SigsPath(dir)); err == nil {
		return b, nil
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("localfed: %v", err)
	}
	var notes [][]byte
	for _, m := range c.Members {
		k, err := setup.LoadKey(setup.MemberKeyPath(dir, m.Name))
		if err != nil {
			continue // the check names whose signature is missing
		}
		sig, err := setup.SignConstitution(c, k.Signer)
		if err != nil {
			return nil, err
		}
		notes = append(notes, sig)
	}
	sigs, err := setup.MergeConstitutionSigs(c, notes...)
	if err != nil {
		return nil, fmt.Errorf("localfed: %v", err)
	}
	if err := os.WriteFile(setup.SigsPath(dir), sigs, 0o644); err != nil {
		return nil, fmt.Errorf("localfed: %v", err)
	}
	return sigs, nil
}

// Start starts the federation in o.Dir (created before with CreateDev or
// setup.Create).
func Start(o Options) (*Federation, error) {
	doc, err := os.ReadFile(setup.ConstitutionPath(o.Dir))
	if err != nil {
		return nil, fmt.Errorf("localfed: %v", err)
	}
	c, err := constitution.Parse(doc)
	if err != nil {
		return nil, err
	}
	sigs, err := founderSigs(o.Dir, c)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f := &Federation{Constitution: c, sigs: sigs, Nodes: map[string]*node.Node{}, opts: o, p2p: map[string]string{}, ids: map[string]string{}, http: map[string]string{}}
	// Pick every port first, holding the listeners so none is handed out twice.
	var hold []net.Listener
	for i, m := range c.Members {
		id, err := consensus.InitHome(setup.NodeHome(o.Dir, m.Name))
		if err != nil {
			return nil, err
		}
		f.ids[m.Name] = id.NodeID
		addrs := []*string{new(string), new(string)}
		for j, a := range addrs {
			want := "127.0.0.1:0"
			if i == 0 && j == 1 && o.HTTP != "" {
				want = o.HTTP
			}
			l, err := net.Listen("tcp", want)
			if err != nil {
				closeAll(hold)
				return nil, fmt.Errorf("localfed: %v", err)
			}
			hold = append(hold, l)
			*a = l.Addr().String()
		}
		f.p2p[m.Name], f.http[m.Name] = *addrs[0], *addrs[1]
	}
	closeAll(hold)
	for i, m := range c.Members {
		if len(o.Only) > 0 && !slices.Contains(o.Only, m.Name) {
			continue
		}
		dns := "127.0.0.1:0"
		if i == 0 && o.DNS != "" {
			dns = o.DNS
		}
		if err := f.StartMember(m.Name, dns); err != nil {
			f.Stop()
			return nil, err
		}
	}
	return f, nil
}

// StartMember starts (or restarts) one member's node.
func (f *Federation) StartMember(name, dns string) error {
	if _, running := f.Nodes[name]; running {
		return fmt.Errorf("localfed: %s is running", name)
	}
	k, err := setup.LoadKey(setup.MemberKeyPath(f.opts.Dir, name))
	if err != nil {
		return err
	}
	var peers, apis []string
	for _, m := range f.Constitution.Members {
		if m.Name == name {
			continue
		}
		peers = append(peers, f.ids[m.Name]+"@"+f.p2p[m.Name])
		apis = append(apis, "http://"+f.http[m.Name])
	}
	if dns == "" {
		dns = "127.0.0.1:0"
	}
	n, err := node.Start(node.Config{
		Constitution: f.Constitution, ConstitutionSigs: f.sigs, Member: name, Key: k.Signer, Home: setup.NodeHome(f.opts.Dir, name),
		P2P: f.p2p[name], Peers: peers, HTTP: f.http[name], DNS: dns, PeerAPIs: apis,
		AllowTransfer: f.opts.AllowTransfer, Notify: f.opts.Notify, Witnesses: f.opts.Witnesses, Fast: true,
		Logger: f.opts.Logger.With("member", name), CometLog: f.opts.CometLog,
	})
	if err != nil {
		return err
	}
	f.Nodes[name] = n
	return nil
}

// StopMember stops one member's node.
func (f *Federation) StopMember(name string) {
	if n, ok := f.Nodes[name]; ok {
		n.Stop()
		delete(f.Nodes, name)
	}
}

// Stop stops every node.
func (f *Federation) Stop() {
	for name := range f.Nodes {
		f.StopMember(name)
	}
}

// HTTP returns a member's API base URL.
func (f *Federation) HTTP(name string) string { return "http://" + f.http[name] }

// WaitReady waits until every running node takes part in consensus and has
// committed a block.
func (f *Federation) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready := true
		var waiting []string
		for name, n := range f.Nodes {
			if h, _ := n.App().Height(); h < 1 || !n.Synced() {
				ready = false
				waiting = append(waiting, fmt.Sprintf("%s (height %d, synced %v)", name, h, n.Synced()))
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localfed: not ready after %s: %s", timeout, strings.Join(waiting, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// Join prepares a node for a member who is not in the constitution (to be
// admitted by a member.admit proposal): its member key, node home and
// ports. It returns the verifier key and base64 validator key the proposal
// names. Start the node with StartMember.
func (f *Federation) Join(name string) (key, validator string, err error) {
	k, err := setup.NewKey(name)
	if err != nil {
		return "", "", err
	}
	if err := setup.WriteKey(setup.MemberKeyPath(f.opts.Dir, name), k); err != nil {
		return "", "", err
	}
	id, err := consensus.InitHome(setup.NodeHome(f.opts.Dir, name))
	if err != nil {
		return "", "", err
	}
	var hold []net.Listener
	defer func() { closeAll(hold) }()
	addrs := make([]string, 2)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		hold = append(hold, l)
		addrs[i] = l.Addr().String()
	}
	f.ids[name], f.p2p[name], f.http[name] = id.NodeID, addrs[0], addrs[1]
	return k.Verifier, base64.StdEncoding.EncodeToString(id.Validator), nil
}
