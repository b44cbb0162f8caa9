package owners_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners"
)

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"payments_daily", []string{"payments_daily"}, []string{"payments_daily2", "Payments_daily", ""}},
		{"payments_*", []string{"payments_", "payments_daily", "payments_eu_hourly"}, []string{"payments", "payments_eu.load", "x_payments_daily"}},
		{"*_daily", []string{"payments_daily", "_daily"}, []string{"payments_daily.x"}},
		{"etl.*", []string{"etl.load", "etl."}, []string{"etl.group.load", "etl"}},
		{"etl.**", []string{"etl.load", "etl.group.load", "etl."}, []string{"etl"}},
		{"**load_*", []string{"load_orders", "extract.load_orders", "a/b.load_x"}, []string{"extract.load_orders.x"}},
		{"**", []string{"", "anything", "a.b/c"}, nil},
		{"*", []string{"", "abc"}, []string{"a.b", "a/b"}},
		{"task_?", []string{"task_1", "task_é"}, []string{"task_", "task_12", "task_."}},
		{"s3://lake/exports/**", []string{"s3://lake/exports/a", "s3://lake/exports/a/b.csv"}, []string{"s3://lake/other/a"}},
		{`literal\*star`, []string{"literal*star"}, []string{"literalXstar"}},
		{`a\[1\]`, []string{"a[1]"}, []string{"a1"}},
		{"a*b*c*d", []string{"abcd", "aXbYcZd"}, []string{"abc", "a.b.c.d"}},
	}
	for _, tt := range tests {
		p, err := owners.CompilePattern(tt.pattern)
		require.NoError(t, err, tt.pattern)
		require.Equal(t, tt.pattern, p.String())
		for _, s := range tt.yes {
			require.True(t, p.Match(s), "%q should match %q", tt.pattern, s)
		}
		for _, s := range tt.no {
			require.False(t, p.Match(s), "%q should not match %q", tt.pattern, s)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		want    string
	}{
		{"", "empty pattern"},
		{"a***", `3 "*" in a row`},
		{"pay[mk]ents", "character classes"},
		{"{a,b}", "alternatives are not supported"},
		{`trailing\`, `ends with a lone \`},
		{`bad\q`, `\q at byte 3 is not an escape`},
		{"tab\there", "control character 0x09"},
		{strings.Repeat("a", 513), "more than the limit of 512"},
		{"\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := owners.CompilePattern(tt.pattern)
		require.ErrorIs(t, err, owners.ErrBadPattern, tt.pattern)
		require.Contains(t, err.Error(), tt.want, tt.pattern)
	}
}

func TestPatternLongSubjects(t *testing.T) {
	t.Parallel()
	p, err := owners.CompilePattern("a*a*a*a*a*a*a*a*b")
	require.NoError(t, err)
	// No exponential backtracking on a near miss.
	require.False(t, p.Match(strings.Repeat("a", 4000)))
	require.True(t, p.Match(strings.Repeat("a", 4000)+"b"))
	require.False(t, p.Match(strings.Repeat("a", 5000)+"b"), "names over 4096 bytes never match")
}
