package investigate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// resumeGrace is how long past its deadline an investigation may stay
// uncomposed before Resume composes it itself: the compose job normally
// runs well within it.
const resumeGrace = 30 * time.Second

// resumeBatch bounds how many unfinished sessions one Resume looks at.
const resumeBatch = store.MaxListLimit

// Resume is the backstop for investigations whose jobs are gone (a job
// given up after its last attempt, a database restored from a backup): at
// start, it composes every investigation well past its deadline that is
// still open, and times out children whose parent has finished. Live jobs
// resume everything else on their own. It returns how many sessions it
// settled.
func (inv *Investigator) Resume(ctx context.Context) (int, error) {
	open, err := inv.store.SessionListUnfinished(ctx, resumeBatch)
	if err != nil {
		return 0, fmt.Errorf("resume investigations: %w", err)
	}
	now := inv.now()
	n := 0
	var errs []error
	for _, s := range open {
		switch {
		case s.ParentID == "" && s.Deadline != nil && now.After(s.Deadline.Add(resumeGrace)):
			inv.log.InfoContext(ctx, "composing an investigation past its deadline", "incident_id", s.IncidentID, "session_id", s.ID)
			if err := inv.Compose(ctx, s.IncidentID, s.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		case s.ParentID != "":
			parent, err := inv.store.SessionGetByID(ctx, s.ParentID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !parent.Status.Final() {
				continue
			}
			msg := fmt.Sprintf("%s was still open when its parent had finished", s.Agent)
			if _, err := inv.store.SessionFinish(ctx, &store.SessionFinishParams{
				ID: s.ID, Status: incident.SessionTimedOut, Error: msg, Message: msg,
			}); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}
