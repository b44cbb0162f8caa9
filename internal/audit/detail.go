package audit

import (
	"encoding/json"
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
)

// Detail is the structured detail of an entry about something medic was
// asked to do or did: who asked, what the policy decided and why, the gate
// figures, who approved, what was executed and how it was verified. Every
// field is optional; record what the step knows. Every text must already be
// redacted: an entry cannot be corrected later.
type Detail struct {
	// RequestedBy is who or what asked: a person, a token name, a rule.
	RequestedBy string `json:"requested_by,omitempty"`
	// Decision is the policy's answer, such as allow, deny or needs_approval.
	Decision string `json:"decision,omitempty"`
	// Reasons say why the policy decided so.
	Reasons []string `json:"reasons,omitempty"`
	// Gate holds the figures the decision was gated on, by name (trust,
	// precedents, blast radius, ...).
	Gate map[string]float64 `json:"gate,omitempty"`
	// Approver is the person who approved, when one had to.
	Approver string `json:"approver,omitempty"`
	// Executed summarises what was sent and what came back.
	Executed *Execution `json:"executed,omitempty"`
	// Verification is how the outcome was checked and what it showed.
	Verification *Verification `json:"verification,omitempty"`
	// Update is a change recorded as field, value pairs (a feedback's
	// outcome, action, verdict and label).
	Update map[string]string `json:"update,omitempty"`
	// Reason is a person's own words.
	Reason string `json:"reason,omitempty"`
}

// Execution summarises one executed request, redacted.
type Execution struct {
	Request  string `json:"request,omitempty"`
	Response string `json:"response,omitempty"`
	// Status is the response's status code, when it has one.
	Status int `json:"status,omitempty"`
}

// Verification is the outcome of checking an action worked.
type Verification struct {
	// Outcome is, for example, fixed, failed or unknown.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// JSON encodes d for AuditEntry.Detail, refusing one larger than
// incident.MaxAuditDetailBytes.
func (d *Detail) JSON() (json.RawMessage, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode audit detail: %w", err)
	}
	if len(b) > incident.MaxAuditDetailBytes {
		return nil, fmt.Errorf("audit detail is %d bytes, more than %d: summarise it: %w",
			len(b), incident.MaxAuditDetailBytes, incident.ErrInvalid)
	}
	return b, nil
}
