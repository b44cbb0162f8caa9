package airflowsim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzLogRendering feeds arbitrary scripted bodies through both renderers:
// neither may panic, both must produce valid UTF-8 and valid JSON.
func FuzzLogRendering(f *testing.F) {
	f.Add(LogPostgresUndefinedColumn("t", "c", "t.d"))
	f.Add(LogHTTP429("https://x"))
	f.Add(LogBinaryGarbage())
	f.Add("Traceback (most recent call last):\n  File \"x\", line 1, in <module>\nValueError")
	f.Add("[2026-05-01, 02:00:03 UTC] {a.py:1} ERROR - x\n\x00\xff")
	f.Add("{a.py:1} INFO - The above exception was the direct cause of the following exception:")
	start := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		lines := parseBody(body)
		stamp(lines, start, start.Add(time.Minute))
		text := renderV1Text(lines)
		require.True(t, utf8.ValidString(text))
		repr := pyRepr(text)
		require.NotContains(t, repr, "\n")
		_ = exceptionFrom(lines, 1)
		entries := v2Entries(lines)
		data, err := json.Marshal(entries)
		require.NoError(t, err)
		require.True(t, json.Valid(data))
	})
}

func FuzzLogToken(f *testing.F) {
	s := New(Options{SecretKey: []byte("k")})
	f.Add(s.signLogToken(logMeta{EndOfLog: true, LogPos: 16}))
	f.Add("eyJsb2dfcG9zIjoxMH0.")
	f.Add(".eJyrVg")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		m, err := s.parseLogToken(tok)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, m.LogPos, 0)
		// Anything accepted must have been signed with the key.
		again, err := s.parseLogToken(s.signLogToken(m))
		require.NoError(t, err)
		require.Equal(t, m, again)
	})
}

func FuzzVerifyJWT(f *testing.F) {
	clock := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Version: 3, SecretKey: []byte("k"), Clock: func() time.Time { return clock }})
	good := s.IssueToken("medic")
	f.Add(good)
	f.Add("e30.e30.")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Fuzz(func(t *testing.T, tok string) {
		if err := s.verifyJWT(tok); err == nil {
			parts := strings.Split(tok, ".")
			require.Len(t, parts, 3)
			require.Equal(t, strings.Join(strings.Split(good, ".")[:2], "."), strings.Join(parts[:2], "."), "only the issued header and claims verify")
		}
	})
}

func TestPyRepr(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `"it's"`},
		{`both ' and "`, `'both \' and "'`},
		{"a\nb\tc\\", `'a\nb\tc\\'`},
		{"nul\x00 bell\x07 del\x7f", `'nul\x00 bell\x07 del\x7f'`},
		{"nbsp\u00a0 line\u2028 é ✓", `'nbsp\xa0 line\u2028 é ✓'`},
		{"bad\xff", "'bad\uFFFD'"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, pyRepr(c.in), c.in)
	}
}

func TestBestMatch(t *testing.T) {
	t.Parallel()
	offers := []string{"text/plain", "application/json"}
	cases := []struct{ accept, want string }{
		{"", ""},
		{"*/*", "text/plain"},
		{"application/json", "application/json"},
		{"application/json, text/plain;q=0.9", "application/json"},
		{"text/*, application/json", "application/json"},
		{"text/plain;q=0", ""},
		{"text/html", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, bestMatch(c.accept, offers), c.accept)
	}
}
