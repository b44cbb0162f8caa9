package logscanbench

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// secretSearch finds which planted secrets occur anywhere in the redacted
// text, in one pass over it whatever their number: every 8-byte window is
// checked against the secrets' first 8 bytes (a bitmap rules out almost all
// windows with one memory access), and a hit is confirmed byte for byte.
type secretSearch struct {
	planted []string
	found   []bool
	byHead  map[uint64][]int
	bloom   []uint64
	short   []int // secrets under 8 bytes, checked with strings.Contains
}

const bloomBits = 1 << 22

func newSecretSearch(planted []string) *secretSearch {
	s := &secretSearch{
		planted: planted, found: make([]bool, len(planted)),
		byHead: make(map[uint64][]int, len(planted)), bloom: make([]uint64, bloomBits/64),
	}
	for i, p := range planted {
		if len(p) < 8 {
			s.short = append(s.short, i)
			continue
		}
		k := binary.LittleEndian.Uint64([]byte(p[:8]))
		s.byHead[k] = append(s.byHead[k], i)
		h := bloomHash(k)
		s.bloom[h/64] |= 1 << (h % 64)
	}
	return s
}

func bloomHash(k uint64) uint64 {
	return (k * 0x9e3779b97f4a7c15) >> (64 - 22)
}

// scan marks the secrets that occur in line.
func (s *secretSearch) scan(line string) {
	for i := 0; i+8 <= len(line); i++ {
		k := uint64(line[i]) | uint64(line[i+1])<<8 | uint64(line[i+2])<<16 | uint64(line[i+3])<<24 |
			uint64(line[i+4])<<32 | uint64(line[i+5])<<40 | uint64(line[i+6])<<48 | uint64(line[i+7])<<56
		h := bloomHash(k)
		if s.bloom[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, idx := range s.byHead[k] {
			if strings.HasPrefix(line[i:], s.planted[idx]) {
				s.found[idx] = true
			}
		}
	}
	for _, idx := range s.short {
		if !s.found[idx] && strings.Contains(line, s.planted[idx]) {
			s.found[idx] = true
		}
	}
}

// missed counts the planted secrets found in the text and shows up to 20 of
// them by their first four bytes and length.
func (s *secretSearch) missed() (int, []string) {
	n := 0
	var shown []string
	for i, f := range s.found {
		if !f {
			continue
		}
		n++
		if len(shown) < 20 {
			p := s.planted[i]
			shown = append(shown, p[:min(4, len(p))]+"… ("+strconv.Itoa(len(p))+" bytes)")
		}
	}
	return n, shown
}
