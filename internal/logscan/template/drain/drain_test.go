package drain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, cfg Config, lines ...string) []string {
	t.Helper()
	p, err := New(cfg)
	require.NoError(t, err)
	return p.Parse(lines)
}

func TestDrain(t *testing.T) {
	t.Parallel()
	base := Config{Depth: 4, ST: 0.5, MaxChild: 100}
	tests := []struct {
		name  string
		cfg   Config
		lines []string
		want  []string
	}{
		{
			name:  "differing positions become wildcards",
			cfg:   base,
			lines: []string{"open file a ok", "open file b ok"},
			want:  []string{"open file <*> ok", "open file <*> ok"},
		},
		{
			name:  "below the similarity threshold",
			cfg:   base,
			lines: []string{"open a b c", "open x y z"},
			want:  []string{"open a b c", "open x y z"},
		},
		{
			name:  "different lengths never meet",
			cfg:   base,
			lines: []string{"a b c", "a b c d"},
			want:  []string{"a b c", "a b c d"},
		},
		{
			name:  "a token with a digit goes to the wildcard child",
			cfg:   base,
			lines: []string{"node1 is up", "node2 is up"},
			want:  []string{"<*> is up", "<*> is up"},
		},
		{
			name:  "short messages are never attached to the tree",
			cfg:   base,
			lines: []string{"x", "y", "x"},
			want:  []string{"x", "y", "x"},
		},
		{
			name:  "preprocessing regexes",
			cfg:   Config{Depth: 4, ST: 0.5, MaxChild: 100, Regexes: []string{`blk_-?\d+`}},
			lines: []string{"delete blk_-12 now", "delete blk_7 now"},
			want:  []string{"delete <*> now", "delete <*> now"},
		},
		{
			name:  "whole tokens only are wildcards",
			cfg:   Config{Depth: 4, ST: 0.5, MaxChild: 100, Regexes: []string{`\d+`}},
			lines: []string{"id=1 set", "id=2 set"},
			want:  []string{"id=<*> set", "id=<*> set"},
		},
		{
			name:  "a full node routes to the wildcard child",
			cfg:   Config{Depth: 4, ST: 0.5, MaxChild: 3},
			lines: []string{"a x y", "b x y", "c x y", "d x y"},
			want:  []string{"a x y", "b x y", "<*> x y", "<*> x y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parse(t, tt.cfg, tt.lines...))
		})
	}
}

func TestDrainShortMessageQuirk(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Depth: 4, ST: 0.5, MaxChild: 100})
	require.NoError(t, err)
	a, b := p.Add("hello"), p.Add("hello")
	require.NotEqual(t, a, b, "one-token messages each start a cluster, as in Drain.py")
	require.Equal(t, p.Template(a), p.Template(b), "but their templates are the same string")
	require.Equal(t, 2, p.Len())
	require.Equal(t, "", p.Template(99))
}

func TestDrainEmptyMessage(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"", "", "a"}, parse(t, DefaultConfig(), "", "  ", "a"))
}

func TestDrainBadRegex(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Regexes: []string{"("}})
	require.Error(t, err)
}

func TestLoghubConfig(t *testing.T) {
	t.Parallel()
	c, ok := LoghubConfig("HDFS")
	require.True(t, ok)
	require.Equal(t, Config{Depth: 4, ST: 0.5, MaxChild: 100, Regexes: []string{`blk_-?\d+`, `(\d+\.){3}\d+(:\d+)?`}}, c)
	c.Regexes[0] = "changed"
	again, _ := LoghubConfig("HDFS")
	require.Equal(t, `blk_-?\d+`, again.Regexes[0], "callers get a copy")

	c, ok = LoghubConfig("NoSuchSystem")
	require.False(t, ok)
	require.Equal(t, DefaultConfig(), c)

	for name := range loghubSettings {
		c, _ := LoghubConfig(name)
		_, err := New(c)
		require.NoError(t, err, name)
	}
}
