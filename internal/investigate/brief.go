package investigate

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/triage"
	"github.com/medic-sh/medic/internal/warehouse"
)

// Brief is a specialist's input: what the commander learnt while orienting
// itself, stored as the child session's Input. It is all Airflow said; it
// holds no instruction a log could have planted.
type Brief struct {
	Instance string `json:"instance"`
	DagID    string `json:"dag_id"`
	RunID    string `json:"run_id"`
	// TaskID and TryNumber are the task try the investigation is about:
	// the run's first failing task.
	TaskID    string     `json:"task_id,omitempty"`
	TryNumber int        `json:"try_number,omitempty"`
	Operator  string     `json:"operator,omitempty"`
	FailedAt  *time.Time `json:"failed_at,omitempty"`
	// DagOwners and Tags are the DAG's, from Airflow; TaskOwner is the
	// owner the failure report named.
	DagOwners []string `json:"dag_owners,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	TaskOwner string   `json:"task_owner,omitempty"`
	// Failed lists the run's failed tasks; Downstream the tasks the focus
	// task feeds directly; Blocked the tasks left upstream_failed.
	Failed     []string `json:"failed,omitempty"`
	Downstream []string `json:"downstream,omitempty"`
	Blocked    []string `json:"blocked,omitempty"`
	// ReportedError is the exception a failure report carried, redacted
	// when it was stored.
	ReportedError string `json:"reported_error,omitempty"`
}

// newBrief builds the brief from the commander's findings and the incident's
// failure reports.
func newBrief(inc *incident.Incident, orient []*incident.Finding, events []*incident.FailureEvent, task string, try int) Brief {
	b := Brief{
		Instance: inc.Instance, DagID: inc.DagID, RunID: inc.RunID, TaskID: task, TryNumber: try, TaskOwner: inc.Owner,
		Tags: slices.Clone(inc.Tags),
	}
	sum := triage.Decode(orient)
	if rs := sum.Run; rs != nil {
		b.DagOwners = rs.Owners
		for _, t := range rs.Tags {
			if !slices.Contains(b.Tags, t) {
				b.Tags = append(b.Tags, t)
			}
		}
	}
	if ft := sum.Failed; ft != nil {
		for _, f := range ft.Failed {
			b.Failed = append(b.Failed, f.TaskID)
			if f.TaskID == task {
				b.Operator, b.FailedAt, b.Downstream = f.Operator, f.EndDate, f.Downstream
			}
		}
		b.Blocked = ft.UpstreamFailed
	}
	for _, ev := range events {
		if b.ReportedError == "" && ev.Exception != "" && (ev.TaskID == task || task == "") {
			b.ReportedError = ev.Exception
		}
		if b.FailedAt == nil && ev.TaskID == task && !ev.OccurredAt.IsZero() {
			t := ev.OccurredAt
			b.FailedAt = &t
		}
		if b.TaskOwner == "" && ev.Owner != "" {
			b.TaskOwner = ev.Owner
		}
	}
	return b
}

func decodeBrief(s *incident.Session) (Brief, error) {
	var b Brief
	if len(s.Input) == 0 {
		return b, fmt.Errorf("session %s has no brief", s.ID)
	}
	if err := json.Unmarshal(s.Input, &b); err != nil {
		return b, fmt.Errorf("brief of session %s: %w", s.ID, err)
	}
	return b, nil
}

// Result is a specialist's structured outcome, stored as its session's
// Result for the commander to compose. The sections an engine does not
// produce stay empty.
type Result struct {
	Agent  string                 `json:"agent"`
	Engine string                 `json:"engine"`
	Status incident.SessionStatus `json:"status"`
	// Summary is one line for the report.
	Summary  string              `json:"summary"`
	Evidence []incident.Evidence `json:"evidence,omitempty"`
	// RootCause is the log-analyzer's hypothesis.
	RootCause *Hypothesis `json:"root_cause,omitempty"`
	// Warehouse is the query-profiler's report.
	Warehouse *WarehouseReport `json:"warehouse,omitempty"`
	// Owners is the owner-notifier's answer.
	Owners *OwnersResult `json:"owners,omitempty"`
	// Model is how the tool loop of a model-driven specialist went: its
	// outcome, proposal, tool calls, flags, tokens and cost.
	Model *ModelRun `json:"model,omitempty"`
	// Warnings are what people should look at even though the engine
	// answered, such as a suspected prompt injection in the log; the
	// composed report shows them.
	Warnings []string `json:"warnings,omitempty"`
	// Incomplete says what the engine could not do: a step that failed, a
	// step left for lack of steps, a source that was down.
	Incomplete []string `json:"incomplete,omitempty"`
	// Error is why the session failed or timed out.
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Hypothesis is a root-cause hypothesis: the failure's class with its
// confidence and the evidence for it, how often the task fails, and the
// past failures like it.
type Hypothesis struct {
	Label       classify.Label       `json:"label"`
	Confidence  float64              `json:"confidence"`
	RetrySafe   bool                 `json:"retry_safe"`
	Remediation classify.Remediation `json:"remediation"`
	Reason      string               `json:"reason,omitempty"`
	// Headline is the line naming the error.
	Headline  string              `json:"headline,omitempty"`
	Signature string              `json:"signature,omitempty"`
	Evidence  []incident.Evidence `json:"evidence"`
	// Pattern is "one-off" or "recurring", with FailedRuns in the lookback.
	Pattern    string `json:"pattern,omitempty"`
	FailedRuns int    `json:"failed_runs,omitempty"`
	// Similar are past failures from memory; Precedent the one that most
	// supports the label.
	Similar   []triage.SimilarFailure `json:"similar"`
	Precedent *memory.Precedent       `json:"precedent,omitempty"`
	// Model names the model whose proposal this is; "" for the
	// deterministic engines' calibrated diagnosis.
	Model string `json:"model,omitempty"`
}

// WarehouseReport is what the query-profiler found.
type WarehouseReport struct {
	// Configured is false when medic has no warehouse to ask.
	Configured bool                  `json:"configured"`
	Targets    []warehouse.TableName `json:"targets,omitempty"`
	Profiles   []WarehouseSummary    `json:"profiles,omitempty"`
}

// WarehouseSummary condenses one warehouse's profile; the whole profile is
// the data of the session's finding for that warehouse.
type WarehouseSummary struct {
	Warehouse   string   `json:"warehouse"`
	Kind        string   `json:"kind"`
	Blocking    int      `json:"blocking"`
	LockWaits   int      `json:"lock_waits"`
	LongRunning int      `json:"long_running"`
	Timeouts    []string `json:"timeouts,omitempty"`
	// Lines are the profile's most telling evidence, one per line.
	Lines  []string `json:"lines,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	Errors []string `json:"errors,omitempty"`
}
