package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Variables follow Airflow's endpoints: 2.10's variable_endpoint.py (POST
// upserts through Variable.set and answers 200; PATCH of an unknown key is
// 404; marshmallow load errors are 400 "Invalid Variable schema") and 3.x's
// routes/public/variables.py (POST of an existing key is 409, 201
// otherwise; pydantic errors are 422). Keys are single path segments here,
// so a key with "/" must be sent as %2F; real 2.x routes PATCH and DELETE
// without Flask's path converter (apache/airflow#25103) and 3.0.0/3.0.1 none
// of them (#50796), so such keys are best avoided.

// ResourceVariablePrefix starts the Variable the simulated cluster policy
// reads: ResourceVariablePrefix + dag_id + "." + task_id.
const ResourceVariablePrefix = "medic_resources."

// simVariable is one row of the variable table.
type simVariable struct {
	key         string
	val         string
	description *string
}

// resources is what the simulated task_instance_mutation_hook applied to
// one try.
type resources struct {
	pool, queue string
}

// Variable returns a Variable's stored value.
func (s *Server) Variable(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.variables[key]
	if v == nil {
		return "", false
	}
	return v.val, true
}

// TryResources returns the pool and queue try of a task instance ran with:
// the task's own unless the simulated cluster policy (Options.ResourceHook)
// overrode them. ok is false when the try never ran.
func (s *Server) TryResources(dagID, runID, taskID string, try int) (pool, queue string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRun(dagID, runID)
	d := s.dags[dagID]
	if r == nil || d == nil || r.tis[taskID] == nil {
		return "", "", false
	}
	rec := r.tis[taskID].try(try)
	if rec == nil {
		return "", "", false
	}
	pool, queue = s.poolQueue(tiView{dag: d, run: r, ti: r.tis[taskID], rec: rec, task: d.tasks[taskID]})
	return pool, queue, true
}

// poolQueue is the pool and queue to render for a row: those the policy
// set for its try (the live row: the latest try), else the task's. Callers
// hold s.mu.
func (s *Server) poolQueue(v tiView) (pool, queue string) {
	pool, queue = v.task.Pool, v.task.Queue
	rec := v.rec
	if rec == nil && len(v.ti.tries) > 0 {
		rec = v.ti.tries[len(v.ti.tries)-1]
	}
	if res, ok := s.tryResources[rec]; ok && rec != nil {
		if res.pool != "" {
			pool = res.pool
		}
		if res.queue != "" {
			queue = res.queue
		}
	}
	return pool, queue
}

// policyResources imitates the task_instance_mutation_hook medic ships
// (integrations/airflow/medic_policy.py) for a task instance about to run
// again after a clear: with Options.ResourceHook set, the Variable
// medic_resources.<dag_id>.<task_id> holding {"pool", "queue",
// "executor_config"} overrides the pool and queue of the new tries. A
// missing or malformed Variable changes nothing. Callers hold s.mu.
func (s *Server) policyResources(dagID, taskID string, cleared bool) *resources {
	if !s.opts.ResourceHook || !cleared {
		return nil
	}
	v := s.variables[ResourceVariablePrefix+dagID+"."+taskID]
	if v == nil {
		return nil
	}
	var conf struct {
		Pool           *string        `json:"pool"`
		Queue          *string        `json:"queue"`
		ExecutorConfig map[string]any `json:"executor_config"`
	}
	if err := json.Unmarshal([]byte(v.val), &conf); err != nil {
		s.log.Warn("cluster policy: bad resource variable, left unchanged", "key", v.key, "error", err.Error())
		return nil
	}
	res := &resources{}
	if conf.Pool != nil {
		res.pool = *conf.Pool
	}
	if conf.Queue != nil {
		res.queue = *conf.Queue
	}
	if *res == (resources{}) {
		return nil
	}
	return res
}

// recordResources remembers what the policy applied to rec. Callers hold
// s.mu.
func (s *Server) recordResources(rec *tryRecord, res *resources) {
	if res == nil {
		return
	}
	if s.tryResources == nil {
		s.tryResources = map[*tryRecord]resources{}
	}
	s.tryResources[rec] = *res
}

// variableJSON renders 2.x Variable or 3.x VariableResponse.
func (s *Server) variableJSON(v *simVariable) map[string]any {
	out := map[string]any{"key": v.key, "value": v.val, "description": v.description}
	if s.version == 3 {
		out["is_encrypted"] = true // a Fernet key is configured, as in the official images
	}
	return out
}

func (s *Server) variableNotFound(w http.ResponseWriter, key string) {
	s.notFound(w, "Variable not found", strp("Variable does not exist"),
		fmt.Sprintf("The Variable with key: `%s` was not found", key))
}

// variableInput is a parsed Variable (2.x) or VariableBody (3.x).
type variableInput struct {
	key, val        string
	description     *string
	hasVal, hasDesc bool
}

// readVariable parses a request body; on failure it writes the version's
// error and returns false.
func (s *Server) readVariable(w http.ResponseWriter, r *http.Request) (variableInput, bool) {
	b := readBody(r, false)
	isObject := !b.absent && len(b.errs) == 0
	var in variableInput
	var hasKey bool
	in.key, hasKey = b.str("key", false)
	if s.version == 3 {
		if raw, ok := b.get("value"); ok {
			in.hasVal = true
			if str, isStr := raw.(string); isStr {
				in.val = str
			} else {
				in.val = pyValue(raw) // Variable.set stores str(value)
			}
		}
	} else {
		in.val, in.hasVal = b.str("value", false)
	}
	in.hasDesc = b.present("description")
	if d, ok := b.str("description", true); ok {
		in.description = &d
	}
	if s.version == 3 {
		_, _ = b.str("team_name", true)
		if len(in.key) > 250 {
			b.fail("key", "string_too_long", "String should have at most 250 characters", "", in.key, map[string]any{"max_length": 250})
		}
		for _, name := range []string{"key", "value"} {
			if isObject && !b.present(name) {
				b.errs = append(b.errs, valErr{Type: "missing", Loc: []any{"body", name}, Msg: "Field required", Input: b.whole})
			}
		}
		b.unknown()
		if len(b.errs) > 0 {
			s.invalid(w, b.errs)
			return in, false
		}
		return in, true
	}
	// 2.x: connexion checks types against the spec, then marshmallow loads
	// the body (required fields, unknown fields).
	if len(b.errs) > 0 {
		s.invalid(w, b.errs)
		return in, false
	}
	var msgs []string
	if !hasKey {
		msgs = append(msgs, "'key': ['Missing data for required field.']")
	}
	if !in.hasVal {
		msgs = append(msgs, "'value': ['Missing data for required field.']")
	}
	for k := range b.raw {
		if !b.read[k] {
			msgs = append(msgs, fmt.Sprintf("'%s': ['Unknown field.']", k))
		}
	}
	if len(msgs) > 0 {
		slices.Sort(msgs)
		s.problem(w, http.StatusBadRequest, "Invalid Variable schema", strp("{"+strings.Join(msgs, ", ")+"}"), "BadRequest")
		return in, false
	}
	return in, true
}

// handleGetVariable is GET /variables/{variable_key}.
func (s *Server) handleGetVariable(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("variable_key")
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.variables[key]
	if v == nil {
		s.variableNotFound(w, key)
		return
	}
	writeJSON(w, http.StatusOK, s.variableJSON(v))
}

// handleListVariables is GET /variables, in insertion (id) order. 2.x
// leaves the values out of the collection.
func (s *Server) handleListVariables(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	limit := q.integer("limit", map[int]int{2: 100, 3: 50}[s.version], 0)
	offset := q.integer("offset", 0, 0)
	if len(q.errs) > 0 {
		s.invalid(w, q.errs)
		return
	}
	limit = min(limit, s.opts.MaxPageLimit)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for i, key := range s.variableOrder {
		if i < offset || len(out) >= limit {
			continue
		}
		m := s.variableJSON(s.variables[key])
		if s.version == 2 {
			delete(m, "value")
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"variables": out, "total_entries": len(s.variableOrder)})
}

// handlePostVariable is POST /variables.
func (s *Server) handlePostVariable(w http.ResponseWriter, r *http.Request) {
	in, ok := s.readVariable(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.variables[in.key] != nil && s.version == 3 {
		s.detail(w, http.StatusConflict, fmt.Sprintf("The Variable with key: `%s` already exists", in.key))
		return
	}
	// Variable.set deletes and re-inserts: a 2.x POST overwrites.
	s.deleteVariable(in.key)
	v := &simVariable{key: in.key, val: in.val, description: in.description}
	s.storeVariable(v)
	status := http.StatusOK
	if s.version == 3 {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.variableJSON(v))
}

// handlePatchVariable is PATCH /variables/{variable_key}.
func (s *Server) handlePatchVariable(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("variable_key")
	in, ok := s.readVariable(w, r)
	if !ok {
		return
	}
	if in.key != key {
		if s.version == 3 {
			s.detail(w, http.StatusBadRequest, "Invalid body, key from request body doesn't match uri parameter")
		} else {
			s.problem(w, http.StatusBadRequest, "Invalid post body", strp("key from request body doesn't match uri parameter"), "BadRequest")
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.variables[key]
	if v == nil {
		s.variableNotFound(w, key)
		return
	}
	setVal, setDesc := true, in.hasDesc || s.version == 3
	if mask := newQuery(r).list("update_mask", true); len(mask) > 0 {
		setVal, setDesc = false, false
		for _, f := range mask {
			switch {
			case f == "description":
				setDesc = true
			case f == "value" && s.version == 3, f == "val" && s.version == 2:
				// 2.x matches the mask against marshmallow's attribute
				// names, so only "val" (not "value") is accepted.
				setVal = true
			default:
				s.badRequest(w, fmt.Sprintf("'%s' is unknown or cannot be updated.", f))
				return
			}
		}
	}
	if setVal {
		v.val = in.val
	}
	if setDesc {
		v.description = in.description
	}
	writeJSON(w, http.StatusOK, s.variableJSON(v))
}

// handleDeleteVariable is DELETE /variables/{variable_key}.
func (s *Server) handleDeleteVariable(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("variable_key")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deleteVariable(key) {
		if s.version == 3 {
			s.detail(w, http.StatusNotFound, fmt.Sprintf("The Variable with key: `%s` was not found", key))
		} else {
			s.problem(w, http.StatusNotFound, "Variable not found", nil, "NotFound")
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// storeVariable adds v. Callers hold s.mu.
func (s *Server) storeVariable(v *simVariable) {
	if s.variables == nil {
		s.variables = map[string]*simVariable{}
	}
	s.variables[v.key] = v
	s.variableOrder = append(s.variableOrder, v.key)
}

// deleteVariable removes key and reports whether it existed. Callers hold
// s.mu.
func (s *Server) deleteVariable(key string) bool {
	if s.variables[key] == nil {
		return false
	}
	delete(s.variables, key)
	s.variableOrder = slices.DeleteFunc(s.variableOrder, func(k string) bool { return k == key })
	return true
}
