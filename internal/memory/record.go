// Package memory is medic's record of resolved failures: what a failure
// looked like (signature, template, redacted excerpt, embedding), what was
// done about it, how that turned out, and how much the record should be
// trusted as a result. Triage asks it "have we seen this before?": exact
// signature first, then nearest neighbours by vector similarity.
//
// It must never fail a triage because of itself: a corrupt record or an
// embedder that is down degrades lookup to signature-only with a warning.
// It never sees unredacted log text; callers store excerpts already redacted.
package memory

import (
	"fmt"
	"time"
)

// Outcome is what happened after a record's action ran.
type Outcome string

// Outcomes. OutcomeUnknown is silence: nothing verified either way.
const (
	OutcomeUnknown Outcome = "unknown"
	OutcomeFixed   Outcome = "fixed"
	OutcomeFailed  Outcome = "failed"
)

// Verdict is a human's thumbs-up or thumbs-down on a record.
type Verdict string

// Verdicts. VerdictNone means no human has said anything.
const (
	VerdictNone Verdict = "none"
	VerdictUp   Verdict = "up"
	VerdictDown Verdict = "down"
)

// Record is one resolved failure. Its fields are plain values so that a
// store can save and load it as is; Embedding is shared read-only between
// the copies Memory hands out and must not be modified in place.
type Record struct {
	ID            string    `json:"id"`
	Signature     string    `json:"signature"`
	Template      string    `json:"template"`
	ExceptionType string    `json:"exception_type"`
	Excerpt       string    `json:"excerpt"` // already redacted
	Embedding     []float32 `json:"embedding,omitempty"`
	// EmbeddedBy names the embedder (Embedder.Name) that produced
	// Embedding; vectors from another embedder are not comparable and are
	// left out of similarity search until re-embedded.
	EmbeddedBy string  `json:"embedded_by,omitempty"`
	Label      string  `json:"label"`
	Action     string  `json:"action"`
	Outcome    Outcome `json:"outcome"`
	Verdict    Verdict `json:"verdict"`
	// The evidence counts behind Trust; see Trust for the rule.
	Fixed  int `json:"fixed"`
	Failed int `json:"failed"`
	Ups    int `json:"ups"`
	Downs  int `json:"downs"`
	// Trust is in (0, 1); it is derived from the counts and recomputed
	// whenever they change.
	Trust     float64   `json:"trust"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Feedback is one piece of evidence about a record: an outcome, a human
// verdict, or both. OutcomeUnknown and VerdictNone (or the zero values) are
// silence and change nothing.
type Feedback struct {
	Outcome Outcome
	Verdict Verdict
}

// Update is feedback on a record together with the facts that come with
// it. Keepers and stores apply it atomically.
type Update struct {
	Feedback
	// Action, when set, is the action that was taken; Outcome says how it
	// turned out.
	Action string
	// Label, when set, is a person's correction of the record's label; it
	// replaces Label and counts as a thumbs-up for the corrected record.
	Label string
}

// Trust prior and weights. Trust is the mean of a Beta(α, β) posterior:
//
//	α = PriorAlpha + Fixed·OutcomeWeight + Ups·VerdictWeight
//	β = PriorBeta  + Failed·OutcomeWeight + Downs·VerdictWeight
//	trust = α / (α + β)
//
// A new record starts at 0.5. A verified fix raises trust, a failed action
// lowers it, each human thumbs counts like one outcome, and silence (no
// outcome, no verdict, time passing) changes nothing: trust never decays.
const (
	PriorAlpha    = 1.0
	PriorBeta     = 1.0
	OutcomeWeight = 1.0
	VerdictWeight = 1.0
)

// ComputeTrust returns the trust for the record's evidence counts.
func ComputeTrust(r *Record) float64 {
	a := PriorAlpha + float64(r.Fixed)*OutcomeWeight + float64(r.Ups)*VerdictWeight
	b := PriorBeta + float64(r.Failed)*OutcomeWeight + float64(r.Downs)*VerdictWeight
	return a / (a + b)
}

// apply adds f's evidence to r and reports whether anything changed.
func (r *Record) apply(f Feedback) (bool, error) {
	changed := false
	switch f.Outcome {
	case "", OutcomeUnknown:
	case OutcomeFixed:
		r.Fixed++
		r.Outcome = OutcomeFixed
		changed = true
	case OutcomeFailed:
		r.Failed++
		r.Outcome = OutcomeFailed
		changed = true
	default:
		return false, fmt.Errorf("unknown outcome %q (want fixed, failed or unknown)", f.Outcome)
	}
	switch f.Verdict {
	case "", VerdictNone:
	case VerdictUp:
		r.Ups++
		r.Verdict = VerdictUp
		changed = true
	case VerdictDown:
		r.Downs++
		r.Verdict = VerdictDown
		changed = true
	default:
		return false, fmt.Errorf("unknown verdict %q (want up, down or none)", f.Verdict)
	}
	if changed {
		r.Trust = ComputeTrust(r)
	}
	return changed, nil
}

// normalizeEnums replaces empty or unknown enum values with silence and
// reports what it had to fix, so that a damaged stored record still loads.
func (r *Record) normalizeEnums() []string {
	var fixed []string
	switch r.Outcome {
	case OutcomeUnknown, OutcomeFixed, OutcomeFailed:
	case "":
		r.Outcome = OutcomeUnknown
	default:
		fixed = append(fixed, fmt.Sprintf("outcome %q", r.Outcome))
		r.Outcome = OutcomeUnknown
	}
	switch r.Verdict {
	case VerdictNone, VerdictUp, VerdictDown:
	case "":
		r.Verdict = VerdictNone
	default:
		fixed = append(fixed, fmt.Sprintf("verdict %q", r.Verdict))
		r.Verdict = VerdictNone
	}
	if r.Fixed < 0 || r.Failed < 0 || r.Ups < 0 || r.Downs < 0 {
		fixed = append(fixed, "negative evidence counts")
		r.Fixed, r.Failed, r.Ups, r.Downs = max(r.Fixed, 0), max(r.Failed, 0), max(r.Ups, 0), max(r.Downs, 0)
	}
	return fixed
}
