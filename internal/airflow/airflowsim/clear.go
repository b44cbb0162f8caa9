package airflowsim

import (
	"fmt"
	"net/http"
	"time"
)

// clearRequest is ClearTaskInstances (2.x) / ClearTaskInstancesBody (3.x)
// with the version's defaults applied.
type clearRequest struct {
	dryRun, onlyFailed, onlyRunning, resetDagRuns bool
	upstream, downstream, future, past            bool
	taskIDs                                       []string
	runID                                         string
	hasRunID                                      bool
	start, end                                    *time.Time
}

func (s *Server) parseClear(b *body) clearRequest {
	v := s.version
	c := clearRequest{
		// dry_run defaults to true: an empty body clears nothing.
		dryRun:      b.boolean(v, "dry_run", true),
		onlyFailed:  b.boolean(v, "only_failed", true),
		onlyRunning: b.boolean(v, "only_running", false),
		// reset_dag_runs: False in 2.x's ClearTaskInstanceFormSchema, True in
		// 3.x's ClearTaskInstancesBody.
		resetDagRuns: b.boolean(v, "reset_dag_runs", v == 3),
		upstream:     b.boolean(v, "include_upstream", false),
		downstream:   b.boolean(v, "include_downstream", false),
		future:       b.boolean(v, "include_future", false),
		past:         b.boolean(v, "include_past", false),
	}
	c.runID, c.hasRunID = b.str("dag_run_id", true)
	c.start, c.end = b.datetime("start_date"), b.datetime("end_date")
	if v == 3 {
		_ = b.boolean(v, "run_on_latest_version", false)
		_ = b.boolean(v, "prevent_running_task", false)
		c.taskIDs = s.clearTaskIDsV2(b)
	} else {
		_ = b.boolean(v, "include_subdags", false)
		_ = b.boolean(v, "include_parentdag", false)
		c.taskIDs, _ = b.strings("task_ids", 1)
	}
	b.unknown()
	if len(b.errs) > 0 {
		return c
	}
	// The schema-level checks, in marshmallow's order (2.x) and as the 3.x
	// model validator raises them.
	schemaErr := func(msg string) {
		b.errs = append(b.errs, valErr{
			Type: "value_error", Loc: []any{"body"}, Msg: "Value error, " + msg, Input: b.whole,
			Ctx: map[string]any{"error": map[string]any{}}, v1: fmt.Sprintf("{'_schema': ['%s']}", msg),
		})
	}
	switch {
	case c.onlyFailed && c.onlyRunning:
		schemaErr("only_failed and only_running both are set to True")
	case c.start != nil && c.end != nil && c.start.After(*c.end):
		schemaErr("end_date is sooner than start_date")
	case c.start != nil && c.end != nil && c.hasRunID:
		schemaErr("Exactly one of dag_run_id or (start_date and end_date) must be provided")
	case c.start != nil && c.hasRunID:
		schemaErr("Exactly one of dag_run_id or start_date must be provided")
	case c.end != nil && c.hasRunID:
		schemaErr("Exactly one of dag_run_id or end_date must be provided")
	}
	return c
}

// clearTaskIDsV2 reads 3.x task_ids, whose items are "task_id" or
// ["task_id", map_index].
func (s *Server) clearTaskIDsV2(b *body) []string {
	v, ok := b.get("task_ids")
	if !ok || v == nil {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		b.fail("task_ids", "list_type", "Input should be a valid list", "", v, nil)
		return nil
	}
	out := []string{}
	for i, item := range list {
		switch x := item.(type) {
		case string:
			out = append(out, x)
			continue
		case []any:
			if len(x) == 2 {
				if id, isStr := x[0].(string); isStr {
					if _, isNum := x[1].(float64); isNum {
						out = append(out, id)
						continue
					}
				}
			}
		}
		b.errs = append(b.errs, valErr{Type: "string_type", Loc: []any{"body", "task_ids", i, "str"}, Msg: "Input should be a valid string", Input: item})
	}
	return out
}

// handleClear is POST /dags/{dag_id}/clearTaskInstances. A real clear resets
// the selected TIs to the null state (raising max_tries so the task gets its
// retries again) and, when reset_dag_runs is set, puts their runs back to
// queued and executes them at once with each task's next scripted outcome.
// Without reset_dag_runs a finished run keeps its state and the cleared TIs
// stay null, because Airflow's scheduler only schedules running runs.
func (s *Server) handleClear(w http.ResponseWriter, r *http.Request) {
	dagID := r.PathValue("dag_id")
	b := readBody(r, false)
	c := s.parseClear(b)
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return
	}

	s.mu.Lock()
	d := s.dags[dagID]
	if d == nil {
		s.mu.Unlock()
		if s.version == 3 {
			s.dagNotFound(w, dagID)
		} else {
			s.problem(w, http.StatusNotFound, fmt.Sprintf("Dag id %s not found", dagID), nil, "NotFound")
		}
		return
	}
	var runs []*runState
	if c.hasRunID {
		anchor := s.findRun(dagID, c.runID)
		if anchor == nil {
			s.mu.Unlock()
			msg := fmt.Sprintf("Dag Run id %s not found in dag %s", c.runID, dagID)
			s.notFound(w, msg, nil, msg)
			return
		}
		for _, run := range s.runs {
			if run.dagID != dagID {
				continue
			}
			switch {
			case run == anchor:
			case c.past && before(run, anchor):
			case c.future && before(anchor, run):
			default:
				continue
			}
			runs = append(runs, run)
		}
	} else {
		window := timeRange{gte: c.start, lte: c.end}
		for _, run := range s.runs {
			if run.dagID == dagID && (!window.set() || window.match(run.logicalDate)) {
				runs = append(runs, run)
			}
		}
	}

	tasks := map[string]bool{}
	if c.taskIDs != nil {
		var known []string
		for _, id := range c.taskIDs {
			if d.tasks[id] != nil {
				known = append(known, id)
			}
		}
		tasks = map[string]bool{}
		for _, id := range known {
			tasks[id] = true
		}
		if c.upstream {
			for id := range d.upstreamClosure(known) {
				tasks[id] = true
			}
		}
		if c.downstream {
			for id := range d.downstreamClosure(known) {
				tasks[id] = true
			}
		}
	} else {
		for _, id := range d.order {
			tasks[id] = true
		}
	}

	var selected []tiView
	for _, run := range runs {
		for _, id := range run.order {
			ti := run.tis[id]
			if !tasks[id] {
				continue
			}
			if c.onlyFailed && ti.state != tiFailed && ti.state != tiUpstreamFailed {
				continue
			}
			if c.onlyRunning && ti.state != runRunning {
				continue
			}
			selected = append(selected, tiView{dag: d, run: run, ti: ti, task: d.tasks[id]})
		}
	}

	var touched []*runState
	if !c.dryRun {
		now := s.now()
		seen := map[*runState]bool{}
		for _, v := range selected {
			v.ti.state = ""
			v.ti.maxTries = v.ti.tryNumber + v.task.Retries
			v.ti.updatedAt = now
			if !seen[v.run] {
				seen[v.run] = true
				touched = append(touched, v.run)
			}
		}
		if c.resetDagRuns {
			for _, run := range touched {
				run.state = runQueued
				run.startDate, run.lastSched = nil, nil
				run.queuedAt = &now
				run.clearNumber++
				run.updatedAt = now
			}
		}
	}
	s.writeCleared(w, selected)

	var failures []TaskFailure
	if !c.dryRun && c.resetDagRuns && !d.Paused {
		for _, run := range touched {
			failures = append(failures, s.execute(d, run)...)
		}
	}
	s.mu.Unlock()
	s.notify(failures)
}

func before(a, b *runState) bool {
	if a.logicalDate == nil || b.logicalDate == nil {
		return a.id < b.id
	}
	return a.logicalDate.Before(*b.logicalDate)
}

// writeCleared answers with the selected TIs as they are right after the
// clear (before any re-execution): 2.x as TaskInstanceReferenceCollection,
// 3.x as full TaskInstanceResponse objects with total_entries.
func (s *Server) writeCleared(w http.ResponseWriter, rows []tiView) {
	if s.version == 3 {
		s.writeTIs(w, rows, len(rows))
		return
	}
	refs := make([]v1TIRef, 0, len(rows))
	for _, v := range rows {
		ld := ""
		if v.run.logicalDate != nil {
			ld = pyISO(*v.run.logicalDate)
		}
		refs = append(refs, v1TIRef{DagID: v.dag.ID, DagRunID: v.run.runID, ExecutionDate: ld, TaskID: v.task.ID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": refs})
}
