package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
)

// entryRow is a log entry summarised in one line.
type entryRow struct {
	Index   int64
	Type    string // "action", "event" or "unknown"
	Kind    string // the action's kind or the event's name
	Signer  string
	Summary string
	TLD     string
	Time    string // an event's block time
}

// decoded is a log entry decoded.
type decoded struct {
	Action *action.Signed
	Event  *registry.Event
	Err    error
}

func decode(e []byte) decoded {
	if bytes.HasPrefix(e, []byte(registry.EventHeader)) {
		ev, err := registry.DecodeEvent(e)
		return decoded{Event: ev, Err: err}
	}
	a, err := action.Decode(e)
	return decoded{Action: a, Err: err}
}

// summarize describes entry i in one line.
func summarize(i int64, e []byte) entryRow {
	r := entryRow{Index: i, Type: "unknown"}
	d := decode(e)
	switch {
	case d.Event != nil:
		ev := d.Event
		r.Type, r.Kind, r.TLD, r.Time = "event", ev.Event, ev.TLD, fmtTime(ev.Time)
		switch ev.Event {
		case "genesis":
			r.Summary = "Genesis: the federation starts under constitution " + shortHex(ev.Constitution)
		case "proposal.outcome":
			r.Summary = fmt.Sprintf("Proposal %d (%s) %s", ev.Proposal, ev.Kind, ev.Outcome)
			if ev.Tally != nil {
				r.Summary += fmt.Sprintf(": %d yes, %d no, %d abstain of %d members", ev.Tally.Yes, ev.Tally.No, ev.Tally.Abstain, ev.Tally.Members)
			}
			if ev.Reason != "" {
				r.Summary += " — " + ev.Reason
			}
		case "restriction.lapsed":
			r.Summary = fmt.Sprintf("Restriction %d on %s lapsed at its expiry", ev.Restriction, ev.TLD)
		case "zone.version":
			r.Summary = fmt.Sprintf("Zone version serial %d published, ZONEMD %s", ev.Serial, shortHex(ev.ZONEMD))
		case "dkg.attempt":
			r.Summary = fmt.Sprintf("Key ceremony %d: attempt %d begins, threshold %d of %d participants (%s)", ev.Ceremony, ev.Attempt, ev.Threshold, len(ev.Participants), strings.Join(ev.Participants, ", "))
		case "dkg.excluded":
			r.Summary = fmt.Sprintf("Key ceremony %d: %s excluded in attempt %d", ev.Ceremony, ev.Member, ev.Attempt)
			if ev.Reason != "" {
				r.Summary += " — " + ev.Reason
			}
		case "key.generated":
			r.Summary = fmt.Sprintf("Key ceremony %d made the zone key: threshold %d of %d (%s), group key %s", ev.Ceremony, ev.Threshold, len(ev.Participants), strings.Join(ev.Participants, ", "), shortHex(ev.GroupKey))
		case "key.failed":
			r.Summary = fmt.Sprintf("Key ceremony %d failed in attempt %d", ev.Ceremony, ev.Attempt)
			if ev.Reason != "" {
				r.Summary += " — " + ev.Reason
			}
		case "signing.opened":
			r.Summary = fmt.Sprintf("Signing request %d opened for serial %d: %d RRsets to sign with the key of ceremony %d", ev.Request, ev.Serial, ev.Count, ev.Ceremony)
		case "signing.session":
			batch := ""
			if ev.Total > ev.Count {
				batch = fmt.Sprintf(" (messages %d–%d of %d)", ev.First+1, ev.First+ev.Count, ev.Total)
			}
			r.Summary = fmt.Sprintf("Signing request %d, %s round, session %d%s: signers %s", ev.Request, ev.Round, ev.Attempt, batch, strings.Join(ev.Participants, ", "))
		case "signing.excluded":
			r.Summary = fmt.Sprintf("Signing request %d, %s round: %s excluded — %s", ev.Request, ev.Round, ev.Member, ev.Reason)
		case "signing.abandoned":
			r.Summary = fmt.Sprintf("Signing request %d abandoned in its %s round — %s", ev.Request, ev.Round, ev.Reason)
		case "zone.signed":
			r.Summary = fmt.Sprintf("Zone version serial %d signed (%d RRSIGs, key tag %d) by %s, ZONEMD %s", ev.Serial, ev.Count, ev.KeyTag, strings.Join(ev.Participants, ", "), shortHex(ev.ZONEMD))
			if ev.Expires != nil {
				r.Summary += ", first signature expires " + fmtTime(*ev.Expires)
			}
		case "zone.refresh":
			r.Summary = fmt.Sprintf("Zone version serial %d made to refresh signatures — %s", ev.Serial, ev.Reason)
		case "key.published":
			r.Summary = fmt.Sprintf("The new key of ceremony %d is published in serial %d beside the signing key", ev.Ceremony, ev.Serial)
			if ev.Next != nil {
				r.Summary += "; it takes over at " + fmtTime(*ev.Next)
			}
		case "key.switched":
			r.Summary = fmt.Sprintf("The key of ceremony %d is the zone key now — %s", ev.Ceremony, ev.Reason)
		case "key.active":
			r.Summary = fmt.Sprintf("Serial %d is the first version signed by the key of ceremony %d", ev.Serial, ev.Ceremony)
			if ev.Next != nil {
				r.Summary += "; the old key is retired at " + fmtTime(*ev.Next)
			}
		case "key.retired":
			r.Summary = fmt.Sprintf("The key of ceremony %d is retired from the zone — %s", ev.Ceremony, ev.Reason)
		default:
			r.Summary = fmt.Sprintf("Event %q", ev.Event)
			if ev.Member != "" {
				r.Summary += " by member " + ev.Member
			}
		}
	case d.Action != nil:
		a := d.Action
		r.Type, r.Kind, r.Signer = "action", a.Kind, a.Signer
		switch b := a.Body.(type) {
		case *action.Delegate:
			r.TLD = b.TLD
			r.Summary = fmt.Sprintf("%s set the delegation of %s: %d NS, %d DS, %d glue hosts", a.Signer, b.TLD, len(b.NS), len(b.DS), len(b.Glue))
			if len(b.Affects) > 0 {
				r.Summary += " (affects " + strings.Join(b.Affects, ", ") + ")"
			}
		case *action.Propose:
			r.TLD = b.TLD
			subject := b.TLD
			switch {
			case b.Member != nil:
				subject = "member " + b.Member.Name
			case b.Restriction != 0:
				subject = fmt.Sprintf("restriction %d", b.Restriction)
			case isKeyProposal(b.Proposal):
				subject = fmt.Sprintf("the zone key (threshold %d)", b.Threshold)
			case subject == "":
				subject = "the constitution"
			}
			r.Summary = fmt.Sprintf("%s proposed %s of %s", a.Signer, b.Proposal, subject)
		case *action.Vote:
			r.Summary = fmt.Sprintf("%s voted %s on proposal %d", a.Signer, b.Vote, b.Proposal)
		case *action.Respond:
			r.Summary = fmt.Sprintf("%s responded to restriction %d", a.Signer, b.Restriction)
		case *action.DKG:
			r.Summary = fmt.Sprintf("%s: %s step of key ceremony %d, attempt %d", a.Signer, b.Round, b.Ceremony, b.Attempt)
		case *action.Signing:
			if b.Step == action.StepNonces {
				r.Summary = fmt.Sprintf("%s's node: nonce commitments for the key of ceremony %d", a.Signer, b.Ceremony)
			} else {
				r.Summary = fmt.Sprintf("%s's node: signature shares, chunk %d of signing request %d, session %d", a.Signer, b.Chunk, b.Request, b.Session)
			}
		default:
			// A kind this portal does not know yet: said as such; the
			// entry page shows it decoded.
			r.Summary = fmt.Sprintf("%s: a %s action", a.Signer, a.Kind)
		}
	default:
		r.Summary = "an entry that does not decode"
		if d.Err != nil {
			r.Summary += ": " + d.Err.Error()
		}
	}
	return r
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// rows summarises the given entries of l.
func rows(l api.Log, idx []int64) ([]entryRow, error) {
	out := make([]entryRow, 0, len(idx))
	for _, i := range idx {
		e, err := l.Entry(i)
		if err != nil {
			return nil, fmt.Errorf("portal: reading log entry %d: %v", i, err)
		}
		out = append(out, summarize(i, e))
	}
	return out, nil
}

// prettyJSON indents v as JSON without HTML escaping.
func prettyJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err.Error()
	}
	return buf.String()
}

// signedCheckpoint is the log's latest signed checkpoint, opened.
type signedCheckpoint struct {
	Size    int64
	Root    string
	Signers []string
	Note    string
}

// Optional methods of the Log that *translog.Log has: the served signed
// checkpoint and the one of a given size.
type checkpointReader interface {
	Checkpoint() ([]byte, error)
}
type checkpointAtReader interface {
	CheckpointAt(size int64) ([]byte, error)
}

// memberVerifiers returns the verifiers of the members' keys.
func memberVerifiers(ms []registry.Member) note.Verifiers {
	var vs []note.Verifier
	for _, m := range ms {
		if v, err := note.NewVerifier(m.Key); err == nil {
			vs = append(vs, v)
		}
	}
	return note.VerifierList(vs...)
}

// openCheckpoint opens a signed checkpoint and names the members whose
// signatures on it verify. Other signatures (witnesses) are not counted.
func openCheckpoint(msg []byte, vs note.Verifiers) (*signedCheckpoint, error) {
	n, err := note.Open(msg, vs)
	var text string
	var signers []string
	switch {
	case err == nil:
		text = n.Text
		for _, s := range n.Sigs {
			signers = append(signers, s.Name)
		}
	default:
		var u *note.UnverifiedNoteError
		if !asUnverified(err, &u) {
			return nil, fmt.Errorf("portal: opening the checkpoint: %v", err)
		}
		text = u.Note.Text
	}
	_, size, root, err := translog.ParseCheckpoint([]byte(text))
	if err != nil {
		return nil, err
	}
	return &signedCheckpoint{Size: size, Root: root.String(), Signers: signers, Note: string(msg)}, nil
}

func asUnverified(err error, u **note.UnverifiedNoteError) bool {
	v, ok := err.(*note.UnverifiedNoteError)
	if ok {
		*u = v
	}
	return ok
}

// latestCheckpoint reads the log's served checkpoint (nil if none yet).
func latestCheckpoint(l api.Log, vs note.Verifiers) (*signedCheckpoint, error) {
	if isNil(l) {
		return nil, nil
	}
	var msg []byte
	if c, ok := l.(checkpointReader); ok {
		m, err := c.Checkpoint()
		if err != nil {
			return nil, nil // none signed yet
		}
		msg = m
	} else {
		rec := &bufWriter{h: http.Header{}}
		req, _ := http.NewRequest("GET", "/checkpoint", nil)
		l.Handler().ServeHTTP(rec, req)
		if rec.code != http.StatusOK {
			return nil, nil
		}
		msg = rec.buf.Bytes()
	}
	return openCheckpoint(msg, vs)
}

// bufWriter is a minimal http.ResponseWriter into a buffer.
type bufWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (b *bufWriter) Header() http.Header { return b.h }
func (b *bufWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.buf.Write(p)
}
