package remediate_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPythonClusterPolicy runs the unit tests of medic's Airflow cluster
// policy (integrations/airflow/medic_policy.py), the other half of
// retry_with_more_resources: it reads the Variable ResourcesVariable names.
// CI must have python3; elsewhere the test is skipped without it.
func TestPythonClusterPolicy(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 is required in CI to test integrations/airflow/medic_policy.py: %v", err)
		}
		t.Skip("python3 not installed: integrations/airflow/test_medic_policy.py not run")
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "integrations", "airflow")
	_, err = os.Stat(filepath.Join(dir, "test_medic_policy.py"))
	require.NoError(t, err, "the policy's tests live in integrations/airflow")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "unittest", "-v", "test_medic_policy")
	cmd.Dir = dir
	// Leave no __pycache__ behind in the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), out.String())
	require.Contains(t, out.String(), "OK", out.String())
}
