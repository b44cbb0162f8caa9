package app

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/remediate"
)

// addRemediation builds the policy from remediate and the environment and
// registers the decide, act and verify workers. A conf schema that does not
// compile stops medic here, naming its key.
func (a *App) addRemediation(cfg *config.Config, workers *river.Workers, opts Options) error {
	policy, err := remediate.New(cfg.Remediate, cfg.Environment)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	var mem act.Memory
	if a.memory != nil {
		mem = a.memory
	}
	jobs := a.store.Jobs()
	enqueue := func(ctx context.Context, args river.JobArgs, o *river.InsertOpts) error {
		_, err := jobs.Insert(ctx, args, o)
		return err
	}
	a.remediator = act.New(a.store, policy, a.instances, mem, enqueue,
		act.Options{VerifyEvery: cfg.Remediate.Verify.PollInterval}, opts.Logger, opts.Now)
	act.AddWorkers(workers, a.remediator)
	return nil
}
