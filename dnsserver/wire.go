package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// checkWire reports whether msg is a well-formed DNS message (RFC 1035
// §4.1): its header counts match the records that follow, exactly, with
// no octet left over; every name has labels of at most 63 octets, at most
// 255 octets in all, and compression pointers only to earlier names
// (§4.1.4: "a prior occurrence"), which also rules out loops. miekg/dns
// is lenient on all of these (a count larger than the records present, a
// pointer forward, trailing octets); a message that fails here gets FORMERR
// rather than an answer to what the lenient reading guessed.
func checkWire(msg []byte) error {
	if len(msg) < 12 {
		return fmt.Errorf("%d octets, shorter than a header", len(msg))
	}
	off := 12
	var err error
	for i := range int(binary.BigEndian.Uint16(msg[4:])) {
		if off, err = skipName(msg, off); err != nil {
			return fmt.Errorf("question %d: %v", i+1, err)
		}
		if off += 4; off > len(msg) {
			return fmt.Errorf("question %d is cut short", i+1)
		}
	}
	rrs := int(binary.BigEndian.Uint16(msg[6:])) + int(binary.BigEndian.Uint16(msg[8:])) + int(binary.BigEndian.Uint16(msg[10:]))
	for i := range rrs {
		if off, err = skipName(msg, off); err != nil {
			return fmt.Errorf("record %d: %v", i+1, err)
		}
		if off+10 > len(msg) {
			return fmt.Errorf("record %d is cut short", i+1)
		}
		off += 10 + int(binary.BigEndian.Uint16(msg[off+8:]))
		if off > len(msg) {
			return fmt.Errorf("record %d's data runs past the message", i+1)
		}
	}
	if off != len(msg) {
		return fmt.Errorf("%d octets after the last record", len(msg)-off)
	}
	return nil
}

// skipName checks the name at off and returns the offset past it.
func skipName(msg []byte, off int) (int, error) {
	end := -1 // where the name ends in place, once a pointer is followed
	n := 0    // wire length so far
	for {
		if off >= len(msg) {
			return 0, fmt.Errorf("name runs past the message")
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if n += c + 1; n > 255 {
				return 0, fmt.Errorf("name longer than 255 octets")
			}
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return end, nil
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return 0, fmt.Errorf("compression pointer cut short")
			}
			target := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if target >= off || target < 12 {
				return 0, fmt.Errorf("compression pointer from %d to %d, not to an earlier name", off, target)
			}
			if end < 0 {
				end = off + 2
			}
			off = target
		default:
			return 0, fmt.Errorf("label type %#x is not a length or a pointer", c&0xc0)
		}
	}
}

// strictReader hands miekg/dns's TCP server a malformed message (see
// checkWire) as its header alone, with every count zero, so that ServeDNS
// answers it as the UDP path does (FORMERR for a query without a question).
type strictReader struct{ dns.Reader }

func (r strictReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := r.Reader.ReadTCP(conn, timeout)
	if err != nil || len(m) < 12 || checkWire(m) == nil {
		return m, err
	}
	h := append([]byte(nil), m[:12]...)
	clear(h[4:12])
	return h, nil
}
