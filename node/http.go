package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/portal"
	"github.com/commonroot/commonroot/registry"
)

// backend gives the API the node's committed data.
type backend struct{ n *Node }

var _ api.Backend = backend{}

func (b backend) View(f func(*registry.State)) { b.n.app.View(f) }

func (b backend) Submit(ctx context.Context, tx []byte) (api.Outcome, error) {
	o, err := b.n.Submit(ctx, tx)
	if errors.Is(err, consensus.ErrRejected) {
		reason := strings.TrimPrefix(err.Error(), consensus.ErrRejected.Error()+": ")
		return api.Outcome{}, fmt.Errorf("%w: %s", api.ErrRejected, reason)
	}
	return api.Outcome{Result: o.Result, Height: o.Height}, err
}

func (b backend) Zone() (api.Zone, int64) {
	z, h := b.n.app.Zone()
	if z == nil {
		return nil, h
	}
	return z, h
}

func (b backend) Versions() []api.Zone {
	var out []api.Zone
	for _, z := range b.n.app.Versions() {
		out = append(out, z)
	}
	return out
}

func (b backend) Log() api.Log                             { return b.n.app.Log() }
func (b backend) Height() (int64, []byte)                  { return b.n.app.Height() }
func (b backend) Constitution() *constitution.Constitution { return b.n.app.Constitution() }

// warmTLDs builds the TLD index of the state, once there is one, so that
// no request pays for it (a second or more for a million TLDs); later
// changes patch it.
func (n *Node) warmTLDs() {
	if n.warmed.Load() {
		return
	}
	n.app.View(func(s *registry.State) {
		if s != nil {
			n.tlds.Names(s)
			n.warmed.Store(true)
		}
	})
}

// handler serves the JSON API, and the public portal under /ui/ (GET /
// redirects there).
func (n *Node) handler() http.Handler {
	a := api.New(backend{n}, api.Options{Logger: n.cfg.Logger, Limits: n.cfg.Limits, Metrics: n.metrics.reg, TLDs: &n.tlds})
	ui := portal.New(backend{n}, portal.Options{Logger: n.cfg.Logger, DNS: n.DNSAddr(), TLDs: &n.tlds})
	n.warmTLDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, portal.Prefix, http.StatusFound)
		case p == "/ui":
			http.Redirect(w, r, portal.Prefix, http.StatusMovedPermanently)
		case strings.HasPrefix(p, portal.Prefix):
			ui.ServeHTTP(w, r)
		default:
			a.ServeHTTP(w, r)
		}
	})
}
