package airflow

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		writes    []string
		maxBytes  int
		maxLines  int
		text      string
		truncated bool
		lines     int64
	}{
		{"fits", []string{"a\n", "b\n"}, 100, 0, "a\nb", false, 2},
		{"unterminated last line", []string{"a\nb"}, 100, 0, "a\nb", false, 2},
		{"bytes: drops the partial first line", []string{"line1\nline2\n", "line3\n"}, 10, 0, "line3", true, 3},
		{"one write larger than the ring", []string{strings.Repeat("x", 50) + "\nend\n"}, 8, 0, "end", true, 2},
		{"wraps many times", []string{"0\n", "1\n", "2\n", "3\n", "4\n", "5\n", "6\n"}, 5, 0, "5\n6", true, 7},
		{"lines", []string{"a\nb\nc\nd\n"}, 100, 2, "c\nd", true, 4},
		{"single long line keeps its tail", []string{strings.Repeat("ab", 10)}, 6, 0, "ababab", true, 1},
		{"empty", nil, 10, 5, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := newTailBuffer(tt.maxBytes)
			for _, w := range tt.writes {
				tb.Write([]byte(w))
			}
			text, truncated := tb.finish(tt.maxBytes, tt.maxLines)
			require.Equal(t, tt.text, text)
			require.Equal(t, tt.truncated, truncated)
			require.Equal(t, tt.lines, tb.totalLines())
		})
	}
}

func TestFinishBoundAfterSanitizing(t *testing.T) {
	t.Parallel()
	// Every NUL-separated byte becomes U+FFFD (3 bytes): the result must
	// still fit MaxBytes.
	tb := newTailBuffer(64)
	tb.Write(bytes.Repeat([]byte{0xff, 'a'}, 200))
	text, truncated := tb.finish(64, 0)
	require.True(t, truncated)
	require.LessOrEqual(t, len(text), 64)
	require.True(t, utf8.ValidString(text))
}

func TestHeaderFilter(t *testing.T) {
	t.Parallel()
	in := "*** Found logs in s3:\n***   * s3://bucket/dag_id=d/attempt=1.log\n" +
		"*** Reading remote log from Cloudwatch log_group: g log_stream: s.\n" +
		"[2024-03-13, 15:19:53 UTC] {taskinstance.py:1776} ERROR - Task failed\n" +
		"*** not a header, kept\n" + "**bold** text\n" + "*" + strings.Repeat("x", 2000) + "\n"
	for _, chunk := range []int{1, 3, 7, 64, len(in)} {
		tb := newTailBuffer(1 << 20)
		src := &sourceSet{}
		f := &headerFilter{tail: tb, sources: src}
		src.add("s3://bucket/dag_id=d/attempt=1.log") // already known: not repeated
		for s := in; len(s) > 0; {
			k := min(chunk, len(s))
			f.Write([]byte(s[:k]))
			s = s[k:]
		}
		f.flush()
		text, _ := tb.finish(1<<20, 0)
		require.Equal(t, []string{"s3://bucket/dag_id=d/attempt=1.log", "Cloudwatch log_group: g log_stream: s"}, src.list)
		require.Equal(t, "[2024-03-13, 15:19:53 UTC] {taskinstance.py:1776} ERROR - Task failed\n"+
			"*** not a header, kept\n**bold** text\n*"+strings.Repeat("x", 2000), text, "chunk %d", chunk)
	}
}

func TestTokenSaysEnd(t *testing.T) {
	t.Parallel()
	require.True(t, tokenSaysEnd("eyJlbmRfb2ZfbG9nIjp0cnVlLCJsb2dfcG9zIjoxNn0.c2ln"))   // {"end_of_log":true,"log_pos":16}
	require.False(t, tokenSaysEnd("eyJlbmRfb2ZfbG9nIjpmYWxzZSwibG9nX3BvcyI6MTZ9.c2ln")) // end_of_log false
	require.False(t, tokenSaysEnd(".eJyrVkrNS8_PT89JVbJSKikqTdVRKi1OLYrPTFGyUqoFAJ0PCqk.sig"))
	require.False(t, tokenSaysEnd("garbage"))
}
