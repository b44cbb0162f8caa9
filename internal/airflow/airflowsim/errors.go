package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// 2.x errors are connexion problem documents; 3.x errors are FastAPI
// {"detail": ...} bodies, with pydantic's list shape for 422. The texts follow
// AIRFLOW.md §4 where it quotes them and Airflow's source otherwise.

// problemBody is a connexion RFC 7807 document. detail is often null.
type problemBody struct {
	Detail *string `json:"detail"`
	Status int     `json:"status"`
	Title  string  `json:"title"`
	Type   string  `json:"type"`
}

// detailBody is a FastAPI HTTPException body; Detail is a string or an
// object.
type detailBody struct {
	Detail any `json:"detail"`
}

// valErr is one pydantic validation error.
type valErr struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
	// v1 is the 2.x (connexion/marshmallow) wording of the same problem.
	v1 string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(s))
}

func strp(s string) *string { return &s }

// problem writes a 2.x problem document. name is the Errors/<Name> anchor of
// Airflow's exception types ("NotFound", "BadRequest", ...); empty means a
// connexion-level error, typed about:blank.
func (s *Server) problem(w http.ResponseWriter, status int, title string, detail *string, name string) {
	typ := "about:blank"
	if name != "" {
		typ = fmt.Sprintf("https://airflow.apache.org/docs/apache-airflow/%s/stable-rest-api-ref.html#section/Errors/%s", s.opts.AirflowVersion, name)
	}
	writeJSONType(w, status, "application/problem+json", problemBody{Detail: detail, Status: status, Title: title, Type: typ})
}

// detail writes a 3.x error body.
func (s *Server) detail(w http.ResponseWriter, status int, detail any) {
	writeJSON(w, status, detailBody{Detail: detail})
}

// notFound writes the version's 404: v1Title/v1Detail for 2.x, v2 for 3.x.
func (s *Server) notFound(w http.ResponseWriter, v1Title string, v1Detail *string, v2 string) {
	if s.version == 3 {
		s.detail(w, http.StatusNotFound, v2)
		return
	}
	s.problem(w, http.StatusNotFound, v1Title, v1Detail, "NotFound")
}

// badRequest writes an error Airflow itself raises as 400.
func (s *Server) badRequest(w http.ResponseWriter, msg string) {
	if s.version == 3 {
		s.detail(w, http.StatusBadRequest, msg)
		return
	}
	s.problem(w, http.StatusBadRequest, "Bad Request", strp(msg), "BadRequest")
}

// invalid writes request validation errors: 2.x reports the first one as a
// connexion 400, 3.x all of them as a pydantic 422.
func (s *Server) invalid(w http.ResponseWriter, errs []valErr) {
	if s.version == 3 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string][]valErr{"detail": errs})
		return
	}
	msg := errs[0].v1
	if msg == "" {
		msg = errs[0].Msg
	}
	s.problem(w, http.StatusBadRequest, "Bad Request", strp(msg), "")
}

func (s *Server) dagNotFound(w http.ResponseWriter, dagID string) {
	s.notFound(w, "DAG not found", strp(fmt.Sprintf("The DAG with dag_id: %s was not found", dagID)),
		fmt.Sprintf("The Dag with ID: `%s` was not found", dagID))
}

func (s *Server) runNotFound(w http.ResponseWriter, dagID, runID string) {
	s.notFound(w, "DAGRun not found", strp(fmt.Sprintf("DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", dagID, runID)),
		fmt.Sprintf("The DagRun with dag_id: `%s` and run_id: `%s` was not found", dagID, runID))
}

func (s *Server) tiNotFound(w http.ResponseWriter, dagID, runID, taskID string, mapIndex int) {
	s.notFound(w, "Task instance not found", nil,
		fmt.Sprintf("The Task Instance with dag_id: `%s`, run_id: `%s`, task_id: `%s` and map_index: `%d` was not found", dagID, runID, taskID, mapIndex))
}

// orderByError is the text both versions use for an unknown order_by field.
func orderByError(field string) string {
	return fmt.Sprintf("Ordering with '%s' is disallowed or the attribute does not exist on the model", field)
}

// routeNotFound answers paths no route matches, in the framework's words.
func (s *Server) routeNotFound(w http.ResponseWriter, r *http.Request) {
	if s.version == 3 {
		s.detail(w, http.StatusNotFound, "Not Found")
		return
	}
	s.problem(w, http.StatusNotFound, "Not Found",
		strp("The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."), "")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, allowed []string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	if s.version == 3 {
		s.detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	s.problem(w, http.StatusMethodNotAllowed, "Method Not Allowed",
		strp("The method is not allowed for the requested URL."), "")
}
