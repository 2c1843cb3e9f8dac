package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Errors of an add-checkpoint call, by the witness's HTTP status. A
// [*StatusError] wraps one of them.
var (
	// ErrUnknownLog (404): the witness is not configured for the origin.
	ErrUnknownLog = errors.New("the witness does not know the log")
	// ErrForbidden (403): no signature verified with a key the witness
	// trusts for the origin (or too few for its policy), or one failed.
	ErrForbidden = errors.New("the witness trusts no signature on the checkpoint")
	// ErrBadProof (422): the consistency proof does not verify.
	ErrBadProof = errors.New("the witness refused the consistency proof")
	// ErrBadRequest (400): a malformed request, or an old size beyond the
	// checkpoint's.
	ErrBadRequest = errors.New("the witness refused a malformed request")
	// ErrFork: the witness has cosigned a checkpoint of the same size with
	// another root hash (a 409 that no other old size resolves).
	ErrFork = errors.New("the witness has cosigned another root at this size")
	// ErrWitnessAhead: the witness has cosigned a larger tree than the
	// one offered; there is nothing it can cosign until the log grows.
	ErrWitnessAhead = errors.New("the witness has cosigned a larger tree")
)

// A StatusError is a witness's answer other than 200 and 409.
type StatusError struct {
	Status  int
	Message string // the answer's body, trimmed
	Err     error  // one of the sentinel errors above, or nil
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v (HTTP %d: %q)", e.Err, e.Status, e.Message)
	}
	return fmt.Sprintf("witness answered HTTP %d: %q", e.Status, e.Message)
}

func (e *StatusError) Unwrap() error { return e.Err }

// A ConflictError is a 409 answer: the witness's latest cosigned size is
// Size, not the old size the request gave (or, if they are equal, it
// cosigned another root at that size).
type ConflictError struct{ Size int64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness: conflict: the witness's latest cosigned tree size is %d", e.Size)
}

// Client submits checkpoints to one witness.
type Client struct {
	// URL is the witness's submission prefix ("https://witness.example/w1"):
	// requests go to URL + "/add-checkpoint".
	URL  string
	HTTP *http.Client
}

// NewClient returns a client for the witness at url, with a 10-second
// timeout per request.
func NewClient(url string) *Client {
	return &Client{URL: strings.TrimSuffix(url, "/"), HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// AddCheckpoint makes one add-checkpoint call: checkpoint (a signed note)
// with the consistency proof from tree size old. On 200 it returns the
// witness's signature lines, checked for form only (verify them, for
// example by opening [Cosigned] with the witness's [Verifier]). A 409
// gives a [*ConflictError]; any other status a [*StatusError].
func (c *Client) AddCheckpoint(ctx context.Context, old int64, proof []tlog.Hash, checkpoint []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/add-checkpoint", bytes.NewReader(FormatRequest(old, proof, checkpoint)))
	if err != nil {
		return nil, fmt.Errorf("witness %s: %v", c.URL, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %v", c.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("witness %s: reading the answer: %v", c.URL, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		sigs, err := ParseSignatureLines(body)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %v", c.URL, err)
		}
		return sigs, nil
	case http.StatusConflict:
		if ct := resp.Header.Get("Content-Type"); ct != ContentTypeSize {
			return nil, fmt.Errorf("witness %s: 409 answer of type %q, want %q", c.URL, ct, ContentTypeSize)
		}
		s, ok := strings.CutSuffix(string(body), "\n")
		n, ok2 := parseSize(s)
		if !ok || !ok2 {
			return nil, fmt.Errorf("witness %s: 409 answer %q is not a tree size and a newline", c.URL, body)
		}
		return nil, &ConflictError{Size: n}
	}
	e := &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	switch resp.StatusCode {
	case http.StatusNotFound:
		e.Err = ErrUnknownLog
	case http.StatusForbidden:
		e.Err = ErrForbidden
	case http.StatusUnprocessableEntity:
		e.Err = ErrBadProof
	case http.StatusBadRequest:
		e.Err = ErrBadRequest
	}
	return nil, fmt.Errorf("witness %s: %w", c.URL, e)
}

// ProofFunc returns the consistency proof of the log from tree size old
// to tree size new (0 < old < new).
type ProofFunc func(old, new int64) ([]tlog.Hash, error)

// Push submits checkpoint (a signed note of the log that proof reads),
// starting from old, the size the caller believes the witness has
// cosigned last (0 if it does not know). When the witness answers 409
// with another size, Push retries once from that size. It returns the
// witness's signature lines and the size the witness now holds (the
// checkpoint's). A witness that already cosigned a larger tree gives an
// error wrapping [ErrWitnessAhead]; one that cosigned another root at the
// checkpoint's size, [ErrFork].
func (c *Client) Push(ctx context.Context, checkpoint []byte, old int64, proof ProofFunc) (sigs []byte, size int64, err error) {
	text, _, err := splitNote(checkpoint)
	if err != nil {
		return nil, 0, fmt.Errorf("witness: checkpoint to push: %v", err)
	}
	_, tree, err := checkpointTree(text)
	if err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		if old > tree.N {
			return nil, 0, fmt.Errorf("witness %s: %w: size %d, we offer %d", c.URL, ErrWitnessAhead, old, tree.N)
		}
		var p []tlog.Hash
		if old > 0 && old < tree.N {
			if p, err = proof(old, tree.N); err != nil {
				return nil, 0, fmt.Errorf("witness %s: consistency proof from %d to %d: %v", c.URL, old, tree.N, err)
			}
		}
		sigs, err := c.AddCheckpoint(ctx, old, p, checkpoint)
		var conflict *ConflictError
		if !errors.As(err, &conflict) {
			if err != nil {
				return nil, 0, err
			}
			return sigs, tree.N, nil
		}
		if conflict.Size == old {
			return nil, 0, fmt.Errorf("witness %s: %w: it answered 409 to old size %d with size %d", c.URL, ErrFork, old, tree.N)
		}
		if attempt == 1 {
			return nil, 0, fmt.Errorf("witness %s: still in conflict after a retry: %v", c.URL, err)
		}
		old = conflict.Size
	}
}
