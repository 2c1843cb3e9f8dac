package portal

import (
	"strings"
	"testing"

	"github.com/commonroot/commonroot/registry"
)

// FuzzSummarize feeds arbitrary log entries to what the portal decodes
// from the log: the summary and the index never panic, an entry that
// does not decode is said to be so, and an indexed entry is mentioned at
// most once per TLD.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte(registry.EventHeader + `{"event":"proposal.outcome","height":3,"time":"2026-01-01T00:00:00Z","proposal":1,"kind":"tld.create","outcome":"passed","tally":{"members":4,"yes":3,"no":0,"abstain":0}}` + "\n"))
	f.Add([]byte(registry.EventHeader + `{"event":"zone.version","height":3,"time":"2026-01-01T00:00:00Z","serial":2,"zonemd":"AB"}` + "\n"))
	f.Add([]byte(registry.EventHeader + `{"event":"restriction.lapsed","height":3,"time":"2026-01-01T00:00:00Z","restriction":2,"tld":"x."}` + "\n"))
	f.Add([]byte(`{"origin":"o","signer":"op","seq":1,"expires":"2026-01-01T00:00:00Z","kind":"delegate","body":{"tld":"x.","ns":["a.x.","b.y."]}}` + "\n\n— op AAAA\n"))
	f.Add([]byte("\xff\x00"))
	f.Fuzz(func(t *testing.T, e []byte) {
		r := summarize(7, e)
		if r.Index != 7 || r.Summary == "" {
			t.Fatalf("summary %+v", r)
		}
		if r.Type == "unknown" && !strings.HasPrefix(r.Summary, "an entry that does not decode") {
			t.Fatalf("an undecodable entry summarised as %q", r.Summary)
		}
		x := newIndex()
		x.add(0, e)
		x.add(1, e)
		for tld, l := range x.byTLD {
			if len(l) > 2 || len(l) == 2 && l[0] >= l[1] {
				t.Fatalf("%s mentioned at %v", tld, l)
			}
		}
	})
}
