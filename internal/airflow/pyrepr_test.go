package airflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Tests of the two layers that decode the 2.x JSON log body as it streams:
// the JSON scanner that finds "content", and the Python repr decoder.

// pythonRepr mimics CPython's repr() of a str, to generate test input.
func pythonRepr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

func reprList(parts []reprPart) string {
	items := make([]string, 0, len(parts))
	for _, p := range parts {
		items = append(items, "("+pythonRepr(p.Host)+", "+pythonRepr(p.Text)+")")
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func TestUnwrapPythonRepr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []reprPart
		ok   bool
	}{
		{
			"airflow 2 sample",
			`[('localhost', '*** Found local files:\n***   * /root/airflow/logs/dag_id=d/run_id=r/task_id=t/attempt=1.log\nLog for testing.')]`,
			[]reprPart{{"localhost", "*** Found local files:\n***   * /root/airflow/logs/dag_id=d/run_id=r/task_id=t/attempt=1.log\nLog for testing."}},
			true,
		},
		{
			"two hosts, double quotes, escapes",
			`[('w1', "it's \\ fine\t\x00\xe9\u2603\U0001f600"), ('w2', 'b\'c\"')]`,
			[]reprPart{{"w1", "it's \\ fine\t\x00é☃😀"}, {"w2", `b'c"`}},
			true,
		},
		{"empty list", `[]`, nil, true},
		{"spaces around", " [ ( 'h' , 'x' ) ] \n", []reprPart{{"h", "x"}}, true},
		{"lone surrogate", `[('h', '\ud800x')]`, []reprPart{{"h", "\uFFFDx"}}, true},
		{"bad hex kept literally", `[('h', '\xZZ')]`, []reprPart{{"h", `\xZZ`}}, true},
		{"plain text is passed through", "just a log\nline 2", []reprPart{{"", "just a log\nline 2"}}, false},
		{"truncated", `[('h', 'abc`, []reprPart{{"h", "abc"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := unwrapPythonRepr(tt.in)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// decodeChunked feeds s to the streaming decoder in pieces of size n.
func decodeChunked(s string, n int) []reprPart {
	var c partCollector
	d := newPyReprDecoder(&c)
	for len(s) > 0 {
		k := min(n, len(s))
		d.Write([]byte(s[:k]))
		s = s[k:]
	}
	d.Close()
	return c.parts
}

func FuzzUnwrapPythonRepr(f *testing.F) {
	f.Add("localhost", "*** Found local files:\n***   * /a.log\nhello", []byte(`[('h', 'x\n')]`), uint8(3))
	f.Add("", "quote ' and \" and \\ \x00 \x7f é ☃ \U0001F600 \u00a0", []byte(`[("h", '\U0010ffff\777')]`), uint8(1))
	f.Add("h", "", []byte("[('a'"), uint8(0))
	f.Fuzz(func(t *testing.T, host, text string, raw []byte, chunk uint8) {
		// Arbitrary input never panics, whole or in pieces.
		unwrapPythonRepr(string(raw))
		decodeChunked(string(raw), int(chunk)+1)

		// Generated input round-trips, however it is split.
		host, text = strings.ToValidUTF8(host, "?"), strings.ToValidUTF8(text, "?")
		if len(host) > maxReprHost {
			host = "" // hosts are bounded
		}
		parts := []reprPart{{host, text}, {"", text + host}}
		in := reprList(parts)
		got, ok := unwrapPythonRepr(in)
		require.True(t, ok, in)
		require.Equal(t, parts, got)
		var c partCollector
		c.parts = decodeChunked(in, int(chunk)+1)
		require.Equal(t, parts, c.parts)
	})
}

// streamField returns what the scanner streams for the top-level string
// field name.
func streamField(body []byte, name string) (string, error) {
	var out bytes.Buffer
	sc := &jsonScanner{r: bufio.NewReaderSize(bytes.NewReader(body), 16)}
	err := sc.object(func(key string, first byte) (bool, error) {
		if key == name && first == '"' {
			return true, sc.str(func(p []byte) { out.Write(p) })
		}
		return false, nil
	})
	return out.String(), err
}

func TestJSONScanner(t *testing.T) {
	t.Parallel()
	body := `{"continuation_token": "t", "nested": {"content": "no", "a": [1, {"b": "\"}"}]}, "n": -1.5e3,` +
		` "t": true, "z": null, "content": "a\nb\u00e9\ud83d\ude00\ud800x\"\\\/"}`
	got, err := streamField([]byte(body), "content")
	require.NoError(t, err)
	require.Equal(t, "a\nbé😀\uFFFDx\"\\/", got)
	_, err = streamField([]byte(`[1]`), "content")
	require.ErrorIs(t, err, errJSONSyntax)
}

func FuzzJSONScanner(f *testing.F) {
	f.Add("[('h', 'line\\n')]", "eyJ9.sig", []byte(`{"content":"x\u0041"}`))
	f.Add("<html> & \u2028 \x00 \U0001F600", "", []byte(`{"a":[{"b":"}"}],"content":`))
	f.Fuzz(func(t *testing.T, content, token string, raw []byte) {
		_, _ = streamField(raw, "content") // never panics

		content = strings.ToValidUTF8(content, "?")
		body, err := json.Marshal(map[string]any{"continuation_token": token, "content": content, "x": []any{1, "}"}})
		require.NoError(t, err)
		got, err := streamField(body, "content")
		require.NoError(t, err)
		require.Equal(t, content, got)
		require.True(t, utf8.ValidString(got))
	})
}
