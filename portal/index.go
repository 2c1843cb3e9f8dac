package portal

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// index is what the portal learns from the log, kept up to date
// incrementally: each log entry is read and decoded once, when the log has
// grown past it. Invariant: every field describes exactly the entries
// [0, size).
type index struct {
	mu   sync.Mutex
	size int64

	// byTLD lists, ascending, the entries that mention a TLD (a delegation
	// of it or naming it in affects, a proposal about it, a vote on such
	// a proposal, its outcome, a restriction's response or lapse).
	byTLD map[string][]int64
	// propTLD and propEntry map a proposal id to the TLD it is about and
	// to its proposing entry; outcome to its proposal.outcome entry.
	propTLD   map[uint64]string
	propEntry map[uint64]int64
	outcome   map[uint64]int64
	proposals uint64 // propose actions seen: the k-th is proposal k
	// feed lists decisions and zone versions (newest last).
	feed []feedItem
	// zoneVersions lists every zone.version entry, oldest first.
	zoneVersions []zoneVersion
	// sizes are log sizes the portal saw (newest last, at most keepSizes):
	// the checkpoints whose cosigners the members page shows.
	sizes []int64

	// names is the sorted TLD names and owned each owner's TLDs, from
	// the server's api.TLDIndex at the state of the request being served.
	names []string
	owned map[string][]string
}

const keepSizes = 24

// feedItem is a decision or a zone version, for the Atom feed.
type feedItem struct {
	Index int64
	Event registry.Event
}

// zoneVersion is one zone.version log entry.
type zoneVersion struct {
	Index  int64
	Serial uint32
	ZONEMD string
	Height int64
	Time   time.Time
}

func newIndex() *index {
	return &index{byTLD: map[string][]int64{}, propTLD: map[uint64]string{}, propEntry: map[uint64]int64{},
		outcome: map[uint64]int64{}}
}

// catchUp indexes the entries [x.size, size) of l. The caller holds x.mu.
func (x *index) catchUp(l api.Log, size int64) error {
	if size <= x.size {
		return nil
	}
	for i := x.size; i < size; i++ {
		e, err := l.Entry(i)
		if err != nil {
			return fmt.Errorf("portal: reading log entry %d: %v", i, err)
		}
		x.add(i, e)
		x.size = i + 1
	}
	if n := len(x.sizes); n == 0 || x.sizes[n-1] != size {
		x.sizes = append(x.sizes, size)
		if len(x.sizes) > keepSizes {
			x.sizes = slices.Delete(x.sizes, 0, len(x.sizes)-keepSizes)
		}
	}
	return nil
}

func (x *index) mention(tld string, i int64) {
	if tld == "" {
		return
	}
	l := x.byTLD[tld]
	if n := len(l); n > 0 && l[n-1] == i {
		return
	}
	x.byTLD[tld] = append(l, i)
}

// add indexes entry i.
func (x *index) add(i int64, e []byte) {
	if bytes.HasPrefix(e, []byte(registry.EventHeader)) {
		ev, err := registry.DecodeEvent(e)
		if err != nil {
			return
		}
		switch ev.Event {
		case "proposal.outcome":
			x.outcome[ev.Proposal] = i
			x.mention(x.propTLD[ev.Proposal], i)
			x.feed = append(x.feed, feedItem{i, *ev})
		case "restriction.lapsed":
			x.mention(ev.TLD, i)
			x.feed = append(x.feed, feedItem{i, *ev})
		case "zone.version":
			x.zoneVersions = append(x.zoneVersions, zoneVersion{i, ev.Serial, ev.ZONEMD, ev.Height, ev.Time})
			x.feed = append(x.feed, feedItem{i, *ev})
		}
		return
	}
	a, err := action.Decode(e)
	if err != nil {
		return
	}
	switch b := a.Body.(type) {
	case *action.Delegate:
		x.mention(b.TLD, i)
		for _, t := range b.Affects {
			x.mention(t, i)
		}
	case *action.Propose:
		x.proposals++
		id := x.proposals
		x.propEntry[id] = i
		tld := b.TLD
		if b.Proposal == constitution.RestrictionLift {
			tld = x.propTLD[b.Restriction]
		}
		if tld != "" {
			x.propTLD[id] = tld
			x.mention(tld, i)
		}
	case *action.Vote:
		x.mention(x.propTLD[b.Proposal], i)
	case *action.Respond:
		x.mention(x.propTLD[b.Restriction], i)
	}
}

// history returns the entries mentioning tld, newest first, page p (from
// 0) of n, and the number of pages.
func (x *index) history(tld string, p, n int) ([]int64, int) {
	l := x.byTLD[tld]
	pages := (len(l) + n - 1) / n
	if p < 0 || p >= pages {
		return nil, pages
	}
	hi := len(l) - p*n
	lo := max(hi-n, 0)
	out := make([]int64, 0, hi-lo)
	for j := hi - 1; j >= lo; j-- {
		out = append(out, l[j])
	}
	return out, pages
}
