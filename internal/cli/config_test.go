package cli_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
)

// exampleEnv is what the example configuration's *_env secrets read.
var exampleEnv = map[string]string{
	"MEDIC_ADMIN_TOKEN":     "admin-token-0123456789abcdef",
	"AIRFLOW_PROD_PASSWORD": "airflow-password",
}

func TestConfigExampleValidates(t *testing.T) {
	t.Parallel()
	ex := medic(t, nil, "config", "example")
	require.Equal(t, cli.ExitOK, ex.code, ex.stderr)
	require.Empty(t, ex.stderr)
	require.Contains(t, ex.stdout, "token_env: MEDIC_ADMIN_TOKEN")
	path := writeFile(t, "medic.yaml", ex.stdout)

	res := medic(t, exampleEnv, "config", "validate", path)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Equal(t, path+": valid\n", res.stdout)
	require.Empty(t, res.stderr)

	res = medic(t, exampleEnv, "config", "validate", "--json", path)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.JSONEq(t, `{"valid": true, "file": `+quote(t, path)+`, "problems": []}`, res.stdout)

	// Without its variables the example names each one it needs, with its line.
	res = medic(t, nil, "config", "validate", path)
	require.Equal(t, cli.ExitUsage, res.code)
	require.Empty(t, res.stdout)
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(path)+`:\d+: auth\.tokens\[0\]\.token_env: environment variable MEDIC_ADMIN_TOKEN is not set`, res.stderr)
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(path)+`:\d+: airflow\.instances\[0\]\.password_env: environment variable AIRFLOW_PROD_PASSWORD is not set`, res.stderr)
}

func TestConfigValidateDefaults(t *testing.T) {
	t.Parallel()
	res := medic(t, nil, "config", "validate")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Equal(t, "the defaults: valid\n", res.stdout)

	// The MEDIC_* overrides are checked too, and named in the problem.
	res = medic(t, map[string]string{"MEDIC_LOG_LEVEL": "loud"}, "config", "validate")
	require.Equal(t, cli.ExitUsage, res.code)
	require.Contains(t, res.stderr, "log.level (set by MEDIC_LOG_LEVEL): ")
}

func TestConfigValidateInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		// problems is how many problems the file has.
		problems int
	}{
		{"unknown_key.yaml", 1},
		{"wrong_types.yaml", 3},
		{"many_problems.yaml", 4},
		{"syntax_error.yaml", 1},
		{"does_not_exist.yaml", 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)

			res := medic(t, nil, "config", "validate", path)
			require.Equal(t, cli.ExitUsage, res.code)
			require.Empty(t, res.stdout, "problems go to stderr")
			golden(t, "config_validate_"+tt.file+".golden", res.stderr)

			res = medic(t, nil, "config", "validate", "--json", path)
			require.Equal(t, cli.ExitUsage, res.code)
			var got struct {
				Valid    *bool    `json:"valid"`
				File     *string  `json:"file"`
				Problems []string `json:"problems"`
			}
			var keys map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &keys), res.stdout)
			require.Len(t, keys, 3, "valid, file and problems only: %s", res.stdout)
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
			require.NotNil(t, got.Valid)
			require.False(t, *got.Valid)
			require.NotNil(t, got.File)
			require.Equal(t, path, *got.File)
			require.Len(t, got.Problems, tt.problems)
			for _, p := range got.Problems {
				require.Contains(t, p, path, "every problem names the file")
			}
			require.Equal(t, "medic: configuration is invalid\n", res.stderr)
		})
	}
}

func quote(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}
