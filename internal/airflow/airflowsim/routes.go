package airflowsim

import (
	"net/http"
	"slices"
	"strings"
)

// routes registers exactly the endpoints the stand-in implements, with the
// spec's paths for the server's version. Go's ServeMux matches each path
// segment after unescaping it, so run IDs sent as %2B/%3A arrive intact in
// PathValue.
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := s.prefix
	run := p + "/dags/{dag_id}/dagRuns/{dag_run_id}"
	ti := run + "/taskInstances/{task_id}"
	tryParam := "task_try_number"
	if s.version == 3 {
		tryParam = "try_number"
	}
	authed := func(pattern string, h http.HandlerFunc) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.authenticate(w, r) {
				h(w, r)
			}
		})
	}

	m.HandleFunc("GET "+p+"/version", s.handleVersion)
	authed("GET "+p+"/dags/{dag_id}", s.handleDAG)
	authed("PATCH "+p+"/dags/{dag_id}", s.handlePatchDAG)
	authed("GET "+p+"/dags/{dag_id}/details", s.handleDAGDetails)
	authed("GET "+p+"/dags/{dag_id}/tasks", s.handleTasks)
	authed("GET "+p+"/dags/{dag_id}/dagRuns", s.handleListRuns)
	authed("POST "+p+"/dags/{dag_id}/dagRuns", s.handleTrigger)
	authed("GET "+run, s.handleGetRun)
	authed("GET "+run+"/taskInstances", s.handleListTIs)
	authed("GET "+ti, s.handleGetTI)
	authed("GET "+ti+"/tries", s.handleTries)
	authed("GET "+ti+"/tries/{task_try_number}", s.handleTry)
	authed("GET "+ti+"/logs/{"+tryParam+"}", s.handleLog)
	authed("POST "+p+"/dags/{dag_id}/clearTaskInstances", s.handleClear)
	authed("GET "+p+"/variables", s.handleListVariables)
	authed("POST "+p+"/variables", s.handlePostVariable)
	authed("GET "+p+"/variables/{variable_key}", s.handleGetVariable)
	authed("PATCH "+p+"/variables/{variable_key}", s.handlePatchVariable)
	authed("DELETE "+p+"/variables/{variable_key}", s.handleDeleteVariable)
	if s.version == 3 {
		// The batch routes take dag_id (and dag_run_id) typed Literal["~"].
		authed("POST "+p+"/dags/{dag_id}/dagRuns/list", s.handleListRunsBatch)
		authed("POST "+run+"/taskInstances/list", s.handleListTIsBatch)
		m.HandleFunc("POST /auth/token", s.handleToken)
	} else {
		authed("POST "+p+"/dags/~/dagRuns/list", s.handleListRunsBatch)
		authed("POST "+p+"/dags/~/dagRuns/~/taskInstances/list", s.handleListTIsBatch)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Anything else: 405 when another method would match, else 404,
		// both in the framework's error format.
		var allowed []string
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
			if method == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = method
			if _, pattern := m.Handler(probe); pattern != "/" && pattern != "" {
				allowed = append(allowed, method)
			}
		}
		if len(allowed) > 0 {
			slices.Sort(allowed)
			s.methodNotAllowed(w, allowed)
			return
		}
		s.routeNotFound(w, r)
	})
	return m
}

func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": s.opts.AirflowVersion, "git_version": nil})
}

func (s *Server) handleDAG(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dags[r.PathValue("dag_id")]
	if d == nil {
		s.dagNotFound(w, r.PathValue("dag_id"))
		return
	}
	if s.version == 3 {
		writeJSON(w, http.StatusOK, s.v2DAGOf(d))
		return
	}
	writeJSON(w, http.StatusOK, s.v1DAGOf(d))
}

// handlePatchDAG pauses or unpauses a DAG, the one field Airflow's REST API
// lets a client change: update_mask, when given, may name only is_paused.
func (s *Server) handlePatchDAG(w http.ResponseWriter, r *http.Request) {
	for _, f := range r.URL.Query()["update_mask"] {
		for _, name := range strings.Split(f, ",") {
			if strings.TrimSpace(name) != "is_paused" {
				s.badRequest(w, "Only `is_paused` field can be updated through the REST API")
				return
			}
		}
	}
	b := readBody(r, false)
	if !b.absent && len(b.errs) == 0 && !b.present("is_paused") {
		b.errs = append(b.errs, valErr{
			Type: "missing", Loc: []any{"body", "is_paused"}, Msg: "Field required", Input: b.whole,
			v1: "{'is_paused': ['Missing data for required field.']}",
		})
	}
	paused := b.boolean(s.version, "is_paused", false)
	if s.version == 3 {
		b.unknown()
	}
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dags[r.PathValue("dag_id")]
	if d == nil {
		s.dagNotFound(w, r.PathValue("dag_id"))
		return
	}
	d.Paused = paused
	if s.version == 3 {
		writeJSON(w, http.StatusOK, s.v2DAGOf(d))
		return
	}
	writeJSON(w, http.StatusOK, s.v1DAGOf(d))
}

func (s *Server) handleDAGDetails(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dags[r.PathValue("dag_id")]
	if d == nil {
		s.dagNotFound(w, r.PathValue("dag_id"))
		return
	}
	if s.version == 3 {
		writeJSON(w, http.StatusOK, s.v2DAGDetailsOf(d))
		return
	}
	writeJSON(w, http.StatusOK, s.v1DAGDetailOf(d))
}

func (s *Server) handleTasks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dagID := r.PathValue("dag_id")
	d := s.dags[dagID]
	if d == nil {
		if s.version == 3 {
			s.dagNotFound(w, dagID)
		} else {
			s.problem(w, http.StatusNotFound, "DAG not found", nil, "NotFound")
		}
		return
	}
	orderBy := r.URL.Query().Get("order_by")
	if orderBy == "" {
		orderBy = "task_id"
	}
	field, desc := orderBy, false
	if field[0] == '-' {
		field, desc = field[1:], true
	}
	tasks := make([]*Task, 0, len(d.Tasks))
	for i := range d.Tasks {
		tasks = append(tasks, &d.Tasks[i])
	}
	key := map[string]func(*Task) string{
		"task_id":  func(t *Task) string { return t.ID },
		"owner":    func(t *Task) string { return t.Owner },
		"pool":     func(t *Task) string { return t.Pool },
		"queue":    func(t *Task) string { return t.Queue },
		"operator": func(t *Task) string { return t.Operator },
	}[field]
	if key == nil {
		s.badRequest(w, orderByError(field))
		return
	}
	slices.SortStableFunc(tasks, func(a, b *Task) int {
		c := compareStrings(key(a), key(b))
		if desc {
			return -c
		}
		return c
	})
	if s.version == 3 {
		out := make([]v2Task, 0, len(tasks))
		for _, t := range tasks {
			out = append(out, s.v2TaskOf(d, t))
		}
		writeJSON(w, http.StatusOK, map[string]any{"tasks": out, "total_entries": len(out)})
		return
	}
	out := make([]v1Task, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, s.v1TaskOf(d, t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out, "total_entries": len(out)})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
