package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/logscan/template"
	"github.com/medic-sh/medic/internal/store"
)

// minerName is the store key of the task-log template miner's state.
const minerName = "task_logs"

// minerKeeper restores the template miner from the store at start and saves
// it back every interval and at stop, so template ids survive restarts.
type minerKeeper struct {
	miner    *template.Miner
	store    store.Store
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	last   []byte
	cancel context.CancelFunc
	done   chan struct{}
}

func newMinerKeeper(ctx context.Context, st store.Store, interval time.Duration, log *slog.Logger) (*minerKeeper, error) {
	k := &minerKeeper{miner: template.New(template.Options{}), store: st, interval: interval, log: log.With("component", "templates")}
	snap, err := st.MinerSnapshotGet(ctx, minerName)
	if err != nil {
		return nil, err
	}
	if snap != nil {
		if err := k.miner.Restore(snap); err != nil {
			// A snapshot this version cannot read is not worth refusing to
			// start over: mining starts afresh and ids restart.
			k.log.WarnContext(ctx, "stored templates unreadable; starting with none", "error", err)
		} else {
			k.last = snap
			k.log.InfoContext(ctx, "templates restored", "templates", k.miner.Len())
		}
	}
	return k, nil
}

// save stores the miner's state if it changed since the last save.
func (k *minerKeeper) save(ctx context.Context) error {
	snap, err := k.miner.Snapshot()
	if err != nil {
		return err
	}
	k.mu.Lock()
	unchanged := bytes.Equal(snap, k.last)
	k.mu.Unlock()
	if unchanged {
		return nil
	}
	if err := k.store.MinerSnapshotSave(ctx, minerName, snap); err != nil {
		return fmt.Errorf("save templates: %w", err)
	}
	k.mu.Lock()
	k.last = snap
	k.mu.Unlock()
	return nil
}

func (k *minerKeeper) start(ctx context.Context) {
	ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	k.done = make(chan struct{})
	go func() {
		defer close(k.done)
		t := time.NewTicker(k.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := k.save(ctx); err != nil && ctx.Err() == nil {
					k.log.WarnContext(ctx, "saving templates failed; retrying next interval", "error", err)
				}
			}
		}
	}()
}

// stop ends the periodic saves and saves once more.
func (k *minerKeeper) stop(ctx context.Context) error {
	if k.cancel != nil {
		k.cancel()
		<-k.done
	}
	return k.save(ctx)
}
