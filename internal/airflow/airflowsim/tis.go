package airflowsim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
)

// tiFilter selects task instances for the list endpoints.
type tiFilter struct {
	dagIDs, runIDs, taskIDs              []string // nil: all
	states, pools, queues, operators     []string
	tries                                []int
	mapIndexes                           []int
	logical, runAfter, start, end, upd   timeRange
	duration                             numRange
	dagIDPattern, runIDPattern, namePatt *regexp.Regexp
}

func (f tiFilter) match(v tiView) bool {
	ti, run, task := v.ti, v.run, v.task
	if f.dagIDs != nil && !matchList(run.dagID, f.dagIDs) ||
		f.runIDs != nil && !matchList(run.runID, f.runIDs) ||
		f.taskIDs != nil && !matchList(ti.taskID, f.taskIDs) {
		return false
	}
	if len(f.tries) > 0 && !slices.Contains(f.tries, ti.tryNumber) {
		return false
	}
	if len(f.mapIndexes) > 0 && !slices.Contains(f.mapIndexes, -1) {
		return false
	}
	upd := ti.updatedAt
	ra := run.runAfter
	return matchStates(ti.state, f.states) && matchList(task.Pool, f.pools) && matchList(task.Queue, f.queues) &&
		matchList(task.Operator, f.operators) && f.logical.match(run.logicalDate) && f.runAfter.match(&ra) &&
		f.start.match(ti.start) && f.end.match(ti.end) && f.upd.match(&upd) && f.duration.match(ti.duration) &&
		(f.dagIDPattern == nil || f.dagIDPattern.MatchString(run.dagID)) &&
		(f.runIDPattern == nil || f.runIDPattern.MatchString(run.runID)) &&
		(f.namePatt == nil || f.namePatt.MatchString(ti.taskID))
}

var v2TIOrder = []string{
	"id", "state", "duration", "start_date", "end_date", "map_index", "try_number", "logical_date",
	"run_after", "data_interval_start", "data_interval_end", "rendered_map_index", "operator",
}

func tiSortValue(v tiView, field string) sortValue {
	switch field {
	case "id":
		return fv(f64p(float64(v.run.id*1000 + slices.Index(v.run.order, v.ti.taskID))))
	case "state":
		return sv(v.ti.state)
	case "duration":
		return fv(v.ti.duration)
	case "start_date":
		return tv(v.ti.start)
	case "end_date":
		return tv(v.ti.end)
	case "map_index", "rendered_map_index":
		return fv(f64p(-1))
	case "try_number":
		return fv(f64p(float64(v.ti.tryNumber)))
	case "logical_date":
		return tv(v.run.logicalDate)
	case "run_after":
		return tv(&v.run.runAfter)
	case "data_interval_start":
		return tv(v.run.intervalS)
	case "data_interval_end":
		return tv(v.run.intervalE)
	case "operator":
		return sv(v.task.Operator)
	}
	return sortValue{null: true}
}

// allTIs returns every live TI row, in run then task order. Callers hold
// s.mu.
func (s *Server) allTIs() []tiView {
	var out []tiView
	for _, r := range s.runs {
		d := s.dags[r.dagID]
		for _, id := range r.order {
			out = append(out, tiView{dag: d, run: r, ti: r.tis[id], task: d.tasks[id]})
		}
	}
	return out
}

func (s *Server) writeTIs(w http.ResponseWriter, rows []tiView, total int) {
	out := make([]any, 0, len(rows))
	for _, v := range rows {
		out = append(out, s.tiJSON(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": out, "total_entries": total})
}

// listTIs filters, sorts and pages TIs. Callers hold s.mu.
func (s *Server) listTIs(w http.ResponseWriter, f tiFilter, orderBy []string, limit, offset int) {
	keys, bad, ok := parseOrderBy(orderBy, v2TIOrder, nil)
	if !ok {
		s.badRequest(w, orderByError(bad))
		return
	}
	keys = append(keys, sortKey{field: "id"})
	var rows []tiView
	for _, v := range s.allTIs() {
		if f.match(v) {
			rows = append(rows, v)
		}
	}
	sortBy(rows, keys, tiSortValue)
	total := len(rows)
	if limit < 0 {
		limit = total
	}
	rows = paginate(rows, limit, offset)
	s.writeTIs(w, rows, total)
}

// handleListTIs is GET .../dagRuns/{dag_run_id}/taskInstances; both IDs may
// be "~" (3.x: e.g. one task's instances across runs with ?task_id=).
func (s *Server) handleListTIs(w http.ResponseWriter, r *http.Request) {
	dagID, runID := r.PathValue("dag_id"), r.PathValue("dag_run_id")
	q := newQuery(r)
	f := tiFilter{
		logical: s.queryTimeRange(q, "execution_date"), start: s.queryTimeRange(q, "start_date"),
		end: s.queryTimeRange(q, "end_date"), upd: s.queryTimeRange(q, "updated_at"),
		duration: s.queryNumRange(q, "duration"), pools: q.list("pool", false), queues: q.list("queue", false),
	}
	var orderBy []string
	if s.version == 3 {
		f.logical = s.queryTimeRange(q, "logical_date")
		f.runAfter = s.queryTimeRange(q, "run_after")
		f.states = q.list("state", false)
		f.operators = q.list("operator", false)
		if q.has("task_id") {
			f.taskIDs = []string{q.vals.Get("task_id")}
		}
		for _, name := range []string{"try_number", "map_index"} {
			for _, v := range q.list(name, false) {
				n, err := strconv.Atoi(v)
				if err != nil {
					q.fail(name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", "", v, nil)
					continue
				}
				if name == "try_number" {
					f.tries = append(f.tries, n)
				} else {
					f.mapIndexes = append(f.mapIndexes, n)
				}
			}
		}
		f.dagIDPattern = queryPattern(q, "dag_id_pattern")
		f.runIDPattern = queryPattern(q, "run_id_pattern")
		f.namePatt = queryPattern(q, "task_display_name_pattern")
		orderBy = q.list("order_by", false)
		if len(orderBy) == 0 {
			orderBy = []string{"map_index"}
		}
	} else {
		f.states = q.list("state", true)
	}
	limit, offset, ok := s.pageParams(w, q)
	if !ok {
		return
	}
	if len(q.errs) > 0 {
		s.invalid(w, q.errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if dagID != "~" {
		if s.version == 3 && s.dags[dagID] == nil {
			s.dagNotFound(w, dagID)
			return
		}
		f.dagIDs = []string{dagID}
	}
	if runID != "~" {
		if s.version == 3 && dagID != "~" && s.findRun(dagID, runID) == nil {
			s.runNotFound(w, dagID, runID)
			return
		}
		f.runIDs = []string{runID}
	}
	s.listTIs(w, f, orderBy, limit, offset)
}

// handleListTIsBatch is POST /dags/~/dagRuns/~/taskInstances/list. 2.x's
// ListTaskInstanceForm has no paging and returns every match; 3.x pages with
// page_limit (default 100, not clamped).
func (s *Server) handleListTIsBatch(w http.ResponseWriter, r *http.Request) {
	if s.version == 3 {
		var errs []valErr
		for _, name := range []string{"dag_id", "dag_run_id"} {
			if v := r.PathValue(name); v != "~" {
				errs = append(errs, literalTilde(name, v))
			}
		}
		if len(errs) > 0 {
			s.invalid(w, errs)
			return
		}
	}
	b := readBody(r, false)
	f := tiFilter{start: s.bodyTimeRange(b, "start_date"), end: s.bodyTimeRange(b, "end_date"), duration: s.bodyNumRange(b, "duration")}
	f.dagIDs, _ = b.strings("dag_ids", 0)
	f.runIDs, _ = b.strings("dag_run_ids", 0)
	f.taskIDs, _ = b.strings("task_ids", 0)
	f.pools, _ = b.strings("pool", 0)
	f.queues, _ = b.strings("queue", 0)
	_, _ = b.strings("executor", 0)
	if v, ok := b.get("state"); ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			b.fail("state", "list_type", "Input should be a valid list", fmt.Sprintf("%s is not of type 'array' - 'state'", pyValue(v)), v, nil)
		}
		for _, item := range list {
			switch x := item.(type) {
			case nil:
				f.states = append(f.states, "none")
			case string:
				f.states = append(f.states, x)
			default:
				b.fail("state", "enum", "Input should be a valid task state", fmt.Sprintf("%s is not one of the task states - 'state'", pyValue(item)), item, nil)
			}
		}
	}
	limit, offset := -1, 0
	var orderBy []string
	if s.version == 3 {
		f.logical = s.bodyTimeRange(b, "logical_date")
		f.runAfter = s.bodyTimeRange(b, "run_after")
		if o, ok := b.str("order_by", true); ok {
			orderBy = []string{o}
		}
		limit = b.integer("page_limit", 100, 0)
		offset = b.integer("page_offset", 0, 0)
	} else {
		f.logical = s.bodyTimeRange(b, "execution_date")
		if b.present("page_limit") {
			limit = b.integer("page_limit", 100, 1)
		}
		offset = b.integer("page_offset", 0, 0)
	}
	b.unknown()
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return
	}
	for _, p := range []*[]string{&f.dagIDs, &f.runIDs, &f.taskIDs} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listTIs(w, f, orderBy, limit, offset)
}

// lookupTI finds a live TI, answering 404 in the version's words when the
// run, the task or the map index does not exist. Callers hold s.mu.
func (s *Server) lookupTI(w http.ResponseWriter, r *http.Request) (tiView, bool) {
	dagID, runID, taskID := r.PathValue("dag_id"), r.PathValue("dag_run_id"), r.PathValue("task_id")
	mapIndex := -1
	if v := r.URL.Query().Get("map_index"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.invalid(w, []valErr{{
				Type: "int_parsing", Loc: []any{"query", "map_index"}, Msg: "Input should be a valid integer, unable to parse string as an integer",
				Input: v, v1: "Wrong type, expected 'integer' for query parameter 'map_index'",
			}})
			return tiView{}, false
		}
		mapIndex = n
	}
	run := s.findRun(dagID, runID)
	if run == nil || run.tis[taskID] == nil || mapIndex != -1 {
		s.tiNotFound(w, dagID, runID, taskID, mapIndex)
		return tiView{}, false
	}
	d := s.dags[dagID]
	return tiView{dag: d, run: run, ti: run.tis[taskID], task: d.tasks[taskID]}, true
}

func (s *Server) handleGetTI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookupTI(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.tiJSON(v))
}

// tryViews lists a TI's tries: every executed try from history, or the live
// row when it never ran.
func tryViews(v tiView) []tiView {
	if len(v.ti.tries) == 0 {
		return []tiView{v}
	}
	out := make([]tiView, 0, len(v.ti.tries))
	for _, rec := range v.ti.tries {
		t := v
		t.rec = rec
		out = append(out, t)
	}
	return out
}

func (s *Server) historyJSON(v tiView) any {
	if s.version == 3 {
		return s.v2HistoryOf(v)
	}
	return s.v1TIOf(v)
}

func (s *Server) handleTries(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	var limit, offset int
	var orderBy []string
	if s.version == 2 {
		var ok bool
		if limit, offset, ok = s.pageParams(w, q); !ok {
			return
		}
		if q.has("order_by") {
			orderBy = []string{q.vals.Get("order_by")}
		}
		if len(q.errs) > 0 {
			s.invalid(w, q.errs)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookupTI(w, r)
	if !ok {
		return
	}
	rows := tryViews(v)
	if s.version == 2 {
		keys, bad, ok := parseOrderBy(orderBy, []string{"try_number", "start_date", "end_date", "state", "duration"}, nil)
		if !ok {
			s.badRequest(w, orderByError(bad))
			return
		}
		sortBy(rows, keys, func(t tiView, field string) sortValue {
			state, try, _, start, end, dur, _, _, _ := t.fields()
			switch field {
			case "try_number":
				return fv(f64p(float64(try)))
			case "start_date":
				return tv(start)
			case "end_date":
				return tv(end)
			case "state":
				return sv(state)
			}
			return fv(dur)
		})
	}
	total := len(rows)
	if s.version == 2 {
		rows = paginate(rows, limit, offset)
	}
	out := make([]any, 0, len(rows))
	for _, t := range rows {
		out = append(out, s.historyJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": out, "total_entries": total})
}

func (s *Server) handleTry(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("task_try_number")
	n, err := strconv.Atoi(raw)
	if err != nil {
		s.invalid(w, []valErr{{
			Type: "int_parsing", Loc: []any{"path", "task_try_number"}, Input: raw,
			Msg: "Input should be a valid integer, unable to parse string as an integer", v1: fmt.Sprintf("'%s' is not of type 'integer'", raw),
		}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookupTI(w, r)
	if !ok {
		return
	}
	if rec := v.ti.try(n); rec != nil {
		v.rec = rec
	} else if len(v.ti.tries) != 0 || n != v.ti.tryNumber {
		s.notFound(w, "Task Instance not found", nil, fmt.Sprintf(
			"The Task Instance with dag_id: `%s`, run_id: `%s`, task_id: `%s`, try_number: `%d` and map_index: `-1` was not found",
			v.dag.ID, v.run.runID, v.task.ID, n))
		return
	}
	writeJSON(w, http.StatusOK, s.historyJSON(v))
}
