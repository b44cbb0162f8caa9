package template

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"double space", "  a   b\tc ", "a b c"},
		{"path piece", "file /var/log/x.log closed", "file <*> closed"},
		{"path after delimiter", "path=/a/b:c", "path=<*>:c"},
		{"trailing slash is not a path", "rule: /var/www/", "rule: /var/www/"},
		{"boolean", "ok=True done=false", "ok=<*> done=<*>"},
		{"user strings", "user root by admin is NULL", "user <*> by <*> is <*>"},
		{"digits", "took 12 ms", "took <*> ms"},
		{"digits inside words stay", "eth0 v2", "eth0 v2"},
		{"word with variable", "blk_<*> and node-<*>", "<*> and node-<*>"},
		{"slash exception", "<*>/<*> x<*>/y", "<*>/<*> x<*>/y"},
		{"dot-separated variables", "<*>.<*>.<*>.<*>:<*>", "<*>:<*>"},
		{"consecutive variables", "<*><*><*>", "<*>"},
		{"numbers with dots", "version 1.2.3", "version <*>"},
		{"ip and port", "10.0.0.1:8080", "<*>:<*>"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Canonical(tt.in))
		})
	}
}

func TestCanonicalIdempotent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a <*>.<*> b", "blk_<*> <*><*>", "x=/a/b 1.2", "True-false_null"} {
		once := Canonical(in)
		require.Equal(t, once, Canonical(once), in)
	}
}
