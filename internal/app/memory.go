package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/triage"
)

// The Keeper is the failure memory triage consults and the API takes
// feedback through.
var (
	_ triage.Recall          = (*memory.Keeper)(nil)
	_ httpapi.MemoryFeedback = (*memory.Keeper)(nil)
)

// newEmbedder builds the embedder memory.embedder names. It makes no
// request: an embeddings server that is down degrades lookups to exact
// signatures, it does not stop medic.
func newEmbedder(cfg config.Embedder) (memory.Embedder, error) {
	switch cfg.Kind {
	case config.EmbedderHash:
		return memory.NewHashEmbedder(cfg.Dimensions), nil
	case config.EmbedderOpenAI:
		e, err := memory.NewOpenAIEmbedder(memory.OpenAIConfig{
			BaseURL: cfg.URL, Model: cfg.Model, Dim: cfg.Dimensions, APIKey: cfg.APIKey, Timeout: cfg.Timeout,
		})
		if err != nil {
			return nil, fmt.Errorf("app: memory.embedder: %w", err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("app: memory.embedder.kind %q: want %s or %s", cfg.Kind, config.EmbedderHash, config.EmbedderOpenAI)
}

// newMemoryKeeper builds the failure memory and loads the stored records.
// A load that fails is a warning: medic starts with what it could read,
// and the sync loop carries on from there.
func newMemoryKeeper(ctx context.Context, cfg config.Memory, p memory.Persister, logger *slog.Logger, now func() time.Time) (*memory.Keeper, error) {
	emb, err := newEmbedder(cfg.Embedder)
	if err != nil {
		return nil, err
	}
	mem := memory.New(memory.Config{Embedder: emb, Logger: logger, Now: now})
	k := memory.NewKeeper(mem, p, logger, now)
	if err := k.Load(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		logger.WarnContext(ctx, "failure memory could not be loaded; starting with the records read so far",
			"component", "memory", "records", mem.Len(), "error", err)
	}
	return k, nil
}

// memorySync runs the Keeper's sync loop for the app's lifetime.
type memorySync struct {
	keeper *memory.Keeper
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *memorySync) start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.keeper.Run(ctx, s.every)
	}()
}

// stop ends the loop and waits for it; it is safe to call more than once
// and before start.
func (s *memorySync) stop(context.Context) error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}
