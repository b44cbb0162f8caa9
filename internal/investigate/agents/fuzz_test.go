package agents_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/investigate/agents"
)

// FuzzParse feeds arbitrary bytes to the definition decoder: it must return
// a definition or an *agents.Error, never panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(specialist))
	f.Add([]byte("name: [unclosed\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("name: x\n---\nname: y\n"))
	f.Add([]byte("timeout: 1e400\nmax_steps: -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := agents.Parse(data, "fuzz.yaml")
		if err != nil {
			var ae *agents.Error
			require.True(t, errors.As(err, &ae), "%T: %v", err, err)
			require.Nil(t, d)
			return
		}
		require.NotNil(t, d)
		require.Equal(t, "fuzz.yaml", d.Source)
	})
}
