package dbt_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners/dbt"
	"github.com/medic-sh/medic/internal/sharedtest"
)

var (
	validatorOnce sync.Once
	validator     *dbt.Validator
)

// schema returns the validator for the shared manifest v12 schema, compiled
// once for the whole test binary (it takes most of a second). It skips the
// test when the shared data is absent, and fails it under CI=true.
func schema(tb testing.TB) *dbt.Validator {
	tb.Helper()
	path := sharedtest.Dir(tb, "specs", "dbt", "manifest-v12.json")
	validatorOnce.Do(func() { validator = dbt.NewValidator(path) })
	require.NoError(tb, validator.Check())
	return validator
}

func fixture(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join("testdata", name)
	_, err := os.Stat(p)
	require.NoError(tb, err)
	return p
}

// loadFixture loads a testdata manifest without validation.
func loadFixture(t *testing.T, name string) *dbt.Manifest {
	t.Helper()
	m, err := dbt.Load(context.Background(), fixture(t, name), dbt.Options{})
	require.NoError(t, err)
	return m
}
