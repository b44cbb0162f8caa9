package airflow

import (
	"bufio"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonScanner walks a JSON document from a stream without building it, so
// that one huge string field (a 2.x log's "content") can be decoded piece by
// piece. It understands just enough JSON to find top-level fields and skip
// everything else.
type jsonScanner struct {
	r *bufio.Reader
}

var errJSONSyntax = errors.New("malformed JSON")

// next skips whitespace and returns the next byte.
func (s *jsonScanner) next() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, nil
		}
	}
}

// object reads a top-level object. For each field, field is called with the
// key and the value's first byte (already consumed); it returns false to have
// the value skipped.
func (s *jsonScanner) object(field func(key string, first byte) (bool, error)) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != '{' {
		return fmt.Errorf("%w: expected an object", errJSONSyntax)
	}
	for {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c == '}' {
			return nil
		}
		if c == ',' {
			continue
		}
		if c != '"' {
			return fmt.Errorf("%w: expected a key", errJSONSyntax)
		}
		var key []byte
		if err := s.str(func(p []byte) {
			if len(key) < 256 {
				key = append(key, p[:min(len(p), 256-len(key))]...)
			}
		}); err != nil {
			return err
		}
		if c, err = s.next(); err != nil {
			return err
		} else if c != ':' {
			return fmt.Errorf("%w: expected ':'", errJSONSyntax)
		}
		if c, err = s.next(); err != nil {
			return err
		}
		handled, err := field(string(key), c)
		if err != nil {
			return err
		}
		if !handled {
			if err := s.skip(c); err != nil {
				return err
			}
		}
	}
}

// str decodes a string whose opening quote was consumed, passing decoded
// bytes to emit in pieces (valid only during the call).
func (s *jsonScanner) str(emit func([]byte)) error {
	var high rune // a pending UTF-16 high surrogate
	var rb [utf8.UTFMax]byte
	emitRune := func(r rune) { emit(rb[:utf8.EncodeRune(rb[:], r)]) }
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				return err
			}
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		j := indexEither(buf, '"', '\\')
		if j < 0 {
			if high != 0 {
				emitRune(utf8.RuneError)
				high = 0
			}
			emit(buf)
			_, _ = s.r.Discard(len(buf))
			continue
		}
		if j > 0 {
			if high != 0 {
				emitRune(utf8.RuneError)
				high = 0
			}
			emit(buf[:j])
		}
		quote := buf[j] == '"'
		_, _ = s.r.Discard(j + 1)
		if quote {
			if high != 0 {
				emitRune(utf8.RuneError)
			}
			return nil
		}
		c, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		if c != 'u' && high != 0 {
			emitRune(utf8.RuneError)
			high = 0
		}
		switch c {
		case '"', '\\', '/':
			emit([]byte{c})
		case 'b':
			emit([]byte{'\b'})
		case 'f':
			emit([]byte{'\f'})
		case 'n':
			emit([]byte{'\n'})
		case 'r':
			emit([]byte{'\r'})
		case 't':
			emit([]byte{'\t'})
		case 'u':
			var hex [4]byte
			for i := range hex {
				if hex[i], err = s.r.ReadByte(); err != nil {
					return err
				}
				if !isHex(hex[i]) {
					return fmt.Errorf("%w: bad \\u escape", errJSONSyntax)
				}
			}
			r := rune(hexValue(hex[:]))
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00:
				if high != 0 {
					emitRune(utf8.RuneError)
				}
				high = r
			case utf16.IsSurrogate(r):
				if high != 0 {
					emitRune(utf16.DecodeRune(high, r))
				} else {
					emitRune(utf8.RuneError)
				}
				high = 0
			default:
				if high != 0 {
					emitRune(utf8.RuneError)
					high = 0
				}
				emitRune(r)
			}
		default:
			return fmt.Errorf("%w: bad escape", errJSONSyntax)
		}
	}
}

// skip skips a value whose first byte was consumed.
func (s *jsonScanner) skip(first byte) error {
	discard := func([]byte) {}
	switch first {
	case '"':
		return s.str(discard)
	case '{', '[':
		depth := 1
		for depth > 0 {
			c, err := s.r.ReadByte()
			if err != nil {
				return err
			}
			switch c {
			case '"':
				if err := s.str(discard); err != nil {
					return err
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
		return nil
	}
	// A number or a literal: read to the next delimiter and put it back.
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		if c == ',' || c == '}' || c == ']' || isSpace(c) {
			return s.r.UnreadByte()
		}
	}
}
