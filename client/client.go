// Package client talks to a commonroot node's HTTP API: it builds, signs and
// submits actions, and reads what the node serves. The command line and the
// outside verifier use it; it trusts nothing it reads for more than display
// (verify checks what matters).
package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
)

// Client is a node's API at Base ("http://127.0.0.1:8053").
type Client struct {
	Base string
	HTTP *http.Client
}

// New returns a client for base.
func New(base string) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is a non-2xx answer with the node's message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("node answered %d: %s", e.Status, e.Message) }

// Get fetches path and returns the body of a 2xx answer.
func (c *Client) Get(path string) ([]byte, error) {
	resp, err := c.HTTP.Get(c.Base + path)
	if err != nil {
		return nil, err
	}
	return read(resp)
}

// GetJSON fetches path and decodes its JSON into v.
func (c *Client) GetJSON(path string, v any) error {
	b, err := c.Get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %v", path, err)
	}
	return nil
}

func read(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && (e.Error != "" || e.Reason != "") {
			msg = e.Error + e.Reason
		}
		return b, &Error{Status: resp.StatusCode, Message: msg}
	}
	return b, nil
}

// Status is the node's summary.
type Status struct {
	Origin  string `json:"origin"`
	Apex    string `json:"apex"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	LogSize int64  `json:"log_size"`
	Serial  uint32 `json:"serial"`
	ZONEMD  string `json:"zonemd"`
}

// Status reads /v1/status.
func (c *Client) Status() (*Status, error) {
	s := new(Status)
	return s, c.GetJSON("/v1/status", s)
}

// NextSeq asks the node for signer's next sequence number.
func (c *Client) NextSeq(signer string) (uint64, error) {
	var v struct {
		NextSeq uint64 `json:"next_seq"`
	}
	if err := c.GetJSON("/v1/signers/"+url.PathEscape(signer), &v); err != nil {
		return 0, fmt.Errorf("looking up signer %q: %v", signer, err)
	}
	return v.NextSeq, nil
}

// Outcome is the node's verdict on a submitted action.
type Outcome struct {
	Accepted bool   `json:"accepted"`
	Code     uint32 `json:"code"`
	Reason   string `json:"reason"`
	Index    int64  `json:"index"`
	Proposal uint64 `json:"proposal"`
	Height   int64  `json:"height"`
}

// ErrRejected wraps the node's reason for refusing an action.
var ErrRejected = errors.New("rejected")

// Submit posts a signed action and waits for its outcome.
func (c *Client) Submit(msg []byte) (*Outcome, error) {
	resp, err := c.HTTP.Post(c.Base+"/v1/actions", "text/plain; charset=utf-8", bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	o := new(Outcome)
	if json.Unmarshal(b, o) != nil {
		return nil, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	if !o.Accepted {
		reason := o.Reason
		if reason == "" {
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(b, &e)
			reason = e.Error
		}
		return o, fmt.Errorf("%w: %s", ErrRejected, reason)
	}
	return o, nil
}

// Build makes and signs an action of signer for the node's federation,
// with the signer's next sequence number, expiring after ttl.
func (c *Client) Build(signer note.Signer, kind string, body any, ttl time.Duration) ([]byte, error) {
	st, err := c.Status()
	if err != nil {
		return nil, fmt.Errorf("reading the node's status: %v", err)
	}
	seq, err := c.NextSeq(signer.Name())
	if err != nil {
		return nil, err
	}
	return action.Sign(action.Action{
		Origin: st.Origin, Signer: signer.Name(), Seq: seq,
		Expires: time.Now().Add(ttl).UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:    kind, Body: body,
	}, signer)
}
