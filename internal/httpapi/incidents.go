package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// incidentPage is the body of GET /api/v1/incidents.
type incidentPage struct {
	Incidents []*incident.Incident `json:"incidents"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
	// Total counts every incident matching the filters, across pages.
	Total int `json:"total"`
}

// incidentDetail is the body of GET /api/v1/incidents/{id}.
type incidentDetail struct {
	Incident *incident.Incident       `json:"incident"`
	Events   []*incident.FailureEvent `json:"events"`
	// Session is the triage session, null if the incident has none.
	Session *sessionView `json:"session"`
	// Children are the specialist sessions the commander started, in the
	// order they were started; always an array.
	Children []*incident.Session `json:"children"`
	// Findings are every finding of the investigation: the commander's
	// session first, then each child's.
	Findings []*incident.Finding `json:"findings"`
	// Diagnosis is the final diagnosis, read from the findings: the log's as
	// the failure memory changed it; null before the log was read.
	Diagnosis *classify.Diagnosis `json:"diagnosis"`
	// Similar are the past failures memory recalled; always an array.
	Similar []triage.SimilarFailure `json:"similar"`
	// Precedent is the past failure that most supports the diagnosis, null
	// when none counted.
	Precedent *memory.Precedent `json:"precedent"`
	// Remediation is what the policy decided and what was done about it;
	// always an object.
	Remediation *remediationView `json:"remediation"`
}

// remediationView is the remediation part of GET /api/v1/incidents/{id}.
type remediationView struct {
	// Decision is the policy's decision record (act.Record) exactly as it
	// was recorded on the triage session, null until the policy decided.
	Decision json.RawMessage `json:"decision"`
	// Approvals are the actions proposed for a person's approval, newest
	// first; always an array.
	Approvals []*incident.Approval `json:"approvals"`
	// Actions are the actions medic ran, oldest first; always an array.
	Actions []*incident.ActionRun `json:"actions"`
}

// listParams are the query parameters GET /api/v1/incidents understands.
var listParams = []string{"state", "dag_id", "instance", "signature", "since", "limit", "cursor"}

const maxCursorLen = 1024

func (s *server) listIncidents(w http.ResponseWriter, r *http.Request) error {
	p, err := s.parseListParams(r.URL.Query())
	if err != nil {
		return err
	}
	res, err := s.store.IncidentList(r.Context(), p)
	if errors.Is(err, store.ErrInvalidCursor) {
		return badParam("cursor", "cursor is not one this server issued: start again without it")
	}
	if err != nil {
		return fmt.Errorf("list incidents: %w", err)
	}
	page := incidentPage{Incidents: res.Incidents, NextCursor: res.NextCursor, Total: res.Total}
	if page.Incidents == nil {
		page.Incidents = []*incident.Incident{}
	}
	s.writeJSON(w, r, http.StatusOK, page)
	return nil
}

// parseListParams validates the filters, naming the parameter at fault.
func (s *server) parseListParams(q url.Values) (*store.IncidentListParams, error) {
	if err := checkQuery(q, listParams, "state"); err != nil {
		return nil, err
	}
	p := &store.IncidentListParams{DagID: q.Get("dag_id"), Instance: q.Get("instance"), Signature: q.Get("signature"), Cursor: q.Get("cursor")}
	for _, v := range q["state"] {
		for part := range strings.SplitSeq(v, ",") {
			st := incident.State(strings.TrimSpace(part))
			switch {
			case st == "":
			case !st.Valid():
				return nil, badParam("state", fmt.Sprintf("state %q is not an incident state: want one of %s", clip(string(st), 64), stateList()))
			case !slices.Contains(p.States, st):
				p.States = append(p.States, st)
			}
		}
	}
	if p.Instance != "" && len(s.instances) > 0 && !slices.Contains(s.instances, p.Instance) {
		return nil, badParam("instance", fmt.Sprintf("instance %q is not configured: known instances are %s",
			clip(p.Instance, 250), strings.Join(s.instances, ", ")))
	}
	if len(p.DagID) > 250 {
		return nil, badParam("dag_id", "dag_id is longer than 250 characters")
	}
	if len(p.Signature) > 64 {
		return nil, badParam("signature", "signature is longer than 64 characters: pass a signature id such as sig_0123456789abcdef")
	}
	if v := q.Get("since"); v != "" {
		t, err := parseTimeParam(v)
		if err != nil {
			return nil, badParam("since", fmt.Sprintf("since must be an RFC 3339 timestamp such as 2026-05-01T00:00:00Z, got %q", clip(v, 64)))
		}
		p.Since = t
	}
	limit, err := limitParam(q)
	if err != nil {
		return nil, err
	}
	p.Limit = limit
	if len(p.Cursor) > maxCursorLen {
		return nil, badParam("cursor", "cursor is not one this server issued: start again without it")
	}
	return p, nil
}

// parseTimeParam reads an RFC 3339 time, forgiving the common mistake of an
// unencoded "+" in the offset, which arrives as a space.
func parseTimeParam(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil && strings.Contains(v, " ") {
		t, err = time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	}
	return t.UTC(), err
}

func stateList() string {
	names := make([]string, len(incident.States))
	for i, st := range incident.States {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

func (s *server) getIncident(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	missing := notFound(fmt.Sprintf("incident %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	ctx := r.Context()
	inc, err := s.store.IncidentGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("get incident %s: %w", id, err)
	}
	out := incidentDetail{
		Incident: inc, Children: []*incident.Session{}, Findings: []*incident.Finding{}, Similar: []triage.SimilarFailure{},
		Remediation: &remediationView{},
	}
	if out.Events, err = s.store.EventListByIncident(ctx, inc.ID); err != nil {
		return fmt.Errorf("list events of incident %s: %w", inc.ID, err)
	}
	if out.Events == nil {
		out.Events = []*incident.FailureEvent{}
	}
	if inc.TriageSessionID != "" {
		sess, err := s.sessionView(r, inc.TriageSessionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.log.WarnContext(ctx, "incident names a triage session that does not exist", "incident_id", inc.ID,
				"session_id", inc.TriageSessionID)
		case err != nil:
			return err
		default:
			out.Session = sess
			if out.Findings, err = s.findings(r, sess.ID); err != nil {
				return err
			}
			out.Remediation.Decision = s.decision(r, inc.ID, out.Findings)
			kids, err := s.store.SessionListChildren(ctx, sess.ID)
			if err != nil {
				return fmt.Errorf("list child sessions of %s: %w", sess.ID, err)
			}
			for _, k := range kids {
				fs, err := s.findings(r, k.ID)
				if err != nil {
					return err
				}
				out.Children = append(out.Children, k)
				out.Findings = append(out.Findings, fs...)
			}
		}
	}
	tr := triage.Decode(out.Findings)
	out.Diagnosis = tr.Diagnosis()
	if tr.Memory != nil {
		out.Precedent = tr.Memory.Precedent
		if tr.Memory.Similar != nil {
			out.Similar = tr.Memory.Similar
		}
	}
	if out.Remediation.Approvals, err = s.store.ApprovalList(ctx, &store.ApprovalListParams{
		IncidentID: inc.ID, Limit: store.MaxListLimit,
	}); err != nil {
		return fmt.Errorf("list approvals of incident %s: %w", inc.ID, err)
	}
	if out.Remediation.Approvals == nil {
		out.Remediation.Approvals = []*incident.Approval{}
	}
	if out.Remediation.Actions, err = s.store.ActionListByIncident(ctx, inc.ID); err != nil {
		return fmt.Errorf("list action runs of incident %s: %w", inc.ID, err)
	}
	if out.Remediation.Actions == nil {
		out.Remediation.Actions = []*incident.ActionRun{}
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

// decision returns the policy's decision record among the root session's
// findings, nil when there is none. A record that is not JSON is logged
// and answered as none, so that one bad row never hides the incident.
func (s *server) decision(r *http.Request, incidentID string, root []*incident.Finding) json.RawMessage {
	for _, f := range root {
		if f.Step != incident.StepRemediationDecision {
			continue
		}
		if !json.Valid(f.Data) {
			s.log.WarnContext(r.Context(), "the remediation decision is not JSON", "incident_id", incidentID,
				"finding_id", f.ID, "session_id", f.SessionID)
			return nil
		}
		return f.Data
	}
	return nil
}
