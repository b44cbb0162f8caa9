package owners_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners"
)

func FuzzParseRules(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(f, err)
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data, "payments_daily", "refund_batch")
	}
	f.Add([]byte("rules: [{match: {dag: '**'}, owner: {team: x}}]"), "d", "t")
	f.Add([]byte("rules: [{match: {task: 'a\\\\*'}, owner: {tier: tier1}}]"), "d", "a*")
	f.Add([]byte("default: &a {team: x}\nrules: [{match: {table: 'A.*'}, owner: *a}]"), "d", "t")
	f.Add([]byte("a: &a [*a]"), "", "")
	f.Add([]byte("rules:\n- match: {dag: \"é?\"}\n  owner: {slack_users: [U1234]}"), "éx", "")

	kinds := []error{
		owners.ErrSyntax, owners.ErrUnknownKey, owners.ErrDuplicateKey, owners.ErrWrongType,
		owners.ErrBadPattern, owners.ErrInvalid, owners.ErrTooLarge,
	}
	f.Fuzz(func(t *testing.T, data []byte, dag, task string) {
		rs, err := owners.ParseRules(data, "fuzz.yaml")
		if err != nil {
			require.Nil(t, rs)
			problems := owners.RuleErrors(err)
			require.NotEmpty(t, problems, "every error is a *RuleError: %v", err)
			for _, p := range problems {
				known := false
				for _, k := range kinds {
					known = known || errors.Is(p, k)
				}
				require.True(t, known, "problem of no known kind: %v", p)
			}
			return
		}
		require.NotNil(t, rs)
		for _, r := range rs.Rules {
			require.NotEmpty(t, r.Match, "a loaded rule matches on something")
			require.False(t, r.Owner.IsZero(), "a loaded rule says something")
		}
		s := owners.Subject{Dag: dag, Task: task, Tables: []string{dag}, Datasets: []string{task}}
		if m := rs.Match(s); m != nil {
			require.NotEmpty(t, m.Fields)
			require.NotEmpty(t, m.Why())
		}
		rs.MatchModel(s)
	})
}
