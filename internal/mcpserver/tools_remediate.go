package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
)

const (
	toolProposeAction    = "propose_action"
	toolRequestApproval  = "request_approval"
	toolTriggerDag       = "trigger_dag"
	toolClearFailedTasks = "clear_failed_tasks"
)

// maxReasonLen bounds a requester's reason, as the API does.
const maxReasonLen = 1000

type proposeIn struct {
	IncidentID string `json:"incident_id" jsonschema:"the incident the action is about"`
	Action     string `json:"action" jsonschema:"an action of medic's registry (clear_failed_tasks, retry_with_backoff, wait_for_upstream_then_retry, retry_with_more_resources, trigger_dag_run, pause_dag) or a remediation (retry, ...)"`
	Reason     string `json:"reason" jsonschema:"why, for the person who decides and the audit trail"`
}

type requestApprovalIn struct {
	IncidentID string `json:"incident_id" jsonschema:"the incident whose recommended remediation to ask approval for"`
	Reason     string `json:"reason" jsonschema:"why, for the person who decides and the audit trail"`
}

type triggerIn struct {
	IncidentID string         `json:"incident_id" jsonschema:"the incident whose DAG to trigger again"`
	Conf       map[string]any `json:"conf,omitempty" jsonschema:"the new run's conf, checked against the DAG's conf schema"`
	Reason     string         `json:"reason" jsonschema:"why, for the person who decides and the audit trail"`
}

type clearIn struct {
	IncidentID        string `json:"incident_id" jsonschema:"the incident whose failed tasks to clear"`
	IncludeDownstream bool   `json:"include_downstream,omitempty" jsonschema:"clear the failed tasks' downstream tasks too"`
	Reason            string `json:"reason" jsonschema:"why, for the person who decides and the audit trail"`
}

type proposalOut struct {
	Approval approvalView `json:"approval"`
	// Created is false when the same action was already pending: that
	// approval is returned.
	Created bool `json:"created"`
	// Executed is always false: nothing runs until a person approves it in
	// medic (medic approve, the API or Slack).
	Executed bool   `json:"executed"`
	Next     string `json:"next"`
}

const remediationNote = " It never executes anything: it creates a pending approval in medic's approval flow, which a " +
	"person approves or rejects in medic (medic approve ID, the API or Slack); medic's policy checks the action again before it runs."

func (t *toolset) addRemediation() {
	s := t.s
	add(t, spec{
		name: toolProposeAction, title: "Propose an action", need: config.RoleOperator, changes: true,
		desc: "Proposes a remediation action for an incident after medic's policy evaluated it against Airflow's state " +
			"(kill switch, allow and deny lists, preconditions, budgets); a refused action is an error with the policy's reasons." + remediationNote,
	}, func(ctx context.Context, c *call, in proposeIn) (*proposalOut, error) {
		if strings.TrimSpace(in.Action) == "" {
			return nil, userErrorf("action is required: one of %s", actionNames())
		}
		if _, ok := remediate.Resolve(in.Action); !ok {
			return nil, userErrorf("action %q is neither an action of medic's registry nor a remediation: want one of %s", clip(in.Action, 64), actionNames())
		}
		return s.request(ctx, c, in.IncidentID, in.Action, remediate.Params{}, in.Reason)
	})

	add(t, spec{
		name: toolRequestApproval, title: "Request approval of the recommended fix", need: config.RoleOperator, changes: true,
		desc: "Asks a person to approve the remediation medic's diagnosis recommends for an incident (get_incident shows " +
			"it), after medic's policy evaluated it." + remediationNote,
	}, func(ctx context.Context, c *call, in requestApprovalIn) (*proposalOut, error) {
		return s.request(ctx, c, in.IncidentID, "", remediate.Params{}, in.Reason)
	})
}

func (t *toolset) addWrites() {
	s := t.s
	add(t, spec{
		name: toolTriggerDag, title: "Ask to trigger a DAG run", need: config.RoleOperator, changes: true, destructive: true,
		desc: "Asks for a new run of the incident's DAG, with an optional conf checked against the DAG's conf schema." + remediationNote,
	}, func(ctx context.Context, c *call, in triggerIn) (*proposalOut, error) {
		return s.request(ctx, c, in.IncidentID, string(remediate.TriggerDagRun), remediate.Params{Conf: in.Conf}, in.Reason)
	})
	add(t, spec{
		name: toolClearFailedTasks, title: "Ask to clear failed tasks", need: config.RoleOperator, changes: true, destructive: true,
		desc: "Asks for the incident's failed task instances to be cleared (so Airflow runs them again), optionally with " +
			"their downstream tasks; the approval shows the dry run's list of task instances." + remediationNote,
	}, func(ctx context.Context, c *call, in clearIn) (*proposalOut, error) {
		return s.request(ctx, c, in.IncidentID, string(remediate.ClearFailedTasks), remediate.Params{IncludeDownstream: in.IncludeDownstream}, in.Reason)
	})
}

// request hands a request to medic's approval flow.
func (s *Server) request(ctx context.Context, c *call, incidentID, action string, params remediate.Params, reason string) (*proposalOut, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return nil, userErrorf("reason is required: say why, for the person who decides")
	case utf8.RuneCountInString(reason) > maxReasonLen:
		return nil, userErrorf("reason is longer than %d characters: summarise it", maxReasonLen)
	}
	inc, err := s.getIncident(ctx, c, incidentID)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.instance(inc.Instance); err != nil {
		return nil, err
	}
	if s.deps.Approvals == nil {
		return nil, userErrorf("remediation is not configured in this medic, so it takes no proposals")
	}
	a, created, err := s.deps.Approvals.RequestApproval(ctx, &act.ApprovalRequest{
		IncidentID: inc.ID, Action: action, Params: params, RequestedBy: c.id.Name, Reason: reason,
	})
	var refusedErr *act.RefusedError
	switch {
	case errors.As(err, &refusedErr):
		return nil, refused("medic's policy refuses %s for incident %s, so no approval was created: %s",
			refusedErr.Action, inc.ID, clip(strings.Join(refusedErr.Reasons, "; "), 1500))
	case errors.Is(err, store.ErrConflict):
		return nil, userErrorf("incident %s is resolved: there is nothing to remediate", inc.ID)
	case errors.Is(err, store.ErrNotFound):
		return nil, userErrorf("incident %q not found", inc.ID)
	case err != nil:
		return nil, s.airflowError(ctx, inc.Instance, fmt.Sprintf("the state of incident %s's failure", inc.ID), err)
	}
	out := &proposalOut{
		Approval: viewApproval(a), Created: created,
		Next: fmt.Sprintf("a person approves it with `medic approve %s` (or rejects it) before %s; nothing runs until then",
			a.ID, a.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")),
	}
	return out, nil
}

func actionNames() string {
	var names []string
	for _, a := range remediate.Actions() {
		if a.Name != remediate.Escalate {
			names = append(names, string(a.Name))
		}
	}
	return strings.Join(names, ", ")
}
