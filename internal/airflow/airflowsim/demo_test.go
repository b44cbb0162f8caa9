package airflowsim_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
)

// signature is an exception's class: its first line up to the colon.
func signature(exc string) string {
	line, _, _ := strings.Cut(exc, "\n")
	cls, _, _ := strings.Cut(line, ": ")
	return cls
}

func TestDemoScenario(t *testing.T) {
	t.Parallel()
	sc := airflowsim.Demo()
	require.Len(t, sc.DAGs, 6)
	require.GreaterOrEqual(t, len(sc.Steps), 10)
	for i := 1; i < len(sc.Steps); i++ {
		require.GreaterOrEqual(t, sc.Steps[i].At, sc.Steps[i-1].At, "steps are in time order")
	}
	binary := false
	for _, st := range sc.Steps {
		require.NotEmpty(t, st.Note)
		for _, outs := range st.Outcomes {
			for _, o := range outs {
				binary = binary || !utf8.ValidString(o.Log)
			}
		}
	}
	require.True(t, binary, "one log holds invalid UTF-8")

	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			require.NoError(t, b.sim.Load(sc))
			for _, st := range sc.Steps {
				_, err := b.sim.RunStep(st)
				require.NoError(t, err)
			}

			called := map[string]bool{}
			for _, f := range b.callbacks() {
				called[fmt.Sprintf("%s/%s/%s/%d", f.DagID, f.RunID, f.TaskID, f.TryNumber)] = true
				require.NotEmpty(t, f.Owner)
				require.NotEmpty(t, f.Tags)
				require.False(t, f.LogicalDate.IsZero())
				require.Contains(t, f.LogURL, "http://localhost:8080/dags/"+f.DagID+"/")
			}

			signatures := map[string]bool{}
			seen := map[string]map[string]bool{} // dag/task/signature → run IDs
			var retriedOK, twoFailures, silent, huge bool
			failedRuns := 0
			for _, run := range b.sim.DagRuns() {
				failedTasks := 0
				if run.State == "failed" {
					failedRuns++
				}
				for _, ti := range run.TaskInstances {
					if ti.State == "failed" {
						failedTasks++
					}
					if ti.State == "success" && len(ti.Tries) > 1 && ti.Tries[0].State == "failed" {
						retriedOK = true
					}
					for _, try := range ti.Tries {
						log, ok := b.sim.TaskLog(run.DagID, run.RunID, ti.TaskID, try.TryNumber)
						require.True(t, ok)
						huge = huge || len(log) >= airflowsim.HugeLogBytes
						if try.State != "failed" {
							continue
						}
						sig := signature(try.Exception)
						signatures[sig] = true
						key := run.DagID + "/" + ti.TaskID + "/" + sig
						if seen[key] == nil {
							seen[key] = map[string]bool{}
						}
						seen[key][run.RunID] = true
						id := fmt.Sprintf("%s/%s/%s/%d", run.DagID, run.RunID, ti.TaskID, try.TryNumber)
						if try.SilentKill {
							silent = true
							require.False(t, called[id], "a silent kill fires no callback")
							require.Equal(t, -9, try.ExitCode)
						} else {
							require.True(t, called[id], "every other failed try fires a callback: %s", id)
						}

						r := b.get(fmt.Sprintf("/dags/%s/dagRuns/%s/taskInstances/%s/logs/%d", run.DagID, esc(run.RunID), ti.TaskID, try.TryNumber),
							"Accept", "application/json")
						require.Equal(t, 200, r.status)
					}
				}
				twoFailures = twoFailures || failedTasks >= 2
			}
			require.GreaterOrEqual(t, len(signatures), 8, "distinct failures: %v", signatures)
			recurring := 0
			for _, runs := range seen {
				if len(runs) >= 2 {
					recurring++
				}
			}
			require.GreaterOrEqual(t, recurring, 2, "failures that recur on different days: %v", seen)
			require.True(t, retriedOK, "a task fails then succeeds on retry within a run")
			require.True(t, twoFailures, "a run with two failing tasks")
			require.True(t, silent, "an OOM kill without callback")
			require.True(t, huge, "a 5 MB log")

			// What a poller sees.
			runs := b.get("/dags/~/dagRuns?state=failed&limit=100").object(t)
			require.EqualValues(t, failedRuns, runs["total_entries"])
			require.Empty(t, b.val.Violations())
		})
	}
}
