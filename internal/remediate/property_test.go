package remediate

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
)

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	base := Target{IncidentID: "inc-1", DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1}
	p := Params{Conf: map[string]any{"a": 1, "b": "x"}}
	key := IdempotencyKey(base, TriggerDagRun, p)
	require.Equal(t, key, IdempotencyKey(base, TriggerDagRun, Params{Conf: map[string]any{"b": "x", "a": 1}}), "map order does not matter")
	variants := []struct {
		name string
		t    Target
		n    Name
		p    Params
	}{
		{"incident", Target{"inc-2", "d", "r", "t", 1}, TriggerDagRun, p},
		{"action", base, ClearFailedTasks, p},
		{"dag", Target{"inc-1", "e", "r", "t", 1}, TriggerDagRun, p},
		{"run", Target{"inc-1", "d", "s", "t", 1}, TriggerDagRun, p},
		{"task", Target{"inc-1", "d", "r", "u", 1}, TriggerDagRun, p},
		{"try", Target{"inc-1", "d", "r", "t", 2}, TriggerDagRun, p},
		{"params", base, TriggerDagRun, Params{Conf: map[string]any{"a": 2, "b": "x"}}},
		{"field boundary", Target{"inc-1", "dr", "", "t", 1}, TriggerDagRun, p},
	}
	seen := map[string]string{key: "base"}
	for _, v := range variants {
		k := IdempotencyKey(v.t, v.n, v.p)
		prev, dup := seen[k]
		require.False(t, dup, "%s collides with %s", v.name, prev)
		seen[k] = v.name
	}
}

func randomInput(r *rand.Rand) Input {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	in := Input{
		Target:     Target{IncidentID: pick("i1", "i2"), DagID: pick("etl_orders", "etl_off", "etl_appr", "etl_sugg", "etl_finance_x", "reports_daily", "etl_heavy_1", "ml"), RunID: "r", TaskID: "t", TryNumber: r.IntN(4)},
		Class:      pick("INFRA", "TIMEOUT", "CODE_ERROR", "UPSTREAM_UNAVAILABLE", "", "bogus"),
		Confidence: r.Float64(), RetrySafe: r.IntN(2) == 0,
		Proposed:   pick("retry", "retry_with_backoff", "wait_for_upstream_then_retry", "retry_with_more_resources", "trigger_dag_run", "pause_dag", "fix_code", "escalate", "x"),
		Facts:      Facts{RunState: pick("failed", "running"), TaskState: pick("failed", "success", "upstream_failed"), DagPaused: r.IntN(5) == 0},
		Counters:   Counters{TaskInstanceAttempts: r.IntN(3), DagToday: r.IntN(12), InRateWindow: r.IntN(22)},
		KillSwitch: r.IntN(10) == 0, PriorFailedVerification: r.IntN(4) == 0,
		Now: time.Unix(r.Int64N(1<<33), 0).UTC(),
	}
	if r.IntN(2) == 0 {
		in.Params.Conf = map[string]any{"date": pick("2026-01-01", "bad")}
	}
	if r.IntN(4) != 0 {
		in.Precedent = &Precedent{RecordID: "rec", Action: pick("retry", "retry_with_backoff", "trigger_dag_run", "pause_dag"), Outcome: pick("fixed", "failed"), Trust: r.Float64(), Similarity: r.Float64(), Exact: r.IntN(3) == 0}
	}
	return in
}

// TestEvaluateProperties checks that Evaluate is deterministic and that
// nothing below auto executes.
func TestEvaluateProperties(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil, "production")
	shadow := newPolicy(t, func(c *config.Remediate) { c.Shadow = true }, "staging")
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		in := randomInput(r)
		for _, pol := range []*Policy{p, shadow} {
			d := pol.Evaluate(in)
			require.Equal(t, d, pol.Evaluate(in), "Evaluate is deterministic")
			level, _ := pol.autonomy(in.DagID, in.Class)
			if level != config.AutonomyAuto || in.KillSwitch {
				require.NotEqual(t, OutcomeExecute, d.Outcome, "%+v", d.Reasons)
				require.NotEqual(t, OutcomeShadow, d.Outcome)
			}
			if d.Outcome == OutcomeExecute || d.Outcome == OutcomeShadow {
				require.True(t, d.Gate.Stage1 && d.Gate.Stage2)
				require.NotEqual(t, PauseDag, d.Action)
				require.False(t, in.PriorFailedVerification)
			}
			if pol == shadow {
				require.NotEqual(t, OutcomeExecute, d.Outcome)
			}
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add("inc", "etl_orders", "r", "t", 1, "INFRA", 0.9, true, "retry", "failed", "failed", false, 0, 0, 0, false, false, "retry", "fixed", 0.9, 0.95, false, `{"date":"2026-01-01"}`)
	f.Add("", "reports_x", "", "", -1, "", -1.0, false, "trigger_dag_run", "", "", true, -5, 99, 1000, true, true, "", "", 2.0, -3.0, true, `{}`)
	p, err := New(testConfig(), "production")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, inc, dag, run, task string, try int, class string, conf float64, safe bool, proposed, runState, taskState string,
		paused bool, ti, today, rate int, kill, prior bool, pAction, pOutcome string, trust, sim float64, exact bool, confJSON string,
	) {
		in := Input{
			Target: Target{inc, dag, run, task, try}, Class: class, Confidence: conf, RetrySafe: safe, Proposed: proposed,
			Facts:    Facts{RunState: runState, TaskState: taskState, DagPaused: paused},
			Counters: Counters{ti, today, rate}, KillSwitch: kill, PriorFailedVerification: prior,
			Precedent: &Precedent{Action: pAction, Outcome: pOutcome, Trust: trust, Similarity: sim, Exact: exact},
			Params:    Params{Conf: map[string]any{"raw": confJSON}},
		}
		d := p.Evaluate(in)
		if kill && (d.Outcome == OutcomeExecute || d.Outcome == OutcomeShadow) {
			t.Fatalf("kill switch on, outcome %s", d.Outcome)
		}
		if len(d.Reasons) == 0 {
			t.Fatal("no reasons")
		}
	})
}
