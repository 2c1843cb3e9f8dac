package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/witness"
)

// A witnessTarget is one external witness (c2sp.org/tlog-witness) the
// node submits its checkpoints to.
type witnessTarget struct {
	client   *witness.Client
	verifier note.Verifiers
	// old is the size the witness cosigned last, as far as we know (0 at
	// first: the witness's 409 answer tells us); pushed the size of the
	// last checkpoint it cosigned for us; lastErr the last failure logged.
	old, pushed int64
	lastErr     string
}

// parseWitnesses reads Config.Witnesses: each "URL VKEY", the witness's
// submission prefix and its cosignature verifier key (type 0x04), which
// checks every cosignature it returns before the node stores it.
func parseWitnesses(entries []string) ([]*witnessTarget, error) {
	var ws []*witnessTarget
	for _, e := range entries {
		fields := strings.Fields(e)
		if len(fields) != 2 || !(strings.HasPrefix(fields[0], "http://") || strings.HasPrefix(fields[0], "https://")) {
			return nil, fmt.Errorf("node: witness %q: want \"URL VKEY\" (its add-checkpoint prefix and its cosignature key)", e)
		}
		v, err := witness.NewVerifier(fields[1])
		if err != nil {
			return nil, fmt.Errorf("node: witness %q: %v", fields[0], err)
		}
		ws = append(ws, &witnessTarget{client: witness.NewClient(fields[0]), verifier: note.VerifierList(v)})
	}
	return ws, nil
}

// pushWitnesses submits every new served checkpoint (one with a quorum of
// member signatures) to each witness, and merges the cosignatures they
// return into the stored note, until Stop.
func (n *Node) pushWitnesses(ws []*witnessTarget) {
	defer n.wg.Done()
	if len(ws) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	lg := n.app.Log()
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		cp, err := lg.Checkpoint()
		if err != nil {
			continue // nothing with a quorum yet
		}
		size := checkpointSize(cp)
		var wg sync.WaitGroup
		for _, w := range ws {
			if w.pushed >= size {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.pushWitness(ctx, lg, w, cp, size)
			}()
		}
		wg.Wait()
	}
}

// pushWitness submits cp, of the given size, to one witness.
func (n *Node) pushWitness(ctx context.Context, lg *translog.Log, w *witnessTarget, cp []byte, size int64) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := func() error {
		sigs, held, err := w.client.Push(ctx, cp, w.old, lg.ConsistencyProof)
		if err != nil {
			return err
		}
		w.old = held
		msg, err := witness.Cosigned(cp, sigs)
		if err != nil {
			return err
		}
		if _, err := lg.AddSignatures(msg, w.verifier); err != nil {
			return fmt.Errorf("merging the cosignature of %s: %v", w.client.URL, err)
		}
		w.pushed = size
		return nil
	}()
	switch {
	case err == nil:
		w.lastErr = ""
		n.cfg.Logger.Debug("witness cosigned", "witness", w.client.URL, "size", size)
	case errors.Is(err, context.Canceled):
	case err.Error() != w.lastErr:
		w.lastErr = err.Error()
		level := n.cfg.Logger.Warn
		if errors.Is(err, witness.ErrFork) || errors.Is(err, witness.ErrBadProof) {
			level = n.cfg.Logger.Error
		}
		level("witness refused the checkpoint", "witness", w.client.URL, "size", size, "err", err)
	}
}

// checkpointSize reads the tree size of a served checkpoint (-1 if it is
// malformed, which the log never serves).
func checkpointSize(msg []byte) int64 {
	text, _, ok := strings.Cut(string(msg), "\n\n")
	if !ok {
		return -1
	}
	_, size, _, err := translog.ParseCheckpoint([]byte(text + "\n"))
	if err != nil {
		return -1
	}
	return size
}
