// Package incident holds medic's domain types: failure events, incidents and
// their state machine, investigation sessions, findings with evidence,
// decisions, actions and audit entries. It is pure: no I/O, no clocks read
// behind the caller's back, no logging. Everything that touches a database, a
// network or a file lives elsewhere and speaks in these types.
package incident

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source names where a failure event came from.
type Source string

// Event sources.
const (
	SourceCallback    Source = "callback"    // Airflow on_failure_callback or listener via POST /api/v1/events
	SourcePoller      Source = "poller"      // the REST poller backstop
	SourceCLI         Source = "cli"         // medic triage
	SourceAPI         Source = "api"         // POST /api/v1/triage
	SourceOpenLineage Source = "openlineage" // an OpenLineage FAIL event
	SourceSlack       Source = "slack"       // a Slack alert channel
)

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	switch s {
	case SourceCallback, SourcePoller, SourceCLI, SourceAPI, SourceOpenLineage, SourceSlack:
		return true
	}
	return false
}

// Key is a failure's identity. The same failure reported twice (callback and
// poller, or a redelivered webhook) has the same Key and is one event.
type Key struct {
	Instance  string `json:"instance"`
	DagID     string `json:"dag_id"`
	RunID     string `json:"run_id"`
	TaskID    string `json:"task_id"`
	TryNumber int    `json:"try_number"`
}

// String renders the key unambiguously; it is what the store deduplicates on.
// The fields are joined with a separator that cannot occur in Airflow ids
// (Airflow's allowed_run_id_pattern excludes "|" and spaces).
func (k Key) String() string {
	return fmt.Sprintf("%s|%s|%s|%s|%d", k.Instance, k.DagID, k.RunID, k.TaskID, k.TryNumber)
}

// RunKey identifies the DAG run a failure belongs to; v1 coalescing groups
// failures of one run into one incident.
func (k Key) RunKey() string {
	return k.Instance + "|" + k.DagID + "|" + k.RunID
}

// Validation errors returned by Validate methods.
var (
	ErrInvalid = errors.New("invalid")
)

// Limits on the size of identifying fields. Airflow's own columns are
// 250 characters; anything longer is not a real id.
const (
	maxIDLen        = 250
	MaxExceptionLen = 16 << 10
	// MaxDatasets bounds the datasets of one event, and MaxDatasetLen the
	// length of one, in bytes: a task that names more is a bulk job, and
	// grouping failures on a prefix of a name would join unrelated ones.
	MaxDatasets   = 32
	MaxDatasetLen = 1024
)

// Validate checks that the key can identify a failure.
func (k Key) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"instance", k.Instance}, {"dag_id", k.DagID}, {"run_id", k.RunID}, {"task_id", k.TaskID},
	} {
		switch {
		case strings.TrimSpace(f.v) == "":
			errs = append(errs, fmt.Errorf("%s is required: %w", f.name, ErrInvalid))
		case len(f.v) > maxIDLen:
			errs = append(errs, fmt.Errorf("%s is longer than %d characters: %w", f.name, maxIDLen, ErrInvalid))
		case strings.ContainsAny(f.v, "|\n\r\x00"):
			errs = append(errs, fmt.Errorf("%s contains a forbidden character: %w", f.name, ErrInvalid))
		}
	}
	if k.TryNumber < 1 {
		errs = append(errs, fmt.Errorf("try_number must be at least 1, got %d: %w", k.TryNumber, ErrInvalid))
	}
	return errors.Join(errs...)
}

// FailureEvent is one failed task try as medic learned of it.
type FailureEvent struct {
	ID string `json:"id"`
	Key
	MapIndex    int        `json:"map_index"`
	Source      Source     `json:"source"`
	LogicalDate *time.Time `json:"logical_date,omitempty"`
	// Exception is the error text the source reported (a callback's
	// context["exception"]); untrusted and redacted before storage.
	Exception string   `json:"exception,omitempty"`
	LogURL    string   `json:"log_url,omitempty"`
	Owner     string   `json:"owner,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Datasets are the datasets the failed task read or wrote, each as
	// "namespace/name" (an OpenLineage dataset), deduplicated; only an
	// OpenLineage event carries them.
	Datasets   []string  `json:"datasets,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	ReceivedAt time.Time `json:"received_at"`
	IncidentID string    `json:"incident_id,omitempty"`
	// Deliveries counts how many times this same failure was reported.
	Deliveries int `json:"deliveries"`
}

// Validate checks an event before it is stored.
func (e *FailureEvent) Validate() error {
	errs := []error{e.Key.Validate()}
	if !e.Source.Valid() {
		errs = append(errs, fmt.Errorf("unknown source %q: %w", e.Source, ErrInvalid))
	}
	if e.MapIndex < -1 {
		errs = append(errs, fmt.Errorf("map_index must be -1 or more, got %d: %w", e.MapIndex, ErrInvalid))
	}
	if len(e.Exception) > MaxExceptionLen {
		errs = append(errs, fmt.Errorf("exception is longer than %d bytes: %w", MaxExceptionLen, ErrInvalid))
	}
	if len(e.Datasets) > MaxDatasets {
		errs = append(errs, fmt.Errorf("event names %d datasets, more than %d: %w", len(e.Datasets), MaxDatasets, ErrInvalid))
	}
	for i, d := range e.Datasets {
		if err := ValidateDataset(d); err != nil {
			errs = append(errs, fmt.Errorf("datasets[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// ValidateDataset checks one dataset reference, "namespace/name".
func ValidateDataset(d string) error {
	switch {
	case strings.TrimSpace(d) == "":
		return fmt.Errorf("dataset is empty: %w", ErrInvalid)
	case len(d) > MaxDatasetLen:
		return fmt.Errorf("dataset is longer than %d bytes: %w", MaxDatasetLen, ErrInvalid)
	case strings.ContainsAny(d, "\n\r\x00"):
		return fmt.Errorf("dataset contains a forbidden character: %w", ErrInvalid)
	}
	return nil
}
