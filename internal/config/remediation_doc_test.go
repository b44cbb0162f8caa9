package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRemediationDocPolicy keeps the full policy of docs/remediation.md and
// of the README true: it loads and validates, with the conf schema file it
// names beside it.
func TestRemediationDocPolicy(t *testing.T) {
	t.Parallel()
	for file, heading := range map[string]string{
		filepath.Join("..", "..", "docs", "remediation.md"): "## A full policy",
		filepath.Join("..", "..", "README.md"):              "## Remediation: the safety model and the policy file",
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			checkPolicyDoc(t, file, heading)
		})
	}
}

func checkPolicyDoc(t *testing.T, file, heading string) {
	t.Helper()
	doc, err := os.ReadFile(file)
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), heading)
	require.True(t, ok, "the page has a full policy")
	_, rest, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok)
	policy, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "schemas"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "schemas", "reports-conf.json"), []byte(`{"type": "object"}`), 0o600))
	path := filepath.Join(dir, "medic.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policy), 0o600))
	c, err := Load(path, func(string) string { return "" })
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, "production", c.Environment)
	require.NotEmpty(t, c.Remediate.Autonomy)
}
