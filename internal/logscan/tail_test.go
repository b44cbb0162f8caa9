package logscan_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

func TestTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		opts      logscan.TailOptions
		lines     []string
		truncated bool
		linesRead int
	}{
		{"empty", "", logscan.TailOptions{}, nil, false, 0},
		{"fits", "a\nb\n", logscan.TailOptions{}, []string{"a", "b"}, false, 2},
		{"unterminated last line", "a\nb", logscan.TailOptions{}, []string{"a", "b"}, false, 2},
		{"trailing blank lines go", "a\n\n\n", logscan.TailOptions{}, []string{"a"}, false, 3},
		{"max lines", "a\nb\nc\nd\n", logscan.TailOptions{MaxLines: 2}, []string{"c", "d"}, true, 4},
		{"bytes: drops the partial first line", "line1\nline2\nline3\n", logscan.TailOptions{MaxBytes: 10}, []string{"line3"}, true, 3},
		{"wraps many times", "0\n1\n2\n3\n4\n5\n6\n", logscan.TailOptions{MaxBytes: 5}, []string{"5", "6"}, true, 7},
		{"single line longer than the tail keeps its end", strings.Repeat("ab", 10), logscan.TailOptions{MaxBytes: 6}, []string{"ababab"}, true, 1},
		{
			"long line keeps its head", strings.Repeat("x", 30) + "\nnext\n",
			logscan.TailOptions{MaxBytes: 1000, MaxLineBytes: 10},
			[]string{strings.Repeat("x", 10) + " [medic: cut 20 bytes]", "next"},
			true, 2,
		},
		{
			"line cap respects characters", "é" + strings.Repeat("é", 10),
			logscan.TailOptions{MaxBytes: 1000, MaxLineBytes: 5},
			[]string{"éé [medic: cut 18 bytes]"},
			true, 1,
		},
		{"hard limit", "a\nb\nc\n", logscan.TailOptions{HardLimit: 3}, []string{"a", "b"}, true, 2},
		{"crlf and lone cr", "one\r\ntwo\rthree\n", logscan.TailOptions{}, []string{"one", "two", "three"}, false, 2},
		{
			"headers go to sources", "*** Found local files:\n***   * /logs/attempt=1.log\n[x] hello\n",
			logscan.TailOptions{},
			[]string{"[x] hello"},
			false, 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := logscan.Tail(strings.NewReader(tt.in), tt.opts)
			require.NoError(t, err)
			require.Equal(t, tt.lines, res.Lines)
			require.Equal(t, tt.truncated, res.Truncated)
			require.Equal(t, tt.linesRead, res.LinesRead)
			if tt.opts.HardLimit == 0 {
				require.EqualValues(t, len(tt.in), res.BytesRead)
			}
		})
	}
}

func TestTailSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain\ttext\n", "plain\ttext\n"},
		{"crlf\r\nline", "crlf\nline"},
		{"progress 10%\rprogress 20%", "progress 10%\nprogress 20%"},
		{"\x1b[31mred\x1b[0m", "red"},
		{"\x1b[1;32mbold\x1b[K green", "bold green"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b(Bcharset", "charset"},
		{"pasted [31mFailure[0m in test", "pasted Failure in test"},
		{"[0;39m12:00:01  [33mWARN", "12:00:01  WARN"},
		{"list[1m] and a[1] and [1234m stay", "list[1m] and a[1] and [1234m stay"},
		{"nul\x00\x00\x00here", "nul\uFFFDhere"},
		{"bad \xff\xfe utf8", "bad \uFFFD utf8"},
		{"c1 \u0085 control", "c1 \uFFFD control"},
		{"lone esc \x1b", "lone esc \uFFFD"},
		{"ok é ☃", "ok é ☃"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, logscan.Sanitize([]byte(tt.in)), "%q", tt.in)
	}
}

// TestTailChunking writes the same log in every chunk size: the result must
// not depend on how the bytes arrive.
func TestTailChunking(t *testing.T) {
	t.Parallel()
	in := "*** Found logs in s3:\n***   * s3://bucket/dag_id=d/attempt=1.log\n" +
		"*** Reading remote log from Cloudwatch log_group: g log_stream: s.\n" +
		"[2024-03-13, 15:19:53 UTC] {taskinstance.py:1776} ERROR - Task failed\n" +
		"*** Failed to fetch log file from worker.\n" + "**bold** text\n" + "*" + strings.Repeat("x", 2000) + "\n" +
		strings.Repeat("y", 100) + "\n"
	opts := logscan.TailOptions{MaxBytes: 1 << 20, MaxLineBytes: 80}
	want := []string{
		"[2024-03-13, 15:19:53 UTC] {taskinstance.py:1776} ERROR - Task failed",
		"*** Failed to fetch log file from worker.", "**bold** text",
		"*" + strings.Repeat("x", 79) + " [medic: cut 1921 bytes]",
		strings.Repeat("y", 80) + " [medic: cut 20 bytes]",
	}
	for _, chunk := range []int{1, 3, 7, 64, len(in)} {
		tl := logscan.NewTailer(opts)
		for s := in; len(s) > 0; {
			k := min(chunk, len(s))
			_, _ = tl.WriteString(s[:k])
			s = s[k:]
		}
		res := tl.Result()
		require.Equal(t, []string{"s3://bucket/dag_id=d/attempt=1.log", "Cloudwatch log_group: g log_stream: s"}, res.Sources)
		require.Equal(t, want, res.Lines, "chunk %d", chunk)
		require.Equal(t, 5, res.LinesRead)
		require.True(t, res.Truncated)
	}
}

func TestTailBoundAfterSanitizing(t *testing.T) {
	t.Parallel()
	// Every invalid byte becomes U+FFFD (3 bytes): the result must still
	// fit MaxBytes.
	res, err := logscan.Tail(bytes.NewReader(bytes.Repeat([]byte{0xff, 'a'}, 200)), logscan.TailOptions{MaxBytes: 64})
	require.NoError(t, err)
	require.True(t, res.Truncated)
	require.Len(t, res.Lines, 1)
	require.LessOrEqual(t, len(res.Lines[0]), 64)
	require.True(t, utf8.ValidString(res.Lines[0]))
}

// TestTailOneHugeLine feeds a 50 MB line without a newline, from a reader
// that never holds it: the tail stays small and memory stays bounded. It
// measures the process's allocations, so it must not run in parallel with
// other tests (sequential tests run before the parallel ones resume).
func TestTailOneHugeLine(t *testing.T) {
	const size = 50 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := io.MultiReader(strings.NewReader("start\n"), &repeatReader{b: []byte(`{"k": "vvvvvvvv"}, `), n: size})
	res, err := logscan.Tail(r, logscan.TailOptions{MaxBytes: 256 << 10, MaxLines: 200})
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	require.True(t, res.Truncated)
	require.Equal(t, 2, res.LinesRead)
	require.Len(t, res.Lines, 2)
	require.Equal(t, "start", res.Lines[0])
	require.LessOrEqual(t, len(res.Lines[1]), logscan.DefaultMaxLineBytes+64)
	require.Contains(t, res.Lines[1], "[medic: cut ")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "the line was never held whole")
}

func TestTailBinaryGarbage(t *testing.T) {
	t.Parallel()
	garbage := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range garbage {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		garbage[i] = byte(x)
	}
	res, err := logscan.Tail(bytes.NewReader(garbage), logscan.TailOptions{MaxBytes: 64 << 10, MaxLines: 500})
	require.NoError(t, err)
	require.LessOrEqual(t, len(res.Lines), 500)
	size := 0
	for _, l := range res.Lines {
		require.True(t, utf8.ValidString(l))
		require.NotContains(t, l, "\x00")
		require.NotContains(t, l, "\x1b")
		size += len(l) + 1
	}
	require.LessOrEqual(t, size, 64<<10+1)
}

func TestTailReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	res, err := logscan.Tail(io.MultiReader(strings.NewReader("kept\n"), errReader{boom}), logscan.TailOptions{})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "tail log after 5 bytes")
	require.Equal(t, []string{"kept"}, res.Lines)
}

func TestTailerStreaming(t *testing.T) {
	t.Parallel()
	tl := logscan.NewTailer(logscan.TailOptions{MaxLines: 3})
	tl.WriteLine("one")
	_, _ = tl.WriteString("two, unterminated")
	tl.EndLine()
	tl.EndLine() // idempotent
	tl.AddSource("s3://b/k")
	tl.AddSource("s3://b/k")
	tl.WriteLine("three\n")
	require.EqualValues(t, 3, tl.LinesWritten())
	res := tl.Result()
	require.Equal(t, []string{"one", "two, unterminated", "three"}, res.Lines)
	require.Equal(t, []string{"s3://b/k"}, res.Sources)
	require.False(t, res.Truncated)
}

type repeatReader struct {
	b []byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.n > 0 {
		c := copy(p[k:min(len(p), k+r.n)], r.b)
		k += c
		r.n -= c
	}
	return k, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
