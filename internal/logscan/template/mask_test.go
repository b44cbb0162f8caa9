package template

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"numbers", "Task 42 failed after 3 retries", "Task <*> failed after <*> retries"},
		{"signed and decimal", "offset -17 size 3.5", "offset <*> size <*>"},
		{"range dash and hyphenated word", "range 2000-2002 node-129", "range <*>-<*> node-<*>"},
		{"hex", "addr 0x7fed806eb5d flags 0X1 mask ffffffff crc 003a90fc", "addr <*> flags <*> mask <*> crc <*>"},
		{"uuid", "instance 0673dd71-34c5-4fbb-86c4-40623fbe45b4 started", "instance <*> started"},
		{"numeric timestamps keep their punctuation", "at 2017-07-03 13:48:39.362", "at <*>-<*>-<*> <*>:<*>:<*>"},
		{"written-out date is one value", "on Fri Jul 01 08:16:53 PDT 2005 again", "on <*> again"},
		{"ip and port", "connect 10.251.73.220:50010 from /10.0.0.1:4242", "connect <*>:<*> from <*>:<*>"},
		{"ip list", "from 10.0.0.1,10.0.0.2 ok", "from <*> ok"},
		{"mac and ipv6", "mac 00:11:43:e3:ba:c3 ip 2607:f140:6000:8:c6b3:1ff:fecd:467f", "mac <*> ip <*>"},
		{"unix path", "open /var/log/app.log failed", "open <*> failed"},
		{"path in parentheses", "at (/a/b/c): checking", "at (<*>): checking"},
		{"relative and windows paths", `read ./conf/x.yaml and C:\Windows\x.dll`, "read <*> and <*>"},
		{"url keeps its scheme", "GET https://example.com/a/b?c=1 done", "GET https://<*> done"},
		{"http request target", `"GET /v2/servers/detail HTTP/1.1" status: 200`, `"GET <*>" status: <*>`},
		{"quoted identifier", "task 'attempt_201706092018_0024_m_000003_1012' done", "task '<*>' done"},
		{"quoted word stays", "state 'Active'", "state 'Active'"},
		{"email", "mail to bob.smith@example.org bounced", "mail to <*> bounced"},
		{"durations", "took 160 ms, timeout 10000ms", "took <*> ms, timeout <*>"},
		{"sizes", "stored 5.2 KB, free 1.5 GB)", "stored <*>, free <*>)"},
		{"hosts", "host proxy.cse.cuhk.edu.hk:5070 and db.example.com", "host <*>:<*> and <*>"},
		{"version", "running v1.2.3", "running <*>"},
		{"class names stay", "java.io.IOException thrown", "java.io.IOException thrown"},
		{"component path", "start com.example.app/.MainActivity", "start <*>"},
		{"booleans and user strings", "user root enabled=true value=null", "user <*> enabled=<*> value=<*>"},
		{"ids glued with underscores", "blk_-6952295868487656571 rdd_2_0", "<*> <*>"},
		{"generated identifiers", "io IO80211Family id jA9J1UvC004306", "io <*> id <*>"},
		{"trailing digits stay", "eth0 CPU2 sda1", "eth0 CPU2 sda1"},
		{"whitespace collapses", "a \t b", "a b"},
		{"empty", "", ""},
		{"blank", "  \t ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Mask(tt.in))
		})
	}
}

func TestMaskBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("z", DefaultMaxLineBytes+100)
	got := Mask(long)
	require.True(t, got == strings.Repeat("z", DefaultMaxLineBytes)+" <*>", "long line not cut to %d bytes plus <*>: %d bytes", DefaultMaxLineBytes, len(got))

	many := strings.Repeat("w ", DefaultMaxTokens+5)
	toks := strings.Fields(Mask(many))
	require.Len(t, toks, DefaultMaxTokens+1)
	require.Equal(t, Wildcard, toks[len(toks)-1])
}

func TestMaskInvalidUTF8(t *testing.T) {
	t.Parallel()
	got := Mask("bad \xff\xfe byte")
	require.Equal(t, "bad \uFFFD byte", got)
}
