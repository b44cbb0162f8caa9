package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// ErrNotCommander is returned when an agent other than the commander, or a
// session below the root, would start sessions.
var ErrNotCommander = errors.New("only the commander may start agents")

// Command runs the commander in the incident's root session: it orients
// itself in the run (resolve, run_summary, failed_tasks, recorded as its own
// findings: that is how it decides what to delegate, and what every brief
// says), then starts its specialists with a deadline. It never diagnoses.
// Running it again resumes: finished steps are skipped and SessionSpawn
// returns the children already started. finalAttempt records retryable
// failures instead of asking for a retry.
func (inv *Investigator) Command(ctx context.Context, incidentID, sessionID string, finalAttempt bool) error {
	inc, err := inv.store.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("investigate %s: %w", incidentID, err)
	}
	if inc.TriagedAt != nil {
		return nil // a redelivered job
	}
	root, err := inv.store.SessionGetByID(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("investigate %s: %w", incidentID, err)
	}
	if root.Status.Final() {
		// Composed, but the crash came before the triage completed.
		return inv.Compose(ctx, incidentID, sessionID)
	}
	if err := inv.triage.Begin(ctx, inc, sessionID); err != nil {
		return err
	}
	cmd := inv.agents.Commander()
	inv.progress(ctx, root, fmt.Sprintf("%s: finding what failed in %s run %s", cmd.Name, inc.DagID, inc.RunID))
	orient, err := inv.triage.RunPhase(ctx, triage.PhaseOrient, triage.Scope{Incident: inc, SessionID: sessionID}, finalAttempt)
	if errors.Is(err, triage.ErrNoInstance) {
		return inv.fail(ctx, inc, root, err)
	}
	if err != nil {
		return err
	}
	task, try, err := inv.triage.Focus(ctx, inc, orient.Findings)
	if err != nil {
		return inv.fail(ctx, inc, root, fmt.Errorf("nothing to delegate: %w", err))
	}
	events, err := inv.store.EventListByIncident(ctx, inc.ID)
	if err != nil {
		return fmt.Errorf("investigate %s: %w", inc.ID, err)
	}
	brief := newBrief(inc, orient.Findings, events, task, try)
	delegates := inv.agents.Delegates()
	if limit := cmd.MaxSteps; len(delegates) > limit {
		inv.progress(ctx, root, fmt.Sprintf("max_steps %d: starting %d of %d specialists", limit, limit, len(delegates)))
		delegates = delegates[:limit]
	}
	if len(delegates) == 0 {
		inv.progress(ctx, root, "no specialist is defined: composing from the commander's own findings")
		return inv.Compose(ctx, incidentID, sessionID)
	}
	kids, err := inv.Spawn(ctx, cmd, root, brief, delegates)
	if err != nil {
		return err
	}
	names := make([]string, len(kids))
	for i, k := range kids {
		names[i] = k.Agent
	}
	deadline := ""
	if len(kids) > 0 && kids[0].Deadline != nil {
		deadline = " by " + kids[0].Deadline.UTC().Format("15:04:05.000Z")
	}
	inv.progress(ctx, root, fmt.Sprintf("focus %s try %d; delegated to %s%s", task, try, strings.Join(names, ", "), deadline))
	return nil
}

// Spawn starts the delegates as children of parent with brief and the
// investigation's deadline, once per agent: the store returns children
// already started as they are. Only the commander, at the root, may spawn;
// anything else is refused here (ErrNotCommander) before the store refuses
// it too (incident.ErrDepth).
func (inv *Investigator) Spawn(ctx context.Context, by *agents.Definition, parent *incident.Session, brief Brief,
	delegates []*agents.Definition,
) ([]*incident.Session, error) {
	switch {
	case by.Role != agents.RoleCommander || !by.Allows(agents.ToolInvokeAgent):
		return nil, fmt.Errorf("%s cannot start %d agent(s): %w", by.Name, len(delegates), ErrNotCommander)
	case parent.Depth+1 > incident.MaxSessionDepth:
		return nil, fmt.Errorf("session %s (%s, depth %d): %w", parent.ID, parent.Agent, parent.Depth, incident.ErrDepth)
	}
	input, err := json.Marshal(brief)
	if err != nil {
		return nil, fmt.Errorf("brief of %s: %w", parent.IncidentID, err)
	}
	children := make([]store.SessionChild, len(delegates))
	for i, d := range delegates {
		if d.Role != agents.RoleSpecialist {
			return nil, fmt.Errorf("%s is a %s, not a specialist: %w", d.Name, d.Role, ErrNotCommander)
		}
		children[i] = store.SessionChild{Agent: d.Name, Input: input}
	}
	kids, err := inv.store.SessionSpawn(ctx, &store.SessionSpawnParams{
		ParentID: parent.ID, Children: children, Deadline: inv.now().Add(inv.deadline()), Actor: by.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("investigate %s: %w", parent.IncidentID, err)
	}
	return kids, nil
}

// fail ends an investigation that cannot start: the root session finishes
// failed with a report that says why, and the incident goes to a person.
func (inv *Investigator) fail(ctx context.Context, inc *incident.Incident, root *incident.Session, cause error) error {
	inv.log.WarnContext(ctx, "investigation failed", "incident_id", inc.ID, "error", cause)
	rep := inv.failedReport(inc, cause)
	raw, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("investigate %s: %w", inc.ID, err)
	}
	if _, err := inv.store.SessionFinish(ctx, &store.SessionFinishParams{
		ID: root.ID, Status: incident.SessionFailed, Error: cause.Error(), Result: raw, Message: rep.Summary,
	}); err != nil {
		return fmt.Errorf("investigate %s: %w", inc.ID, err)
	}
	return inv.complete(ctx, inc, root.ID, rep)
}
