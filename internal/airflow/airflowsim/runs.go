package airflowsim

import (
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// runFilter selects DAG runs for the list endpoints.
type runFilter struct {
	dagIDs                                 []string // nil: all
	states, runTypes                       []string
	logical, runAfter, start, end, updated timeRange
	duration                               numRange
	runIDPattern, dagIDPattern             *regexp.Regexp
}

func (f runFilter) match(r *runState) bool {
	if f.dagIDs != nil && !matchList(r.dagID, f.dagIDs) {
		return false
	}
	var dur *float64
	if r.startDate != nil && r.endDate != nil {
		dur = f64p(r.endDate.Sub(*r.startDate).Seconds())
	}
	updated := r.updatedAt
	runAfter := r.runAfter
	return matchStates(r.state, f.states) && matchList(r.runType, f.runTypes) &&
		f.logical.match(r.logicalDate) && f.runAfter.match(&runAfter) && f.start.match(r.startDate) &&
		f.end.match(r.endDate) && f.updated.match(&updated) && f.duration.match(dur) &&
		(f.runIDPattern == nil || f.runIDPattern.MatchString(r.runID)) &&
		(f.dagIDPattern == nil || f.dagIDPattern.MatchString(r.dagID))
}

var (
	v1RunOrder   = []string{"id", "state", "dag_id", "execution_date", "run_id", "start_date", "end_date", "updated_at", "external_trigger", "conf"}
	v1RunAliases = map[string]string{"dag_run_id": "run_id", "logical_date": "execution_date"}
	v2RunOrder   = []string{"id", "state", "dag_id", "run_id", "logical_date", "run_after", "start_date", "end_date", "updated_at", "conf", "duration"}
	v2RunAliases = map[string]string{"dag_run_id": "run_id"}
)

func runSortValue(r *runState, field string) sortValue {
	switch field {
	case "id":
		return fv(f64p(float64(r.id)))
	case "state":
		return sv(r.state)
	case "dag_id":
		return sv(r.dagID)
	case "run_id":
		return sv(r.runID)
	case "execution_date", "logical_date":
		return tv(r.logicalDate)
	case "run_after":
		return tv(&r.runAfter)
	case "start_date":
		return tv(r.startDate)
	case "end_date":
		return tv(r.endDate)
	case "updated_at":
		return tv(&r.updatedAt)
	case "external_trigger":
		return sv(fmt.Sprint(r.runType != "scheduled"))
	case "conf":
		return sv(fmt.Sprint(r.conf))
	case "duration":
		if r.startDate == nil || r.endDate == nil {
			return sortValue{null: true}
		}
		return fv(f64p(r.endDate.Sub(*r.startDate).Seconds()))
	}
	return sortValue{null: true}
}

// listRuns filters, sorts and pages runs, writing the collection. Callers
// hold s.mu.
func (s *Server) listRuns(w http.ResponseWriter, f runFilter, orderBy []string, limit, offset int) {
	allowed, aliases := v1RunOrder, v1RunAliases
	if s.version == 3 {
		allowed, aliases = v2RunOrder, v2RunAliases
	}
	keys, bad, ok := parseOrderBy(orderBy, allowed, aliases)
	if !ok {
		s.badRequest(w, orderByError(bad))
		return
	}
	keys = append(keys, sortKey{field: "id"})
	var runs []*runState
	for _, r := range s.runs {
		if f.match(r) {
			runs = append(runs, r)
		}
	}
	sortBy(runs, keys, runSortValue)
	total := len(runs)
	runs = paginate(runs, limit, offset)
	if s.version == 3 {
		out := make([]v2DAGRun, 0, len(runs))
		for _, r := range runs {
			out = append(out, s.v2RunOf(s.dags[r.dagID], r))
		}
		writeJSON(w, http.StatusOK, map[string]any{"dag_runs": out, "total_entries": total})
		return
	}
	out := make([]v1DAGRun, 0, len(runs))
	for _, r := range runs {
		out = append(out, s.v1RunOf(r))
	}
	writeJSON(w, http.StatusOK, map[string]any{"dag_runs": out, "total_entries": total})
}

// handleListRuns is GET /dags/{dag_id}/dagRuns; dag_id "~" lists every DAG.
func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request) {
	dagID := r.PathValue("dag_id")
	q := newQuery(r)
	f := runFilter{
		start: s.queryTimeRange(q, "start_date"), end: s.queryTimeRange(q, "end_date"),
		updated: s.queryTimeRange(q, "updated_at"),
	}
	var orderBy []string
	if s.version == 3 {
		f.logical = s.queryTimeRange(q, "logical_date")
		f.runAfter = s.queryTimeRange(q, "run_after")
		f.duration = s.queryNumRange(q, "duration")
		f.states = q.list("state", false)
		f.runTypes = q.list("run_type", false)
		f.runIDPattern = queryPattern(q, "run_id_pattern")
		f.dagIDPattern = queryPattern(q, "dag_id_pattern")
		orderBy = q.list("order_by", false)
	} else {
		f.logical = s.queryTimeRange(q, "execution_date")
		f.states = q.list("state", true)
		if q.has("order_by") {
			orderBy = []string{q.vals.Get("order_by")}
		}
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
		// 2.x filters by dag_id without checking it exists (an unknown DAG
		// lists nothing); 3.x answers 404.
		if s.version == 3 && s.dags[dagID] == nil {
			s.dagNotFound(w, dagID)
			return
		}
		f.dagIDs = []string{dagID}
	}
	s.listRuns(w, f, orderBy, limit, offset)
}

// handleListRunsBatch is POST /dags/~/dagRuns/list.
func (s *Server) handleListRunsBatch(w http.ResponseWriter, r *http.Request) {
	if s.version == 3 && r.PathValue("dag_id") != "~" {
		s.invalid(w, []valErr{literalTilde("dag_id", r.PathValue("dag_id"))})
		return
	}
	b := readBody(r, false)
	f := runFilter{
		start: s.bodyTimeRange(b, "start_date"), end: s.bodyTimeRange(b, "end_date"),
	}
	var dagIDs []string
	var orderBy []string
	var limit, offset int
	if s.version == 3 {
		f.logical = s.bodyTimeRange(b, "logical_date")
		f.runAfter = s.bodyTimeRange(b, "run_after")
		f.duration = s.bodyNumRange(b, "duration")
		_, _ = b.str("conf_contains", true)
		dagIDs, _ = b.strings("dag_ids", 0)
		f.states, _ = b.strings("states", 0)
		if o, ok := b.str("order_by", true); ok {
			orderBy = []string{o}
		}
		// The 3.x batch endpoints are not clamped to maximum_page_limit.
		limit = b.integer("page_limit", 100, 0)
		offset = b.integer("page_offset", 0, 0)
	} else {
		f.logical = s.bodyTimeRange(b, "execution_date")
		dagIDs, _ = b.strings("dag_ids", 0)
		f.states, _ = b.strings("states", 0)
		if o, ok := b.str("order_by", false); ok {
			orderBy = []string{o}
		}
		limit = min(b.integer("page_limit", 100, 1), s.opts.MaxPageLimit)
		offset = b.integer("page_offset", 0, 0)
	}
	b.unknown()
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return
	}
	if len(dagIDs) > 0 {
		f.dagIDs = dagIDs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listRuns(w, f, orderBy, limit, offset)
}

func literalTilde(name, got string) valErr {
	return valErr{Type: "literal_error", Loc: []any{"path", name}, Msg: "Input should be '~'", Input: got, Ctx: map[string]any{"expected": "'~'"}}
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request) {
	dagID, runID := r.PathValue("dag_id"), r.PathValue("dag_run_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.findRun(dagID, runID)
	if run == nil {
		s.runNotFound(w, dagID, runID)
		return
	}
	s.writeRun(w, run)
}

func (s *Server) writeRun(w http.ResponseWriter, run *runState) {
	if s.version == 3 {
		writeJSON(w, http.StatusOK, s.v2RunOf(s.dags[run.dagID], run))
		return
	}
	writeJSON(w, http.StatusOK, s.v1RunOf(run))
}

// allowedRunID is [scheduler] allowed_run_id_pattern's default.
var allowedRunID = regexp.MustCompile(`^[A-Za-z0-9_.~:+-]+$`)

// handleTrigger is POST /dags/{dag_id}/dagRuns. The response shows the run
// as created (queued); it then executes at once with the DAG's default
// outcomes, unless the DAG is paused, in which case it stays queued.
func (s *Server) handleTrigger(w http.ResponseWriter, r *http.Request) {
	dagID := r.PathValue("dag_id")
	b := readBody(r, false)
	runID, hasRunID := b.str("dag_run_id", true)
	conf, _ := b.object("conf")
	note, hasNote := b.str("note", true)
	ivS, ivE := b.datetime("data_interval_start"), b.datetime("data_interval_end")
	var logical *time.Time
	if s.version == 3 {
		if !b.absent && len(b.errs) == 0 && !b.present("logical_date") {
			// 3.0/3.1: logical_date is required but may be null.
			b.errs = append(b.errs, valErr{Type: "missing", Loc: []any{"body", "logical_date"}, Msg: "Field required", Input: b.whole})
		}
		logical = b.datetime("logical_date")
		_ = b.datetime("run_after")
		_, _ = b.str("partition_key", true)
		b.unknown()
	} else {
		logical = b.datetime("logical_date")
		exec := b.datetime("execution_date")
		switch {
		case logical == nil:
			logical = exec
		case exec != nil && !exec.Equal(*logical):
			b.errs = append(b.errs, valErr{
				Type: "value_error", Loc: []any{"body"}, Msg: "logical_date conflicts with execution_date",
				v1: "{'_schema': ['logical_date conflicts with execution_date']}",
			})
		}
	}
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return
	}
	if (ivS == nil) != (ivE == nil) {
		s.badRequest(w, "data_interval_start and data_interval_end must either both be None or both be datetime")
		return
	}

	s.mu.Lock()
	d := s.dags[dagID]
	if d == nil {
		s.mu.Unlock()
		if s.version == 3 {
			s.dagNotFound(w, dagID)
		} else {
			s.problem(w, http.StatusNotFound, "DAG not found", strp(fmt.Sprintf("DAG with dag_id: '%s' not found", dagID)), "NotFound")
		}
		return
	}
	now := s.now()
	if s.version == 2 && logical == nil {
		logical = &now
	}
	if !hasRunID {
		switch {
		case logical != nil:
			runID = "manual__" + pyISO(*logical)
		default:
			runID = fmt.Sprintf("manual__%s_%s", pyISO(now), randomSuffix(s.nextSeq()))
		}
	}
	if !allowedRunID.MatchString(runID) {
		s.mu.Unlock()
		s.badRequest(w, fmt.Sprintf("The provided run ID '%s' is invalid. It does not match either the configured pattern: '^[A-Za-z0-9_.~:+-]+$' or the built-in pattern: '^[A-Za-z0-9_.~:+-]+$'", runID))
		return
	}
	if s.conflict(w, dagID, runID, logical) {
		s.mu.Unlock()
		return
	}
	run := s.createRun(d, runID, logical, "manual", "rest_api", s.defaults[dagID], conf)
	if ivS != nil {
		run.intervalS, run.intervalE = ivS, ivE
	}
	if hasNote {
		run.note = &note
	}
	if s.version == 3 && logical == nil {
		run.intervalS, run.intervalE = nil, nil
	}
	created := *run
	s.writeRunSnapshot(w, &created)
	var failures []TaskFailure
	if !d.Paused {
		failures = s.execute(d, run)
	}
	s.mu.Unlock()
	s.notify(failures)
}

// writeRunSnapshot writes a copy of a run taken before it executed.
func (s *Server) writeRunSnapshot(w http.ResponseWriter, run *runState) {
	s.writeRun(w, run)
}

// conflict answers 409 for a taken run ID (or, on 2.x, logical date).
// Callers hold s.mu.
func (s *Server) conflict(w http.ResponseWriter, dagID, runID string, logical *time.Time) bool {
	for _, r := range s.runs {
		if r.dagID != dagID {
			continue
		}
		sameID := r.runID == runID
		sameDate := s.version == 2 && logical != nil && r.logicalDate != nil && r.logicalDate.Equal(*logical)
		if !sameID && !sameDate {
			continue
		}
		if s.version == 3 {
			s.detail(w, http.StatusConflict, map[string]any{
				"reason":     "Unique constraint violation",
				"statement":  "hidden",
				"orig_error": "hidden",
				"message": "Serious error when handling your request. Check logs for more details - you will find it in api server when you look for ID " +
					uuidFor("error", dagID, runID, s.nextSeq()),
			})
			return true
		}
		detail := fmt.Sprintf("DAGRun with DAG ID: '%s' and DAGRun ID: '%s' already exists", dagID, runID)
		if !sameID {
			detail = fmt.Sprintf("DAGRun with DAG ID: '%s' and DAGRun logical date: '%s' already exists", dagID, pyStr(*logical))
		}
		s.problem(w, http.StatusConflict, "Conflict", strp(detail), "AlreadyExists")
		return true
	}
	return false
}

// randomSuffix is 3.x's get_random_string() for null-logical-date run IDs,
// made deterministic.
func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := uuidFor("suffix", n)
	out := make([]byte, 8)
	for i := range out {
		out[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(out)
}
