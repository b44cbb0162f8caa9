package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzSecret is what every *_file and *_env reference resolves to while
// fuzzing. It must never show up in an error or in rendered output.
const fuzzSecret = "fuzz-secret-value-0123456789"

// fuzzSources answers every reference with fuzzSecret, without touching the
// file system or the environment, except references to "missing".
func fuzzSources() sources {
	return sources{
		env: func(name string) string {
			if name == "missing" {
				return ""
			}
			return fuzzSecret
		},
		readFile: func(path string) ([]byte, error) {
			if filepath.Base(path) == "missing" {
				return nil, os.ErrNotExist
			}
			return []byte(fuzzSecret + "\n"), nil
		},
	}
}

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(f, err)
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(Example()))
	f.Add([]byte("server: &s {<<: *s}\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\n"))
	f.Add([]byte("ingest: {webhook: {secret_file: missing}}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(fuzzSecret)) {
			return // an inline copy may be echoed like any other value
		}
		c, _, err := parse(data, "fuzz.yaml", fuzzSources())
		if err != nil {
			require.NotContains(t, err.Error(), fuzzSecret)
			return
		}
		c.derive()
		if err := c.Validate(); err != nil {
			require.NotContains(t, err.Error(), fuzzSecret)
			require.NotEmpty(t, fieldErrors(t, err))
		}
		c.Token("x")
		c.LoopbackOnly()
		out, err := json.Marshal(c)
		require.NoError(t, err)
		require.False(t, strings.Contains(string(out), fuzzSecret), "secret in JSON")
		require.False(t, strings.Contains(fmt.Sprintf("%+v %#v", c, c), fuzzSecret), "secret in fmt")
	})
}
