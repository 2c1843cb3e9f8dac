package dnsserver

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"
)

// RateLimit configures response rate limiting (RRL) of UDP answers, which
// keeps the server from being used to flood a spoofed victim: each client
// network — an IPv4 /24 or an IPv6 /56 — gets a token bucket of responses.
// Responses over the limit are dropped, except that every Slip-th of them is
// sent as an empty truncated answer (TC=1), so that a real client caught in
// the limit retries over TCP, which is never limited. The zero value turns
// rate limiting off.
type RateLimit struct {
	// ResponsesPerSecond is the steady rate allowed to one client network;
	// 0 turns rate limiting off.
	ResponsesPerSecond int
	// Burst is how many responses a quiet client network may receive at
	// once (default ResponsesPerSecond).
	Burst int
	// Slip: every Slip-th response over the limit is sent truncated instead
	// of dropped (default 2; 1 truncates every one; -1 drops every one).
	Slip int
}

// rrlBuckets is the size of the bucket table (a power of two). Networks
// whose keys collide share a slot; the newer one resets it, which can only
// make the limit more lenient.
const rrlBuckets = 1 << 16

type rrlAction int

const (
	rrlSend rrlAction = iota
	rrlDrop
	rrlSlip
)

// limiter is a table of token buckets kept as GCRA theoretical arrival
// times: a response is allowed when tat-now ≤ tolerance, and moves tat by
// interval.
type limiter struct {
	interval  int64 // ns per response
	tolerance int64 // (burst-1) intervals
	slip      int
	seed      uint64
	locks     [64]sync.Mutex
	buckets   []rrlBucket
}

type rrlBucket struct {
	key   uint64
	tat   int64
	drops uint32
}

func newLimiter(rl RateLimit) (*limiter, error) {
	if rl.ResponsesPerSecond < 0 || rl.Burst < 0 || rl.Slip < -1 {
		return nil, fmt.Errorf("dnsserver: RateLimit %+v has a negative field", rl)
	}
	if rl.ResponsesPerSecond == 0 {
		return nil, nil
	}
	burst := rl.Burst
	if burst == 0 {
		burst = rl.ResponsesPerSecond
	}
	slip := rl.Slip
	if slip == 0 {
		slip = 2
	}
	var seed [8]byte
	rand.Read(seed[:])
	l := &limiter{
		interval: int64(time.Second) / int64(rl.ResponsesPerSecond),
		slip:     slip,
		seed:     binary.LittleEndian.Uint64(seed[:]),
		buckets:  make([]rrlBucket, rrlBuckets),
	}
	l.tolerance = int64(burst-1) * l.interval
	return l, nil
}

// networkKey is the client network of ip: its /24 (IPv4, also when mapped
// into IPv6) or /56 (IPv6), tagged with the family.
func networkKey(ip net.IP) uint64 {
	if v4 := ip.To4(); v4 != nil {
		return 4<<56 | uint64(v4[0])<<16 | uint64(v4[1])<<8 | uint64(v4[2])
	}
	if len(ip) != net.IPv6len {
		return 0
	}
	var k uint64
	for _, b := range ip[:7] {
		k = k<<8 | uint64(b)
	}
	return k | 6<<56
}

// allow charges one response to the network of ip at time now (ns).
func (l *limiter) allow(ip net.IP, now int64) rrlAction {
	key := networkKey(ip)
	h := (key ^ l.seed) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	i := h & (rrlBuckets - 1)
	mu := &l.locks[i%uint64(len(l.locks))]
	mu.Lock()
	defer mu.Unlock()
	b := &l.buckets[i]
	if b.key != key {
		*b = rrlBucket{key: key, tat: now}
	}
	tat := max(b.tat, now)
	if tat-now > l.tolerance {
		b.drops++
		if l.slip > 0 && b.drops%uint32(l.slip) == 0 {
			return rrlSlip
		}
		return rrlDrop
	}
	b.tat = tat + l.interval
	return rrlSend
}

// slipped cuts the answer resp down to its header and question with TC set
// (and its OPT, if it is the last record, as the server writes it).
func slipped(resp []byte) []byte {
	if len(resp) < 12 {
		return nil
	}
	end := 12
	if binary.BigEndian.Uint16(resp[4:]) == 1 {
		for end < len(resp) && resp[end] != 0 && resp[end]&0xc0 == 0 {
			end += 1 + int(resp[end])
		}
		end += 1 + 4
		if end > len(resp) {
			return nil
		}
	} else {
		binary.BigEndian.PutUint16(resp[4:], 0)
	}
	var opt []byte
	if n := len(resp); binary.BigEndian.Uint16(resp[10:]) > 0 && n-11 >= end &&
		resp[n-11] == 0 && binary.BigEndian.Uint16(resp[n-10:]) == 41 && binary.BigEndian.Uint16(resp[n-2:]) == 0 {
		opt = resp[n-11:]
	}
	resp[2] |= 0x02 // TC
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	out := resp[:end]
	if opt != nil {
		out = append(out, opt...) // copies forward within resp: opt lies after end
		binary.BigEndian.PutUint16(resp[10:], 1)
	}
	return out
}
