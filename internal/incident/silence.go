package incident

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// MaxSilenceDuration bounds how long one silence lasts: a maintenance
// window, not a way to switch medic's notifications off for good.
const MaxSilenceDuration = 30 * 24 * time.Hour

// severityOrder ranks severities, least urgent first.
var severityOrder = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Valid reports whether s is one of the known severities.
func (s Severity) Valid() bool { return slices.Contains(severityOrder, s) }

// AtMost reports whether s is no more urgent than limit. A severity medic
// does not know counts as more urgent than any limit, so that it is never
// held by mistake.
func (s Severity) AtMost(limit Severity) bool {
	rank, ceiling := slices.Index(severityOrder, s), slices.Index(severityOrder, limit)
	return rank >= 0 && ceiling >= 0 && rank <= ceiling
}

// SilenceMatcher says which incidents a silence holds. Every field that is
// set must match.
type SilenceMatcher struct {
	// DagGlob is a path.Match pattern on the DAG id: "*" for every DAG,
	// "finance_*" for a family.
	DagGlob string `json:"dag"`
	// Instance, when set, limits the silence to one Airflow instance.
	Instance string `json:"instance,omitempty"`
	// Severity, when set, limits the silence to incidents at or below it:
	// with "medium", a high or critical incident still notifies.
	Severity Severity `json:"severity,omitempty"`
}

// Silence is a maintenance window: while it is active, incidents it
// matches are still recorded, triaged and audited, but nobody is notified
// about them.
type Silence struct {
	ID        string         `json:"id"`
	Matcher   SilenceMatcher `json:"matcher"`
	Reason    string         `json:"reason"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	// StartsAt (inclusive) and EndsAt (exclusive) bound the window.
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// ExpiredAt and ExpiredBy are set when a person ended the silence
	// before EndsAt.
	ExpiredAt *time.Time `json:"expired_at,omitempty"`
	ExpiredBy string     `json:"expired_by,omitempty"`
}

// Validate checks a silence before it is stored: a valid DAG glob, a known
// severity when one is set, a reason and a creator, and a window that ends
// after it starts and lasts at most MaxSilenceDuration. Errors match
// ErrInvalid.
func (s *Silence) Validate() error {
	var errs []error
	invalid := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format+": %w", append(args, ErrInvalid)...))
	}
	switch glob := s.Matcher.DagGlob; {
	case strings.TrimSpace(glob) == "":
		invalid(`silence dag glob is required: use "*" for every DAG`)
	default:
		if _, err := path.Match(glob, ""); err != nil {
			errs = append(errs, fmt.Errorf("silence dag glob %q is not a valid pattern (%w): see Go's path.Match: %w", glob, err, ErrInvalid))
		}
	}
	if s.Matcher.Severity != "" && !s.Matcher.Severity.Valid() {
		invalid("silence severity %q is unknown: want low, medium, high or critical", s.Matcher.Severity)
	}
	if strings.TrimSpace(s.Reason) == "" {
		invalid("silence reason is required: say why, for the audit trail")
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		invalid("silence creator is required")
	}
	switch {
	case s.StartsAt.IsZero() || s.EndsAt.IsZero():
		invalid("silence start and end are required")
	case !s.EndsAt.After(s.StartsAt):
		invalid("silence ends at %s, not after it starts at %s", s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339))
	case s.EndsAt.Sub(s.StartsAt) > MaxSilenceDuration:
		invalid("silence lasts %s, longer than %s: silence a shorter window and extend it later", s.EndsAt.Sub(s.StartsAt), MaxSilenceDuration)
	}
	return errors.Join(errs...)
}

// Active reports whether the silence holds notifications at at: inside its
// window and not expired by then.
func (s *Silence) Active(at time.Time) bool {
	if s.ExpiredAt != nil && !at.Before(*s.ExpiredAt) {
		return false
	}
	return !at.Before(s.StartsAt) && at.Before(s.EndsAt)
}

// Matches reports whether the silence, active at at, holds inc's
// notification.
func (s *Silence) Matches(inc *Incident, at time.Time) bool {
	if inc == nil || !s.Active(at) {
		return false
	}
	if s.Matcher.Instance != "" && s.Matcher.Instance != inc.Instance {
		return false
	}
	if s.Matcher.Severity != "" && !inc.Severity.AtMost(s.Matcher.Severity) {
		return false
	}
	ok, err := path.Match(s.Matcher.DagGlob, inc.DagID)
	return err == nil && ok
}
