package httpapi_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/store"
)

// pyDriver builds a callback context the way Airflow hands one to an
// on_failure_callback and runs the integration module against medic.
const pyDriver = `
import datetime, sys, types
sys.path.insert(0, sys.argv[1])
import medic_callback as mc
dag = types.SimpleNamespace(tags={"tier1", "finance"})
task = types.SimpleNamespace(owner="data-eng", dag=dag)
ti = types.SimpleNamespace(dag_id="orders_etl", task_id="load", try_number=2, map_index=-1,
    log_url="https://airflow.example.com/log?x=1", state="failed", task=task)
ctx = {"ti": ti, "run_id": "scheduled__2026-05-01T02:00:00+00:00",
    "logical_date": datetime.datetime(2026, 5, 1, 2, tzinfo=datetime.timezone.utc),
    "exception": ValueError("column \"x\" does not exist; password=hunter2secret")}
url, secret = sys.argv[2], sys.argv[3]
print(mc.send(mc.build_payload(ctx), url=url, secret=secret, timeout=2))
print(mc.send(mc.build_payload(ctx), url=url, secret=secret, timeout=2))
print(mc.send(mc.build_payload(ctx), url=url, secret="wrong-secret", timeout=2))
print(mc.send(mc.build_payload(ctx), url="http://127.0.0.1:1", secret=secret, timeout=1))
mc.medic_failure_callback({})  # a broken context must not raise
print("done")
`

// TestPythonCallbackIsAccepted checks that the Airflow integration module
// (integrations/airflow/medic_callback.py) speaks the webhook's contract:
// payload, content type and signature.
func TestPythonCallbackIsAccepted(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Join(filepath.Dir(file), "..", "..", "integrations", "airflow")
	b := setup(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyDriver, module, b.srv.URL, webhookSecret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	require.Contains(t, stderr.String(), "MEDIC_URL is not set", "a misconfigured callback says why and does not raise")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Equal(t, []string{"202", "202", "401", "None", "done"}, lastLines(lines, 5), string(out))

	got := b.stored(t)
	require.Equal(t, 1, got.incidents, "two deliveries of one failure are one incident")
	list, err := b.store.IncidentList(context.Background(), &store.IncidentListParams{})
	require.NoError(t, err)
	events, err := b.store.EventListByIncident(context.Background(), list.Incidents[0].ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, 2, ev.Deliveries)
	require.Equal(t, "orders_etl", ev.DagID)
	require.Equal(t, 2, ev.TryNumber)
	require.Equal(t, "data-eng", ev.Owner)
	require.Equal(t, []string{"finance", "tier1"}, ev.Tags)
	require.NotNil(t, ev.LogicalDate)
	require.Contains(t, ev.Exception, `column "x" does not exist`)
}

func lastLines(lines []string, n int) []string {
	if len(lines) < n {
		return lines
	}
	return lines[len(lines)-n:]
}
