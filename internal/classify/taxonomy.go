package classify

import "slices"

// Label is one class of the failure taxonomy.
type Label string

// The labels of the taxonomy (see the corpus README for their meaning).
const (
	SchemaChange        Label = "SCHEMA_CHANGE"
	DataQuality         Label = "DATA_QUALITY"
	UpstreamUnavailable Label = "UPSTREAM_UNAVAILABLE"
	Resource            Label = "RESOURCE"
	Timeout             Label = "TIMEOUT"
	Permission          Label = "PERMISSION"
	MissingInput        Label = "MISSING_INPUT"
	CodeError           Label = "CODE_ERROR"
	Infra               Label = "INFRA"
	Unknown             Label = "UNKNOWN"
)

// Remediation is one action of the remediation vocabulary.
type Remediation string

// The remediation vocabulary.
const (
	Retry                    Remediation = "retry"
	RetryWithBackoff         Remediation = "retry_with_backoff"
	RetryWithMoreResources   Remediation = "retry_with_more_resources"
	WaitForUpstreamThenRetry Remediation = "wait_for_upstream_then_retry"
	FixCode                  Remediation = "fix_code"
	FixPermissions           Remediation = "fix_permissions"
	SchemaMigration          Remediation = "schema_migration"
	QuarantineBadRows        Remediation = "quarantine_bad_rows"
	Escalate                 Remediation = "escalate"
)

// labelDefaults is what a label implies when no rule overrides it.
type labelDefaults struct {
	Remediation Remediation
	RetrySafe   bool
}

// labelOrder fixes the order of Labels and breaks score ties.
var labelOrder = []Label{
	SchemaChange, DataQuality, UpstreamUnavailable, Resource, Timeout,
	Permission, MissingInput, CodeError, Infra, Unknown,
}

// defaults maps each label to its default remediation and retry safety.
// TIMEOUT defaults to not retry-safe: a time limit hit with no visible cause
// usually recurs on a plain rerun; rules for transient read timeouts
// override it.
var defaults = map[Label]labelDefaults{
	SchemaChange:        {SchemaMigration, false},
	DataQuality:         {QuarantineBadRows, false},
	UpstreamUnavailable: {RetryWithBackoff, true},
	Resource:            {RetryWithMoreResources, false},
	Timeout:             {RetryWithBackoff, false},
	Permission:          {FixPermissions, false},
	MissingInput:        {WaitForUpstreamThenRetry, false},
	CodeError:           {FixCode, false},
	Infra:               {Retry, true},
	Unknown:             {Escalate, false},
}

var remediations = []Remediation{
	Retry, RetryWithBackoff, RetryWithMoreResources, WaitForUpstreamThenRetry,
	FixCode, FixPermissions, SchemaMigration, QuarantineBadRows, Escalate,
}

// Labels returns the ten labels in taxonomy order.
func Labels() []Label { return slices.Clone(labelOrder) }

// Remediations returns the nine remediation values.
func Remediations() []Remediation { return slices.Clone(remediations) }

// Valid reports whether l is one of the ten labels.
func (l Label) Valid() bool { return slices.Contains(labelOrder, l) }

// Valid reports whether r is one of the nine remediation values.
func (r Remediation) Valid() bool { return slices.Contains(remediations, r) }

// DefaultRemediation is the action a label implies when no rule overrides it.
func (l Label) DefaultRemediation() Remediation { return defaults[l].Remediation }

// DefaultRetrySafe reports whether a plain retry is, by default, likely to fix
// a failure with this label.
func (l Label) DefaultRetrySafe() bool { return defaults[l].RetrySafe }

func labelRank(l Label) int { return slices.Index(labelOrder, l) }
