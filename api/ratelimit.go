package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits bounds how fast one client address and one signer may submit
// actions. Zero rates mean no limit. A refused submission gets 429 with a
// Retry-After header, before the node spends anything on it.
type Limits struct {
	// PerAddress and PerSigner are sustained rates in actions per second;
	// Burst is how many may come at once (default: ten seconds' worth).
	PerAddress float64
	PerSigner  float64
	Burst      float64
}

// limiter is a set of token buckets by key.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
	now         func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the memory a flood of distinct keys can take: beyond
// it, full (idle) buckets are forgotten.
const maxBuckets = 100_000

func newLimiter(rate, burst float64) *limiter {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = 10 * rate
	}
	return &limiter{rate: rate, burst: burst, buckets: map[string]*bucket{}, now: time.Now}
}

// allow takes a token for key, or says how long until one is there.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// clientAddr is the request's remote IP (the port dropped).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany answers 429.
func tooMany(w http.ResponseWriter, who string, wait time.Duration) {
	secs := int(wait.Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many actions from %s: try again in %d s", who, secs))
}
