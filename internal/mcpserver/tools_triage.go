package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// Tool names: part of medic's contract with assistants.
const (
	toolListRecentFailures = "list_recent_failures"
	toolListFailedRuns     = "list_failed_runs"
	toolGetRunSummary      = "get_run_summary"
	toolGetFailedTasks     = "get_failed_tasks"
	toolFailureFrequency   = "failure_frequency"
)

// List bounds.
const (
	defaultListLimit = 20
	maxListLimit     = 100
	maxWindow        = 30 * 24 * time.Hour
)

// runRef names a DAG run on an instance.
type runRef struct {
	Instance string `json:"instance,omitempty" jsonschema:"a configured Airflow instance name; the default instance when left out"`
	DagID    string `json:"dag_id" jsonschema:"the DAG id"`
	RunID    string `json:"run_id" jsonschema:"the DAG run id"`
}

func (r runRef) check() error {
	return checkIDs(opt("instance", r.Instance), req("dag_id", r.DagID), req("run_id", r.RunID))
}

type recentFailuresIn struct {
	Hours    float64 `json:"hours,omitempty" jsonschema:"how far back to look, in hours (default 24, at most 720)"`
	Instance string  `json:"instance,omitempty" jsonschema:"only incidents of this configured Airflow instance"`
	DagID    string  `json:"dag_id,omitempty" jsonschema:"only incidents of this DAG"`
	Limit    int     `json:"limit,omitempty" jsonschema:"how many incidents to return (default 20, at most 100)"`
}

type recentFailuresOut struct {
	Since     time.Time      `json:"since"`
	Incidents []incidentView `json:"incidents"`
	// Total counts every incident in the window, across the limit.
	Total int `json:"total"`
	page
	WindowClamped bool `json:"window_clamped,omitempty"`
}

type failedRunsIn struct {
	Hours    float64 `json:"hours,omitempty" jsonschema:"how far back to look, in hours (default 24, at most 720)"`
	Instance string  `json:"instance,omitempty" jsonschema:"a configured Airflow instance name; the default instance when left out"`
	DagID    string  `json:"dag_id,omitempty" jsonschema:"only runs of this DAG"`
	Limit    int     `json:"limit,omitempty" jsonschema:"how many runs to return (default 20, at most 100)"`
}

type failedRunsOut struct {
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
	Runs     []runView `json:"runs"`
	page
	WindowClamped bool `json:"window_clamped,omitempty"`
}

type frequencyIn struct {
	Instance string  `json:"instance,omitempty" jsonschema:"a configured Airflow instance name; the default instance when left out"`
	DagID    string  `json:"dag_id" jsonschema:"the DAG id"`
	TaskID   string  `json:"task_id" jsonschema:"the task id"`
	RunID    string  `json:"run_id,omitempty" jsonschema:"the run being looked at, counted as a failed run"`
	Hours    float64 `json:"hours,omitempty" jsonschema:"lookback in hours (default: triage's lookback, at most 720)"`
}

type frequencyOut struct {
	Instance string `json:"instance"`
	triage.Frequency
	WindowClamped bool `json:"window_clamped,omitempty"`
}

type failedTasksOut struct {
	Instance string `json:"instance"`
	triage.FailedTasks
}

type runSummaryOut struct {
	Instance string `json:"instance"`
	triage.RunSummary
}

func (t *toolset) addTriage() {
	s := t.s
	add(t, spec{
		name: toolListRecentFailures, title: "List recent failures", need: config.RoleViewer,
		desc: "Incidents medic opened for failed Airflow tasks in a recent time window, newest first, optionally for one " +
			"instance or DAG. Each has its state, severity and one-line summary; call get_incident for the rest.",
	}, func(ctx context.Context, _ *call, in recentFailuresIn) (*recentFailuresOut, error) {
		if err := checkIDs(opt("instance", in.Instance), opt("dag_id", in.DagID)); err != nil {
			return nil, err
		}
		if in.Instance != "" {
			if _, _, err := s.instance(in.Instance); err != nil {
				return nil, err
			}
		}
		win, wc, err := window("hours", in.Hours, 24*time.Hour, maxWindow)
		if err != nil {
			return nil, err
		}
		n, lc, err := limit("limit", in.Limit, defaultListLimit, maxListLimit)
		if err != nil {
			return nil, err
		}
		out := &recentFailuresOut{Since: s.now().UTC().Add(-win), Incidents: []incidentView{}, WindowClamped: wc}
		res, err := s.deps.Store.IncidentList(ctx, &store.IncidentListParams{Instance: in.Instance, DagID: in.DagID, Since: out.Since, Limit: n})
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		for _, inc := range res.Incidents {
			out.Incidents = append(out.Incidents, viewIncident(inc))
		}
		out.Total = res.Total
		out.page = page{Returned: len(out.Incidents), Truncated: res.Total > len(out.Incidents), LimitClamped: lc, Limit: n}
		return out, nil
	})

	add(t, spec{
		name: toolListFailedRuns, title: "List failed DAG runs", need: config.RoleViewer,
		desc: "Failed DAG runs Airflow reports for one configured instance in a recent time window, optionally for one DAG, " +
			"read live from Airflow (medic may not have an incident for each).",
	}, func(ctx context.Context, _ *call, in failedRunsIn) (*failedRunsOut, error) {
		if err := checkIDs(opt("instance", in.Instance), opt("dag_id", in.DagID)); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		win, wc, err := window("hours", in.Hours, 24*time.Hour, maxWindow)
		if err != nil {
			return nil, err
		}
		n, lc, err := limit("limit", in.Limit, defaultListLimit, maxListLimit)
		if err != nil {
			return nil, err
		}
		out := &failedRunsOut{Instance: name, Since: s.now().UTC().Add(-win), Runs: []runView{}, WindowClamped: wc}
		runs, err := af.ListFailedDagRuns(ctx, out.Since)
		if err != nil {
			return nil, s.airflowError(ctx, name, "failed runs", err)
		}
		slices.SortFunc(runs, func(a, b airflowRun) int { return compareEnd(b, a) })
		total := 0
		for i := range runs {
			if in.DagID != "" && runs[i].DagID != in.DagID {
				continue
			}
			total++
			if len(out.Runs) < n {
				out.Runs = append(out.Runs, viewRun(&runs[i]))
			}
		}
		out.page = page{Returned: len(out.Runs), Truncated: total > len(out.Runs), LimitClamped: lc, Limit: n}
		return out, nil
	})

	add(t, spec{
		name: toolGetRunSummary, title: "Get a DAG run's summary", need: config.RoleViewer,
		desc: "A DAG run's state, timing, how many of its tasks are in each state, its first failing task and the DAG's " +
			"owners and tags, read from Airflow (the same summary medic's triage records).",
	}, func(ctx context.Context, _ *call, in runRef) (*runSummaryOut, error) {
		if err := in.check(); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		rs, err := triage.SummarizeRun(ctx, af, in.DagID, in.RunID)
		if err != nil {
			return nil, s.airflowError(ctx, name, fmt.Sprintf("run %s of DAG %s", in.RunID, in.DagID), err)
		}
		return &runSummaryOut{Instance: name, RunSummary: *rs}, nil
	})

	add(t, spec{
		name: toolGetFailedTasks, title: "Get a DAG run's failed tasks", need: config.RoleViewer,
		desc: "The failed and up-for-retry task instances of a DAG run, the one that ended first first, with try numbers, " +
			"operator, host, duration and the tasks downstream of each, plus the tasks blocked as upstream_failed.",
	}, func(ctx context.Context, _ *call, in runRef) (*failedTasksOut, error) {
		if err := in.check(); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		ft, err := triage.ListFailedTasks(ctx, af, in.DagID, in.RunID)
		if err != nil {
			return nil, s.airflowError(ctx, name, fmt.Sprintf("run %s of DAG %s", in.RunID, in.DagID), err)
		}
		if ft.Failed == nil {
			ft.Failed = []triage.FailedTask{}
		}
		return &failedTasksOut{Instance: name, FailedTasks: *ft}, nil
	})

	add(t, spec{
		name: toolFailureFrequency, title: "How often a task fails", need: config.RoleViewer,
		desc: "How many times a task failed over a lookback window, in how many runs, and whether that makes it a " +
			"recurring failure (medic's triage rule), read from Airflow.",
	}, func(ctx context.Context, _ *call, in frequencyIn) (*frequencyOut, error) {
		if err := checkIDs(opt("instance", in.Instance), req("dag_id", in.DagID), req("task_id", in.TaskID), opt("run_id", in.RunID)); err != nil {
			return nil, err
		}
		name, af, err := s.instance(in.Instance)
		if err != nil {
			return nil, err
		}
		win, wc, err := window("hours", in.Hours, s.limits.FrequencyLookback, maxWindow)
		if err != nil {
			return nil, err
		}
		fq, err := triage.CountFailures(ctx, af, triage.FrequencyQuery{
			DagID: in.DagID, TaskID: in.TaskID, RunID: in.RunID, Since: s.now().Add(-win), Lookback: win,
			RecurringThreshold: s.limits.RecurringThreshold,
		})
		if err != nil {
			return nil, s.airflowError(ctx, name, fmt.Sprintf("failures of task %s in DAG %s", in.TaskID, in.DagID), err)
		}
		return &frequencyOut{Instance: name, Frequency: *fq, WindowClamped: wc}, nil
	})
}

// getIncident reads an incident a call names, or says it does not exist.
// incidentReport is an incident and its report as it stands.
func (s *Server) incidentReport(ctx context.Context, c *call, id string) (*incident.Incident, *report.Report, error) {
	inc, err := s.getIncident(ctx, c, id)
	if err != nil {
		return nil, nil, err
	}
	rep, err := report.Load(ctx, s.deps.Store, inc.ID, "")
	if err != nil {
		return nil, nil, fmt.Errorf("load report of %s: %w", inc.ID, err)
	}
	return inc, rep, nil
}

func (s *Server) getIncident(ctx context.Context, c *call, id string) (*incident.Incident, error) {
	if err := checkID("incident_id", id, true); err != nil {
		return nil, err
	}
	inc, err := s.deps.Store.IncidentGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, userErrorf("incident %q not found: list_incidents or list_recent_failures list real ids", clip(id, 100))
	}
	if err != nil {
		return nil, fmt.Errorf("get incident %s: %w", id, err)
	}
	c.incidentID = inc.ID
	return inc, nil
}
