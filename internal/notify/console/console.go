// Package console is the default notifier: a readable incident report on a
// terminal. It writes only redacted report data and never blocks on anything
// but its writer.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
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
func (n *Notifier) Notify(_ context.Context, u notify.Update) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := u.Report
	if u.First() {
		if err := report.WriteText(n.w, r); err != nil {
			return fmt.Errorf("console: write report of %s: %w", r.Incident.ID, err)
		}
		return nil
	}
	line := fmt.Sprintf("→ %s %s.%s: %s", r.Incident.ID, r.Incident.DagID, r.FocusTask(), u.Detail)
	if state, ok := strings.CutPrefix(u.Reason, "state:"); ok {
		line = fmt.Sprintf("→ %s %s.%s is now %s", r.Incident.ID, r.Incident.DagID, r.FocusTask(), state)
		if u.Detail != "" {
			line += ": " + u.Detail
		}
	}
	if _, err := fmt.Fprintln(n.w, clipLine(line)); err != nil {
		return fmt.Errorf("console: write update of %s: %w", r.Incident.ID, err)
	}
	return nil
}

// maxUpdate is the longest update line, in runes.
const maxUpdate = 240

func clipLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	rs := []rune(s)
	if len(rs) <= maxUpdate {
		return s
	}
	return string(rs[:maxUpdate-1]) + "…"
}
