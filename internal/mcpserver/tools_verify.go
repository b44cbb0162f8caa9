package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/remediate"
)

const (
	toolGetLatestRun           = "get_latest_run"
	toolGetTaskStates          = "get_task_states"
	toolCheckRecoveryRules     = "check_recovery_rules"
	defaultVerifyWindow        = time.Hour
	maxTaskStatesListed    int = 500
)

type latestRunIn struct {
	Instance string `json:"instance,omitempty" jsonschema:"a configured Airflow instance name; the default instance when left out"`
	DagID    string `json:"dag_id" jsonschema:"the DAG id"`
}

type latestRunOut struct {
	Instance string `json:"instance"`
	// Found is false when the DAG has no run yet.
	Found bool     `json:"found"`
	Run   *runView `json:"run,omitempty"`
}

type taskState struct {
	TaskID    string     `json:"task_id"`
	MapIndex  int        `json:"map_index"`
	State     string     `json:"state"`
	TryNumber int        `json:"try_number"`
	MaxTries  int        `json:"max_tries"`
	StartDate *time.Time `json:"start_date,omitempty"`
	EndDate   *time.Time `json:"end_date,omitempty"`
}

type taskStatesOut struct {
	Instance string         `json:"instance"`
	DagID    string         `json:"dag_id"`
	RunID    string         `json:"run_id"`
	Counts   map[string]int `json:"counts"`
	Tasks    []taskState    `json:"tasks"`
	page
}

type recoveryIn struct {
	IncidentID string `json:"incident_id" jsonschema:"the incident whose recovery to check"`
}

type recoveryOut struct {
	IncidentID string `json:"incident_id"`
	// Rule is what recovery means for this incident: task_instance_success,
	// new_run_success or dag_paused (remediate's verification kinds).
	Rule string `json:"rule"`
	// Source says where the rule comes from: "decision" (the remediation
	// policy's decision) or "default" (the failed task succeeding).
	Source string `json:"source"`
	Action string `json:"action,omitempty"`
	DagID  string `json:"dag_id"`
	RunID  string `json:"run_id"`
	TaskID string `json:"task_id,omitempty"`
	// Outcome is verified, failed, or pending while nothing is settled.
	Outcome string `json:"outcome"`
	Settled bool   `json:"settled"`
	Detail  string `json:"detail"`
	// WindowSec is how long medic's verification waits for recovery.
	WindowSec float64 `json:"window_sec"`
	// ActionRunStatus and Verification are the recorded action run's, when
	// one ran.
	ActionRunStatus string `json:"action_run_status,omitempty"`
	Verification    string `json:"verification,omitempty"`
}

func (t *toolset) addVerification() {
	s := t.s
	add(t, spec{
		name: toolGetLatestRun, title: "Get a DAG's latest run", need: config.RoleViewer,
		desc: "The most recently created run of a DAG, with its state and dates, read live from Airflow.",
	}, func(ctx context.Context, _ *call, in latestRunIn) (*latestRunOut, error) {
		if err := checkIDs(opt("instance", in.Instance), req("dag_id", in.DagID)); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		runs, err := af.ListDagRuns(ctx, in.DagID, airflow.RunQuery{Limit: 1})
		if err != nil {
			return nil, s.airflowError(ctx, name, "DAG "+in.DagID, err)
		}
		out := &latestRunOut{Instance: name}
		if len(runs) > 0 {
			v := viewRun(&runs[0])
			out.Found, out.Run = true, &v
		}
		return out, nil
	})

	add(t, spec{
		name: toolGetTaskStates, title: "Get a DAG run's task states", need: config.RoleViewer,
		desc: "Every task instance of a DAG run with its state and try, and how many are in each state, read live " +
			"from Airflow: use it to see whether a run recovered.",
	}, func(ctx context.Context, _ *call, in runRef) (*taskStatesOut, error) {
		if err := in.check(); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		tis, err := af.ListTaskInstances(ctx, in.DagID, in.RunID)
		if err != nil {
			return nil, s.airflowError(ctx, name, fmt.Sprintf("run %s of DAG %s", in.RunID, in.DagID), err)
		}
		sort.Slice(tis, func(i, j int) bool {
			if tis[i].TaskID != tis[j].TaskID {
				return tis[i].TaskID < tis[j].TaskID
			}
			return tis[i].MapIndex < tis[j].MapIndex
		})
		out := &taskStatesOut{Instance: name, DagID: in.DagID, RunID: in.RunID, Counts: map[string]int{}, Tasks: []taskState{}}
		for _, ti := range tis {
			st := ti.State
			if st == "" {
				st = "none"
			}
			out.Counts[st]++
			if len(out.Tasks) < maxTaskStatesListed {
				out.Tasks = append(out.Tasks, taskState{
					TaskID: ti.TaskID, MapIndex: ti.MapIndex, State: st, TryNumber: ti.TryNumber, MaxTries: ti.MaxTries,
					StartDate: ti.StartDate, EndDate: ti.EndDate,
				})
			}
		}
		out.page = page{Returned: len(out.Tasks), Truncated: len(tis) > len(out.Tasks), Limit: maxTaskStatesListed}
		return out, nil
	})

	add(t, spec{
		name: toolCheckRecoveryRules, title: "Check an incident's recovery", need: config.RoleViewer,
		desc: "Checks once, against Airflow now, whether an incident's failure recovered by medic's own verification " +
			"rule: the rule of the remediation decision (the cleared task succeeded, the new run succeeded, the DAG is " +
			"paused), or, with no decision, the failed task succeeding on a later try.",
	}, func(ctx context.Context, c *call, in recoveryIn) (*recoveryOut, error) {
		inc, err := s.getIncident(ctx, c, in.IncidentID)
		if err != nil {
			return nil, err
		}
		name, af, err := s.instance(inc.Instance)
		if err != nil {
			return nil, err
		}
		d, tgt, source, err := s.recoveryRule(ctx, inc)
		if err != nil {
			return nil, err
		}
		out := &recoveryOut{
			IncidentID: inc.ID, Rule: string(d.Verify.Kind), Source: source, Action: string(d.Action),
			DagID: tgt.DagID, RunID: tgt.RunID, TaskID: tgt.TaskID, WindowSec: d.Verify.Window.Seconds(), Outcome: "pending",
		}
		var run *remediate.Run
		runs, err := s.deps.Store.ActionListByIncident(ctx, inc.ID)
		if err != nil {
			return nil, fmt.Errorf("list action runs of %s: %w", inc.ID, err)
		}
		for _, r := range runs {
			if d.IdempotencyKey != "" && r.IdempotencyKey == d.IdempotencyKey {
				run = remediate.RunOf(r)
				out.ActionRunStatus, out.Verification = string(r.Status), string(r.Verification)
			}
		}
		x := &remediate.Executor{Airflow: readOnlyAirflow{af}}
		res, settled, err := x.Check(ctx, d, tgt, run)
		if err != nil {
			return nil, s.airflowError(ctx, name, fmt.Sprintf("the state of run %s of DAG %s", tgt.RunID, tgt.DagID), err)
		}
		out.Settled, out.Detail = settled, res.Detail
		if settled {
			out.Outcome = string(res.Outcome)
		}
		return out, nil
	})
}

// recoveryRule is how medic verifies an incident's recovery: its
// remediation decision's, or the failed task succeeding.
func (s *Server) recoveryRule(ctx context.Context, inc *incident.Incident) (remediate.Decision, remediate.Target, string, error) {
	if inc.TriageSessionID != "" {
		fs, err := s.deps.Store.FindingListBySession(ctx, inc.TriageSessionID)
		if err != nil {
			return remediate.Decision{}, remediate.Target{}, "", fmt.Errorf("read findings of %s: %w", inc.ID, err)
		}
		for _, f := range fs {
			if f.Step != incident.StepRemediationDecision {
				continue
			}
			var rec act.Record
			if err := json.Unmarshal(f.Data, &rec); err == nil && rec.Decision.Verify.Kind != "" {
				if rec.Decision.Verify.Window <= 0 {
					rec.Decision.Verify.Window = defaultVerifyWindow
				}
				return rec.Decision, rec.Target, "decision", nil
			}
		}
	}
	t := remediate.Target{IncidentID: inc.ID, DagID: inc.DagID, RunID: inc.RunID, TaskID: inc.FirstTaskID}
	events, err := s.deps.Store.EventListByIncident(ctx, inc.ID)
	if err != nil {
		return remediate.Decision{}, remediate.Target{}, "", fmt.Errorf("list events of %s: %w", inc.ID, err)
	}
	for _, ev := range events {
		if ev.TaskID == t.TaskID || t.TaskID == "" {
			t.TaskID, t.TryNumber = ev.TaskID, max(t.TryNumber, ev.TryNumber)
		}
	}
	if t.TaskID == "" {
		return remediate.Decision{Verify: remediate.Verify{Kind: remediate.VerifyRunSuccess, Window: defaultVerifyWindow}}, t, "default", nil
	}
	return remediate.Decision{Verify: remediate.Verify{Kind: remediate.VerifyTaskSuccess, Window: defaultVerifyWindow}}, t, "default", nil
}
