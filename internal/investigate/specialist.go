package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// errTimedOut is the cause of a specialist's context when its time is up.
var errTimedOut = errors.New("specialist timed out")

// PanicError is a panic in an engine, recovered into a failed session.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("engine panicked: %v", e.Value) }

// errAbandoned says an engine ignored the end of its time.
var errAbandoned = errors.New("the engine did not stop when its time was up and was abandoned")

// Specialist runs one specialist's session: its engine within the agent's
// timeout (never past the investigation's deadline), progress and findings
// in its own session, and the structured result to its parent through
// SessionFinish. A hanging engine is cut at the timeout (timed_out), a
// panic becomes a failed session, and a retryable failure asks for a retry
// while one would still come before the deadline. Running it again for a
// final session does nothing.
func (inv *Investigator) Specialist(ctx context.Context, args store.SpecialistJobArgs, attempt, maxAttempts int, nextRetry time.Time) error {
	sess, err := inv.store.SessionGetByID(ctx, args.SessionID)
	if err != nil {
		return fmt.Errorf("specialist %s: %w", args.Agent, err)
	}
	if sess.Status.Final() {
		return nil
	}
	started := inv.now().UTC()
	def, ok := inv.agents.Get(sess.Agent)
	if !ok || def.Role != agents.RoleSpecialist {
		return inv.finishSpecialist(ctx, sess, nil, started, incident.SessionFailed,
			fmt.Errorf("no specialist named %q is defined any more (was its file removed from investigate.agents_dir?)", sess.Agent))
	}
	inc, err := inv.store.IncidentGetByID(ctx, sess.IncidentID)
	if err != nil {
		return fmt.Errorf("specialist %s: %w", def.Name, err)
	}
	brief, err := decodeBrief(sess)
	if err != nil {
		return inv.finishSpecialist(ctx, sess, nil, started, incident.SessionFailed, err)
	}
	engine, err := inv.engineFor(def)
	if err != nil {
		return inv.finishSpecialist(ctx, sess, nil, started, incident.SessionFailed, err)
	}
	known, err := inv.store.FindingListBySession(ctx, sess.ParentID)
	if err != nil {
		return fmt.Errorf("specialist %s: %w", def.Name, err)
	}
	if _, err := inv.store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: sess.ID, Status: incident.SessionRunning}); err != nil {
		return fmt.Errorf("specialist %s: %w", def.Name, err)
	}

	timeout := inv.timeout(def)
	until := started.Add(timeout)
	cause := fmt.Errorf("%s took longer than its %s timeout: %w", def.Name, timeout, errTimedOut)
	if sess.Deadline != nil && sess.Deadline.Before(until) {
		until = *sess.Deadline
		cause = fmt.Errorf("%s did not finish by the investigation's deadline %s: %w", def.Name,
			sess.Deadline.UTC().Format("15:04:05.000Z"), errTimedOut)
	}
	if !until.After(started) {
		return inv.finishSpecialist(ctx, sess, nil, started, incident.SessionTimedOut, cause)
	}
	rctx, cancel := context.WithDeadlineCause(ctx, until, cause)
	defer cancel()
	rep := &reporter{inv: inv, sess: sess}
	defer rep.close()
	task := &Task{
		Agent: def, Incident: inc, Session: sess, Brief: brief, Known: known, Report: rep,
		FinalAttempt: attempt >= maxAttempts || !nextRetry.Before(until),
	}
	res, err := inv.runEngine(rctx, engine, task)
	switch {
	case ctx.Err() != nil:
		// The job itself was stopped (medic is shutting down): the job
		// system resumes it; the session stays running.
		return fmt.Errorf("specialist %s: %w", def.Name, context.Cause(ctx))
	case err == nil && res != nil && len(res.Incomplete) > 0:
		return inv.finishSpecialist(ctx, sess, res, started, incident.SessionPartial, nil)
	case err == nil:
		return inv.finishSpecialist(ctx, sess, res, started, incident.SessionCompleted, nil)
	case rctx.Err() != nil && errors.Is(context.Cause(rctx), errTimedOut):
		return inv.finishSpecialist(ctx, sess, res, started, incident.SessionTimedOut, context.Cause(rctx))
	case errors.Is(err, triage.ErrRetryLater) && !task.FinalAttempt:
		return err
	}
	inv.log.WarnContext(ctx, "specialist failed", "incident_id", sess.IncidentID, "agent", def.Name, "error", err)
	return inv.finishSpecialist(ctx, sess, res, started, incident.SessionFailed, err)
}

// runEngine runs the engine in its own goroutine so that a panic is
// recovered and an engine that ignores the end of its context is
// abandoned after the grace period rather than holding the report back.
func (inv *Investigator) runEngine(ctx context.Context, e Engine, t *Task) (*Result, error) {
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- outcome{err: &PanicError{Value: v, Stack: debug.Stack()}}
			}
		}()
		res, err := e.Run(ctx, t)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
	}
	grace := time.NewTimer(inv.opts.Grace)
	defer grace.Stop()
	select {
	case o := <-done:
		return o.res, o.err
	case <-grace.C:
		inv.log.ErrorContext(ctx, "engine ignored its deadline and was abandoned", "agent", t.Agent.Name, "session_id", t.Session.ID)
		return nil, errAbandoned
	}
}

// finishSpecialist reports the session's result to its parent.
func (inv *Investigator) finishSpecialist(ctx context.Context, sess *incident.Session, res *Result, started time.Time,
	status incident.SessionStatus, cause error,
) error {
	if res == nil {
		res = &Result{}
	}
	res.Agent, res.Status, res.StartedAt, res.FinishedAt = sess.Agent, status, started, inv.now().UTC()
	if def, ok := inv.agents.Get(sess.Agent); ok && res.Engine == "" {
		res.Engine = def.Engine // a model-driven engine names its model instead when its answer was used
	}
	msg := res.Summary
	if cause != nil {
		res.Error = cause.Error()
		msg = string(status) + ": " + res.Error
	}
	if msg == "" {
		msg = string(status)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("specialist %s: %w", sess.Agent, err)
	}
	if _, err := inv.store.SessionFinish(ctx, &store.SessionFinishParams{
		ID: sess.ID, Status: status, Error: res.Error, Result: raw, Message: clipMessage(msg),
	}); err != nil {
		return fmt.Errorf("specialist %s: %w", sess.Agent, err)
	}
	return nil
}

// reporter is a specialist's Reporter. Once the run is over it drops what an
// abandoned engine still sends.
type reporter struct {
	inv  *Investigator
	sess *incident.Session

	mu     sync.Mutex
	closed bool
}

var _ Reporter = (*reporter)(nil)

func (r *reporter) open() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed
}

func (r *reporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// Progress implements Reporter.
func (r *reporter) Progress(ctx context.Context, message string) {
	if r.open() {
		r.inv.progress(ctx, r.sess, message)
	}
}

// Finding implements Reporter.
func (r *reporter) Finding(ctx context.Context, f *incident.Finding) error {
	if !r.open() {
		return errAbandoned
	}
	f.SessionID, f.IncidentID = r.sess.ID, r.sess.IncidentID
	if f.CreatedAt.IsZero() {
		f.CreatedAt = r.inv.now().UTC()
	}
	inserted, err := r.inv.store.FindingInsert(ctx, f)
	if err != nil {
		return fmt.Errorf("record finding %s of %s: %w", f.Step, r.sess.Agent, err)
	}
	if inserted {
		r.inv.event(ctx, r.sess.Event(incident.SessionEventFinding, stepLine(f), mustJSON(map[string]string{"step": f.Step, "finding_id": f.ID})))
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
