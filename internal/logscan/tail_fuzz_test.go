package logscan_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

// FuzzTail checks Tail's promises on any input and any small bounds: clean
// UTF-8 lines without control bytes, within MaxLines and MaxBytes, the
// whole input counted.
func FuzzTail(f *testing.F) {
	f.Add([]byte("*** Found local files:\n***   * /x\nline\r\n\x1b[31mred\x1b[0m\n"), uint8(3), uint16(64), uint8(8))
	f.Add([]byte("\x00\xff\xfe[0m\r\r\n"+strings.Repeat("é", 100)), uint8(0), uint16(10), uint8(0))
	f.Add([]byte(strings.Repeat("x", 300)+"\n*"+strings.Repeat("*", 2000)), uint8(1), uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, maxLines uint8, maxBytes uint16, lineCap uint8) {
		opts := logscan.TailOptions{MaxLines: int(maxLines), MaxBytes: int64(maxBytes), MaxLineBytes: int(lineCap)}
		res, err := logscan.Tail(bytes.NewReader(in), opts)
		require.NoError(t, err)
		require.EqualValues(t, len(in), res.BytesRead)
		if maxLines > 0 {
			require.LessOrEqual(t, len(res.Lines), int(maxLines))
		}
		limit := int(maxBytes)
		if limit == 0 {
			limit = logscan.DefaultTailBytes
		}
		size := 0
		for _, l := range res.Lines {
			require.True(t, utf8.ValidString(l), "%q", l)
			require.False(t, strings.ContainsAny(l, "\x00\x1b\r\n"), "%q", l)
			size += len(l) + 1
		}
		if len(res.Lines) > 0 {
			require.LessOrEqual(t, size-1, limit)
		}
		require.LessOrEqual(t, len(res.Lines), res.LinesRead+strings.Count(string(in), "\r")+1)
	})
}

// FuzzParseLine checks that ParseLine never panics and keeps the line.
func FuzzParseLine(f *testing.F) {
	f.Add("[2024-05-01, 02:00:03 UTC] {taskinstance.py:1234} ERROR - x")
	f.Add(`{"timestamp":"2025-01-01T00:00:00Z","level":"error","event":"x","a":{"b":1}}`)
	f.Add("2025-01-09T07:17:10Z [error    ] x [task] k=v")
	f.Add("[2020-07-15 11:25:46,471: ERROR/ForkPoolWorker-1] x")
	f.Fuzz(func(t *testing.T, s string) {
		l := logscan.ParseLine(s)
		require.Equal(t, s, l.Raw)
		if l.Time == nil && l.Source == "" && l.Level == "" {
			require.Equal(t, s, l.Message)
		}
	})
}
