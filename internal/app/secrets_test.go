package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
)

// plantedSecrets are fake credentials of real shapes, planted in a task's log
// and in the callback's exception text.
var plantedSecrets = []string{
	"AKIAQ3EGQXBZ7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
	"hunter2-pg-Secret",
	"S3cr3t-Passw0rd!",
	"xoxb-2486170291-9271045823-Zk4dQm8sLp2vYt7RwXn3",
	"ghp_R7fK2mQ9xL4vT8nB3cY6wZ1pD5sH0jA2eU9i",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZWRpYy10ZXN0In0.Qm9ndXNTaWduYXR1cmVGb3JUZXN0cw",
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
	"tok_live_9f8e7d6c5b4a39281716",
}

var leakyLog = strings.Join([]string{
	"{taskinstance.py:1160} INFO - Executing <Task(PythonOperator): load> on 2026-05-01",
	"{base.py:84} INFO - Using connection ID 'warehouse' for task execution.",
	"{load.py:12} INFO - connecting to postgresql://etl_user:hunter2-pg-Secret@warehouse.internal:5432/analytics",
	"{load.py:20} INFO - env AWS_ACCESS_KEY_ID=AKIAQ3EGQXBZ7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
	"{load.py:31} INFO - posting to Slack with token xoxb-2486170291-9271045823-Zk4dQm8sLp2vYt7RwXn3",
	"{load.py:33} INFO - request headers: {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZWRpYy10ZXN0In0.Qm9ndXNTaWduYXR1cmVGb3JUZXN0cw'}",
	"{load.py:35} INFO - cloning with ghp_R7fK2mQ9xL4vT8nB3cY6wZ1pD5sH0jA2eU9i",
	"{load.py:40} INFO - key material:",
	"-----BEGIN PRIVATE KEY-----",
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
	"-----END PRIVATE KEY-----",
	"{taskinstance.py:2905} ERROR - Task failed with exception",
	"Traceback (most recent call last):",
	"  File \"/opt/airflow/dags/load.py\", line 44, in load",
	"    conn = connect(password='S3cr3t-Passw0rd!', api_key=\"tok_live_9f8e7d6c5b4a39281716\")",
	"psycopg2.OperationalError: FATAL:  password authentication failed for user \"etl_user\" (password=S3cr3t-Passw0rd!)",
}, "\n")

// TestPlantedSecretsReachNoSink runs a failure whose log and callback carry
// credentials through the whole daemon and checks that none of them reaches
// the database file, the API, the console report or medic's own log.
func TestPlantedSecretsReachNoSink(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, 3)
	var failure airflowsim.TaskFailure
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { failure = f })
	_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": {airflowsim.Failure(leakyLog)}})
	require.NoError(t, err)

	dir := t.TempDir()
	db := filepath.Join(dir, "medic.db")
	var logs, out syncBuffer
	cfg := testConfig(db, srv.URL, 3)
	cfg.Log.Level = "debug"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listener: ln, Stdout: &out, Logger: logger})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	}
	t.Cleanup(stop)

	payload := failurePayload(failure)
	payload["exception"] = "psycopg2.OperationalError: password authentication failed (password=S3cr3t-Passw0rd!) " +
		"dsn=postgresql://etl_user:hunter2-pg-Secret@warehouse.internal/analytics"
	require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), payload))
	incs := waitTriaged(t, a.Store(), 1)

	var api bytes.Buffer
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/" + incs[0].ID, "/api/v1/sessions/" + incs[0].TriageSessionID, "/metrics"} {
		resp, err := http.Get("http://" + a.Addr() + path)
		require.NoError(t, err)
		_, err = io.Copy(&api, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	require.Contains(t, api.String(), "[REDACTED:", "the API shows where secrets were")
	require.Contains(t, out.String(), "INCIDENT "+incs[0].ID)
	stop()

	sinks := map[string]string{"api": api.String(), "console": out.String(), "log": logs.String()}
	for _, name := range []string{"medic.db", "medic.db-wal"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		sinks[name] = string(raw)
	}
	require.NotEmpty(t, sinks["medic.db"])
	for sink, text := range sinks {
		for _, secret := range plantedSecrets {
			require.NotContains(t, text, secret, "secret reached the %s", sink)
		}
	}
}
