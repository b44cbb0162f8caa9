// Package console is the default notifier: a readable incident report on a
// terminal. It writes only redacted report data and never blocks on anything
// but its writer.
package console

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/report"
)

// Notifier writes reports to w, one at a time.
type Notifier struct {
	mu sync.Mutex
	w  io.Writer
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a console notifier writing to w (stdout in the daemon).
func New(w io.Writer) *Notifier { return &Notifier{w: w} }

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return "console" }

// Notify implements notify.Notifier.
func (n *Notifier) Notify(_ context.Context, r *report.Report) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := report.WriteText(n.w, r); err != nil {
		return fmt.Errorf("console: write report of %s: %w", r.Incident.ID, err)
	}
	return nil
}
