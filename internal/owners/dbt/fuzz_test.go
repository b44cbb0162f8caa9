package dbt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners/dbt"
	"github.com/medic-sh/medic/internal/sharedtest"
)

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `null`, `{"nodes": {"model.a.b": {"name": "b", "meta": {"owner": ["x", 1]}}}}`,
		`{"child_map": {"a": ["a", "b"], "b": ["a"]}}`, `{"metadata": {"dbt_schema_version": 12}}`,
		`{"nodes": [[[[]]]], "exposures": {"e": {"owner": {"email": [1]}}}}`, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(s))
	}
	// Validate too when the schema is at hand: it is compiled once.
	var opts dbt.Options
	if sharedtest.Find() != "" {
		opts.Schema = schema(f)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := dbt.Parse(context.Background(), data, "fuzz.json", opts)
		if err != nil {
			require.True(t, errors.Is(err, dbt.ErrMalformed) || errors.Is(err, dbt.ErrInvalid) || errors.Is(err, dbt.ErrTooLarge),
				"unexpected kind of error: %v", err)
			require.Nil(t, m)
			return
		}
		require.NotNil(t, m)
		require.LessOrEqual(t, len(m.Warnings), 21)
		roots := make([]string, 0, len(m.ChildMap))
		for id := range m.ChildMap {
			roots = append(roots, id)
		}
		got, _, err := m.Downstream(context.Background(), roots, 1000)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got), 1000)
		for id := range m.Nodes {
			m.ModelForTask(id)
		}
		m.ModelsInError(string(data))
	})
}
