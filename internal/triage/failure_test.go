package triage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

var undefinedColumn = map[string][]airflowsim.Outcome{
	"load": {airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id"))},
}

// runPath is the REST path of testRun of orders_etl on the bundle's version.
func (b *testBundle) runPath() string {
	return b.sim.APIPrefix() + "/dags/orders_etl/dagRuns/" + testRun
}

func (b *testBundle) requestsTo(path string) int {
	n := 0
	for _, r := range b.sim.Requests() {
		if p, err := url.PathUnescape(r.Path); err == nil && p == path {
			n++
		}
	}
	return n
}

func TestRunResumesAfterRetryableFailure(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			ctx := context.Background()
			inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
			b.sim.SetFault(airflowsim.Fault{PathPrefix: b.runPath() + "/taskInstances/load/logs", Status: http.StatusInternalServerError})

			err := b.run(t, inc, false)
			require.ErrorIs(t, err, triage.ErrRetryLater)
			require.ErrorContains(t, err, "step log_excerpt")
			fs := b.findings(t, inc)
			require.Len(t, fs, 4, "the steps before the log are kept")
			require.NotContains(t, fs, triage.StepLogExcerpt, "a retryable failure is not recorded before the last attempt")
			mid := b.incident(t, inc.ID)
			require.Nil(t, mid.TriagedAt)
			require.Equal(t, incident.StateInvestigating, mid.State)
			require.Equal(t, incident.SessionRunning, b.session(t, inc.TriageSessionID).Status)
			require.Zero(t, b.pendingJobs(t, store.NotifyJobArgs{}.Kind()))

			b.sim.ClearFaults()
			before := len(b.sim.Requests())
			require.Equal(t, 1, b.requestsTo(b.runPath()))
			require.NoError(t, b.run(t, inc, false))

			for _, r := range b.sim.Requests()[before:] {
				require.True(t, strings.Contains(r.Path, "/logs/") || r.Path == "/auth/token",
					"the resumed run only repeats the unfinished step, but asked for %s", r.Path)
			}
			fs = b.findings(t, inc)
			require.Len(t, fs, len(stepNames))
			for _, step := range stepNames {
				require.Empty(t, fs[step].Error, "step %s", step)
			}
			got := b.incident(t, inc.ID)
			require.Equal(t, incident.StateEscalated, got.State)
			require.Equal(t, incident.SessionCompleted, b.session(t, inc.TriageSessionID).Status)
			require.Contains(t, got.Summary, "customer_idd")

			// Another delivery of the job, and a racing completion, change nothing.
			require.NoError(t, b.run(t, inc, true))
			res, err := b.store.TriageComplete(ctx, &store.TriageCompleteParams{
				IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionPartial, State: incident.StateEscalated,
			})
			require.NoError(t, err)
			require.False(t, res.Done)
			require.Equal(t, got.Summary, b.incident(t, inc.ID).Summary)
			require.Len(t, b.findings(t, inc), len(stepNames))
			require.Equal(t, 1, b.auditCounts(t, inc.ID)["incident.triaged"])
			require.Equal(t, 1, b.pendingJobs(t, store.NotifyJobArgs{}.Kind()))
		})
	}
}

func TestRunSkipsStepsAlreadyRecorded(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			ctx := context.Background()
			inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
			// A previous process finished two steps, then died. Its run
			// summary names a different focus task, so the later steps show
			// whether they read it back.
			data, err := json.Marshal(triage.RunSummary{DagID: "orders_etl", RunID: testRun, State: "failed", FirstFailingTask: "extract", FirstFailingTry: 1})
			require.NoError(t, err)
			for _, f := range []*incident.Finding{
				{SessionID: inc.TriageSessionID, IncidentID: inc.ID, Kind: "resolve", Step: triage.StepResolve, Summary: "done before the crash"},
				{SessionID: inc.TriageSessionID, IncidentID: inc.ID, Kind: incident.FindingRunSummary, Step: triage.StepRunSummary, Summary: "done before the crash", Data: data},
			} {
				ok, err := b.store.FindingInsert(ctx, f)
				require.NoError(t, err)
				require.True(t, ok)
			}

			require.NoError(t, b.run(t, inc, false))

			fs := b.findings(t, inc)
			require.Len(t, fs, len(stepNames))
			require.Equal(t, "done before the crash", fs[triage.StepResolve].Summary)
			require.Equal(t, "done before the crash", fs[triage.StepRunSummary].Summary)
			require.Zero(t, b.requestsTo(b.runPath()), "the run summary was not fetched again")
			require.Equal(t, "extract", decodeData[triage.Frequency](t, fs[triage.StepFrequency]).TaskID)
			require.Equal(t, "extract", decodeData[triage.LogExcerpt](t, fs[triage.StepLogExcerpt]).TaskID)
			require.Equal(t, 1, b.auditCounts(t, inc.ID)["incident.triaged"])
		})
	}
}

func TestConcurrentRunsCompleteOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = b.runner.Run(context.Background(), inc.ID, inc.TriageSessionID, false) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, b.findings(t, inc), len(stepNames))
	require.Equal(t, 1, b.auditCounts(t, inc.ID)["incident.triaged"])
	require.Equal(t, 1, b.pendingJobs(t, store.NotifyJobArgs{}.Kind()))
}

func TestRunWhenAirflowIsDown(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
			t.Run(fmt.Sprintf("%s/%d", versionName(v), status), func(t *testing.T) {
				t.Parallel()
				b := setup(t, v, func(o *bundleOpts) { o.retries = 2 })
				ctx := context.Background()
				inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
				b.sim.SetFault(airflowsim.Fault{Status: status})

				err := b.run(t, inc, false)
				require.ErrorIs(t, err, triage.ErrRetryLater)
				var ae *airflow.APIError
				require.ErrorAs(t, err, &ae, "the Airflow error is kept in the chain")
				require.Equal(t, status, ae.Status)
				require.Len(t, b.findings(t, inc), 1, "only resolve, which needs no Airflow call, is done")
				require.Nil(t, b.incident(t, inc.ID).TriagedAt)
				for _, r := range b.sim.Requests() {
					if r.Fault {
						require.Equal(t, status, r.Status)
					}
				}
				require.Greater(t, len(b.sim.Requests()), 1, "the client retried")

				require.NoError(t, b.run(t, inc, true), "the last attempt finishes with what it has")

				fs := b.findings(t, inc)
				require.Len(t, fs, len(stepNames))
				require.Empty(t, fs[triage.StepResolve].Error)
				for _, step := range airflowSteps {
					require.Contains(t, fs[step].Error, fmt.Sprint(status), "step %s", step)
					require.Equal(t, step+" unavailable", fs[step].Summary)
					require.Empty(t, fs[step].Data)
				}
				require.Equal(t, incident.SessionPartial, b.session(t, inc.TriageSessionID).Status)
				got := b.incident(t, inc.ID)
				require.Equal(t, incident.StateEscalated, got.State, "a person still gets the incident")
				require.Equal(t, "orders_etl.load failed · 4 step(s) incomplete", got.Summary)
				require.Equal(t, 1, b.pendingJobs(t, store.NotifyJobArgs{}.Kind()))

				r, err := report.Load(ctx, b.store, inc.ID, "")
				require.NoError(t, err)
				require.Len(t, r.Triage.Errors, 4)
				var out strings.Builder
				require.NoError(t, report.WriteText(&out, r))
				for _, step := range airflowSteps {
					require.Contains(t, out.String(), "! "+step+": ")
				}
			})
		}
	}
}

func TestRunWhenAirflowHangs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		clientTimeout time.Duration
		want          string
	}{
		{"client attempt times out first", 150 * time.Millisecond, "attempt timed out"},
		{"step times out first", 10 * time.Second, "took longer than 300ms"},
	}
	for _, v := range versions {
		for _, tt := range tests {
			t.Run(versionName(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, v, func(o *bundleOpts) {
					o.triage.StepTimeout = 300 * time.Millisecond
					o.timeout = tt.clientTimeout
				})
				inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
				b.sim.SetFault(airflowsim.Fault{Hang: true})

				began := time.Now()
				err := b.run(t, inc, false)
				require.ErrorIs(t, err, triage.ErrRetryLater)
				require.Less(t, time.Since(began), 2*time.Second, "one step's timeout bounds a non-final attempt")

				began = time.Now()
				require.NoError(t, b.run(t, inc, true))
				require.Less(t, time.Since(began), 4*time.Second, "every step is bounded")

				fs := b.findings(t, inc)
				require.Len(t, fs, len(stepNames))
				for _, step := range airflowSteps {
					require.Contains(t, fs[step].Error, tt.want, "step %s", step)
				}
				require.Equal(t, incident.SessionPartial, b.session(t, inc.TriageSessionID).Status)
				require.Equal(t, incident.StateEscalated, b.incident(t, inc.ID).State)
				for _, r := range b.sim.Requests() {
					require.True(t, r.Fault)
					require.Zero(t, r.Status, "every request hung until the client gave up")
				}
			})
		}
	}
}

func TestRunForUnknownDagOrRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dag, run, task string
		want                 string // what the resolve error names
	}{
		{name: "unknown dag", dag: "ghost_dag", run: "manual__2026-06-01", want: "ghost_dag"},
		{name: "unknown run", dag: "orders_etl", run: "manual__never", want: "manual__never"},
		{name: "unknown dag with a task", dag: "ghost_dag", run: "manual__2026-06-01", task: "load", want: "ghost_dag"},
	}
	for _, v := range versions {
		for _, tt := range tests {
			t.Run(versionName(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, v)
				ctx := context.Background()
				req, err := b.ingest.RequestTriage(ctx, &store.TriageRequestParams{
					Instance: "main", DagID: tt.dag, RunID: tt.run, TaskID: tt.task, Actor: "alice",
				})
				require.NoError(t, err)
				inc := req.Incident

				// A 404 is not worth retrying, so even a first attempt finishes.
				require.NoError(t, b.run(t, inc, false))

				fs := b.findings(t, inc)
				require.Len(t, fs, len(stepNames))
				// Airflow 2 lists no task instances for a run it does not
				// know (200, empty); Airflow 3 answers 404. Fetching the run
				// itself and its log fail on both.
				require.Contains(t, fs[triage.StepRunSummary].Error, tt.want)
				require.Contains(t, fs[triage.StepRunSummary].Error, "404")
				require.NotEmpty(t, fs[triage.StepLogExcerpt].Error)
				if v == 3 {
					require.Contains(t, fs[triage.StepResolve].Error, tt.want)
				} else {
					require.Equal(t, "no failure reported yet; found 0 failed task(s) in the run", fs[triage.StepResolve].Summary)
				}
				failed := 0
				for _, f := range fs {
					if f.Error != "" {
						failed++
					}
				}
				require.Equal(t, incident.SessionPartial, b.session(t, inc.TriageSessionID).Status)
				got := b.incident(t, inc.ID)
				require.Equal(t, incident.StateEscalated, got.State)
				require.Contains(t, got.Summary, tt.dag)
				require.Contains(t, got.Summary, fmt.Sprintf(" · %d step(s) incomplete", failed))
				require.NotContains(t, got.Summary, tt.dag+". failed", "no empty task name")
				events, err := b.store.EventListByIncident(ctx, inc.ID)
				require.NoError(t, err)
				require.Empty(t, events, "nothing is invented for a run Airflow does not know")
			})
		}
	}
}

func TestRunForUnconfiguredInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	res, err := b.ingest.RecordEvent(context.Background(), &incident.FailureEvent{
		Key:      incident.Key{Instance: "staging", DagID: "orders_etl", RunID: testRun, TaskID: "load", TryNumber: 1},
		MapIndex: -1, Source: incident.SourceCallback,
	})
	require.NoError(t, err)
	inc := res.Incident

	require.NoError(t, b.run(t, inc, false))

	sess := b.session(t, inc.TriageSessionID)
	require.Equal(t, incident.SessionFailed, sess.Status)
	require.Equal(t, `airflow instance "staging" is not configured`, sess.Error)
	require.NotNil(t, sess.FinishedAt)
	got := b.incident(t, inc.ID)
	require.Equal(t, `triage failed: airflow instance "staging" is not configured`, got.Summary)
	require.Equal(t, incident.StateEscalated, got.State)
	require.NotNil(t, got.TriagedAt)
	require.Empty(t, b.findings(t, inc))
	require.Empty(t, b.sim.Requests())
	require.Equal(t, 1, b.auditCounts(t, inc.ID)["incident.triaged"])
}

func TestRunForMissingIncident(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	err := b.runner.Run(context.Background(), "inc_missing", "ses_missing", false)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NotErrorIs(t, err, triage.ErrRetryLater)
}

func TestRunWhenCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
	b.sim.SetFault(airflowsim.Fault{Hang: true})
	ctx, cancel := context.WithCancelCause(context.Background())
	errShutdown := errors.New("medic is shutting down")
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for b.arrived.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel(errShutdown)
	}()
	err := b.runner.Run(ctx, inc.ID, inc.TriageSessionID, true)
	require.ErrorIs(t, err, errShutdown, "a cancelled run reports why and records nothing as failed")
	fs := b.findings(t, inc)
	require.NotContains(t, fs, triage.StepRunSummary)
	require.Nil(t, b.incident(t, inc.ID).TriagedAt)
	require.Equal(t, incident.SessionRunning, b.session(t, inc.TriageSessionID).Status, "the job resumes it later")
}

// secretLog holds credentials in the shapes tasks leak them.
const secretLog = `{base.py:84} ERROR - Retrying connection postgresql://etl:hunter2@warehouse.internal:5432/dwh
{s3.py:40} INFO - boto3 session for AKIAIOSFODNN7EXAMPLE in eu-west-1
{settings.py:7} INFO - loaded settings password=Sup3rS3cret api_key=sk_live_abcdef123456
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAprivatekeybodyline1
privatekeybodyline2XYZ
-----END RSA PRIVATE KEY-----
{taskinstance.py:2905} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/orders.py", line 3, in load
    engine.connect()
sqlalchemy.exc.OperationalError: connection to postgresql://etl:hunter2@warehouse.internal:5432/dwh failed: password authentication failed
`

var secrets = []string{"hunter2", "AKIAIOSFODNN7EXAMPLE", "Sup3rS3cret", "sk_live_abcdef123456", "privatekeybody"}

func TestSecretsNeverStored(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v, func(o *bundleOpts) { o.triage.ExcerptLines = 200 })
			ctx := context.Background()
			inc := b.failRun(t, "orders_etl", testRun, map[string][]airflowsim.Outcome{
				"load": {{State: airflowsim.StateFailed, Log: secretLog, Exception: "OperationalError: postgresql://etl:hunter2@warehouse.internal/dwh password=Sup3rS3cret"}},
			})
			require.NoError(t, b.run(t, inc, false))

			fs := b.findings(t, inc)
			require.Len(t, fs, len(stepNames))
			ex := decodeData[triage.LogExcerpt](t, fs[triage.StepLogExcerpt])
			joined := strings.Join(ex.Lines, "\n")
			for _, redacted := range []string{"postgresql://etl:[REDACTED:", "boto3 session for [REDACTED:", "password=[REDACTED:", "api_key=[REDACTED:"} {
				require.Contains(t, joined, redacted, "the secret's line is in the excerpt, redacted")
			}
			require.NotContains(t, joined, "BEGIN RSA PRIVATE KEY", "the key block is redacted whole")
			require.Contains(t, ex.Headline, "OperationalError: connection to postgresql://etl:[REDACTED:")

			stored := map[string]any{"incident": b.incident(t, inc.ID)}
			for step, f := range fs {
				stored["finding "+step] = f
			}
			events, err := b.store.EventListByIncident(ctx, inc.ID)
			require.NoError(t, err)
			for i, e := range events {
				stored[fmt.Sprintf("event %d", i)] = e
			}
			for name, v := range stored {
				raw, err := json.Marshal(v)
				require.NoError(t, err)
				for _, secret := range secrets {
					require.False(t, strings.Contains(string(raw), secret), "%s holds %q: %s", name, secret, raw)
				}
			}
		})
	}
}
