package owners_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func loadRules(t *testing.T) *owners.Rules {
	t.Helper()
	rs, err := owners.LoadRules(filepath.Join("testdata", "owners.yaml"))
	require.NoError(t, err)
	return rs
}

func TestLoadRules(t *testing.T) {
	t.Parallel()
	rs := loadRules(t)
	require.Equal(t, &owners.Owner{
		Team: "data-platform", SlackChannel: "#data-platform-oncall",
		Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier3,
	}, rs.Default)
	require.Equal(t, 4, rs.DefaultLine)
	require.Len(t, rs.Rules, 6)

	pay := rs.Rules[0]
	require.Equal(t, "payments", pay.Name)
	require.Equal(t, 11, pay.Line)
	require.Len(t, pay.Match, 1)
	require.Equal(t, owners.MatchDag, pay.Match[0].Field)
	require.Equal(t, owners.Owner{
		Team: "payments", SlackChannel: "#payments-oncall", SlackUsers: []string{"U012PAYMT1"},
		Escalation: "payments-manager@shopfront.example", Tier: owners.Tier1,
		Runbook: "https://runbooks.shopfront.example/payments",
	}, pay.Owner)
	require.Equal(t, owners.Tier2, rs.Rules[1].Owner.Tier, `"tier2" is a tier`)
	require.Equal(t, `rule "payments" (testdata/owners.yaml:11)`, pay.Label(rs.File))

	require.Len(t, rs.DbtModels, 2)
	require.Equal(t, "revenue_daily", rs.DbtModels[0].Model)
}

func TestParseRulesEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\n", "# nothing\n", "---\n", "~\n", "{}\n", "rules: []\n"} {
		rs, err := owners.ParseRules([]byte(in), "owners.yaml")
		require.NoError(t, err, "%q", in)
		require.Empty(t, rs.Rules, "%q", in)
		require.Nil(t, rs.Default, "%q", in)
	}
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	type problem struct {
		line int
		rule string
		path string
		kind error
		text string
	}
	tests := []struct {
		name string
		file string
		in   string
		want []problem
	}{
		{
			name: "bad pattern names the rule and line", file: "bad_pattern.yaml",
			want: []problem{{7, `rules[1] ("broken")`, "match.dag", owners.ErrBadPattern, "character classes"}},
		},
		{
			name: "unknown key suggests the right one", file: "unknown_key.yaml",
			want: []problem{{7, `rules[0] ("typo")`, "owner.slack_chanel", owners.ErrUnknownKey, `did you mean "slack_channel"?`}},
		},
		{
			name: "every problem at once", file: "many_problems.yaml",
			want: []problem{
				{1, "", "version", owners.ErrInvalid, "unsupported version"},
				{2, "", "defaults", owners.ErrUnknownKey, `did you mean "default"?`},
				{6, `rules[0] ("a")`, "match.dag", owners.ErrBadPattern, `3 "*" in a row`},
				{7, `rules[0] ("a")`, "owner.tier", owners.ErrInvalid, "not a tier"},
				{7, `rules[0] ("a")`, "owner.slack_users[0]", owners.ErrInvalid, "is a handle, not a Slack member id"},
				{7, `rules[0] ("a")`, "owner.runbook", owners.ErrInvalid, "not an absolute http(s) URL"},
				{8, `rules[1] ("a")`, "name", owners.ErrDuplicateKey, "already used on line 5"},
				{9, `rules[1] ("a")`, "owner.slack_channel", owners.ErrInvalid, `write "#name"`},
				{8, `rules[1] ("a")`, "match", owners.ErrInvalid, "missing"},
				{10, "rules[2]", "match", owners.ErrInvalid, "empty"},
				{11, "rules[2]", "owner", owners.ErrInvalid, "says nothing"},
				{13, `rules[3] ("c")`, "match.dag", owners.ErrDuplicateKey, "already given on line 13"},
				{16, "dbt_models[0]", "match.table", owners.ErrUnknownKey, "valid keys here: dag, instance, task"},
				{16, "dbt_models[0]", "model", owners.ErrInvalid, "missing"},
			},
		},
		{
			name: "syntax", in: "rules:\n  - name: [unclosed\n",
			want: []problem{{0, "", "", owners.ErrSyntax, "line"}},
		},
		{
			name: "second document", in: "rules: []\n---\nrules: []\n",
			want: []problem{{2, "", "", owners.ErrSyntax, "second YAML document"}},
		},
		{
			name: "unquoted leading star is an alias", in: "rules:\n  - match: {dag: *_daily}\n",
			want: []problem{{0, "", "", owners.ErrSyntax, "unknown anchor"}},
		},
		{
			name: "wrong shapes", in: "rules: {a: 1}\ndefault: [x]\n",
			want: []problem{
				{1, "", "rules", owners.ErrWrongType, "want a list, got a mapping"},
				{2, "", "default", owners.ErrWrongType, "want a mapping of keys, got a list"},
			},
		},
		{
			name: "merge keys", in: "base: &b {team: x}\n",
			want: []problem{{1, "", "base", owners.ErrUnknownKey, "valid keys here"}},
		},
		{
			name: "merge key in an owner", in: "default:\n  <<: {team: x}\n",
			want: []problem{{2, "", "default.<<", owners.ErrUnknownKey, "merge keys (<<) are not supported"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tt.in)
			name := "owners.yaml"
			if tt.file != "" {
				data, name = readFixture(t, tt.file), tt.file
			}
			rs, err := owners.ParseRules(data, name)
			require.Error(t, err)
			require.Nil(t, rs)
			got := owners.RuleErrors(err)
			require.Len(t, got, len(tt.want), "problems:\n%v", err)
			for i, w := range tt.want {
				g := got[i]
				require.ErrorIs(t, g, w.kind, "problem %d: %v", i, g)
				require.Contains(t, g.Error(), w.text, "problem %d", i)
				require.Equal(t, w.rule, g.Rule, "problem %d: %v", i, g)
				require.Equal(t, w.path, g.Path, "problem %d: %v", i, g)
				if w.line > 0 {
					require.Equal(t, w.line, g.Line, "problem %d: %v", i, g)
				}
				require.True(t, strings.HasPrefix(g.Error(), name+":"), "problem %d names the file: %v", i, g)
			}
		})
	}
}

func TestParseRulesAliases(t *testing.T) {
	t.Parallel()
	// An alias for a shared owner is fine.
	rs, err := owners.ParseRules([]byte(`
default: &platform {team: platform, slack_channel: "#platform"}
rules:
  - {match: {dag: "a_*"}, owner: *platform}
`), "owners.yaml")
	require.NoError(t, err)
	require.Equal(t, "#platform", rs.Rules[0].Owner.SlackChannel)

	// A billion-laughs document: each level a list of ten aliases of the
	// one before. The format has no place for nested lists, so it is
	// refused level by level without expanding anything.
	var b strings.Builder
	b.WriteString("rules:\n  - &l0 {name: x, match: {dag: a}, owner: {team: t}}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  - &l%d [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 10), ","))
	}
	_, err = owners.ParseRules([]byte(b.String()), "bomb.yaml")
	require.ErrorIs(t, err, owners.ErrWrongType)
	require.Len(t, owners.RuleErrors(err), 9)

	// Many aliases of a large rule: stopped by the node budget.
	b.Reset()
	b.WriteString("x: &r {match: {dag: a}, owner: {slack_users: [" + strings.TrimSuffix(strings.Repeat("U0123ABCD,", 50), ",") + "]}}\n")
	b.WriteString("rules: [" + strings.TrimSuffix(strings.Repeat("*r,", 5000), ",") + "]\n")
	_, err = owners.ParseRules([]byte(b.String()), "wide.yaml")
	require.ErrorIs(t, err, owners.ErrTooLarge)
	require.Contains(t, err.Error(), "expands to more than 100000 nodes")
}

func TestParseRulesTooLarge(t *testing.T) {
	t.Parallel()
	_, err := owners.ParseRules(make([]byte, owners.MaxRulesFileBytes+1), "big.yaml")
	require.ErrorIs(t, err, owners.ErrTooLarge)
	_, err = owners.LoadRules(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestDocExample keeps docs/ownership.md true: its example file parses and
// resolves as the page says.
func TestDocExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ownership.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "## The ownership file")
	require.True(t, ok, "the page has a section on the file")
	_, rest, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok, "the section has a yaml example")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	rs, err := owners.ParseRules([]byte(example), "owners.yaml")
	require.NoError(t, err)
	m := rs.Match(owners.Subject{Dag: "payments_daily", Task: "refund_batch"})
	require.NotNil(t, m)
	require.Contains(t, string(doc), m.Why())
	require.Equal(t, "revenue_daily", rs.MatchModel(owners.Subject{Dag: "analytics_hourly", Task: "transform"}).Model)
}

// TestReadmeExample keeps the README's ownership snippet true.
func TestReadmeExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "# owners.yaml, named by owners.file in medic.yaml\n")
	require.True(t, ok, "the README has the ownership example")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	rs, err := owners.ParseRules([]byte(example), "README.md")
	require.NoError(t, err)
	m := rs.Match(owners.Subject{Dag: "payments_daily", Task: "refund_batch"})
	require.NotNil(t, m)
	require.Equal(t, "payments", m.Name)
	require.Nil(t, rs.Match(owners.Subject{Dag: "orders_etl", Task: "load"}), "the default is not a rule")
}
