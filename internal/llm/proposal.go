package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/medic-sh/medic/internal/classify"
)

// Proposal is the structured answer a specialist's model must end with. It
// is advice: code decides whether anything is done, and through which
// action of the registry.
type Proposal struct {
	// RootCause explains the failure in a sentence or two.
	RootCause string `json:"root_cause"`
	// Label is one class of the failure taxonomy (classify.Labels).
	Label string `json:"label"`
	// Confidence is the model's own, uncalibrated, in [0, 1].
	Confidence float64 `json:"confidence"`
	// Evidence quotes the data the answer rests on.
	Evidence []ProposalEvidence `json:"evidence"`
	// RecommendedAction is one value of the remediation vocabulary
	// (classify.Remediations). It names an idea, not a call: the action
	// registry and the policy decide what, if anything, runs.
	RecommendedAction string `json:"recommended_action"`
}

// ProposalEvidence is one quote supporting a Proposal.
type ProposalEvidence struct {
	// Source is where the quote came from, e.g. a tool name or "task_log".
	Source string `json:"source,omitempty"`
	Quote  string `json:"quote"`
}

// UnmarshalJSON accepts an object or, as models often write, a bare string.
func (e *ProposalEvidence) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*e = ProposalEvidence{Quote: s}
		return nil
	}
	type plain ProposalEvidence
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = ProposalEvidence(p)
	return nil
}

// Limits of a Proposal.
const (
	maxEvidence      = 20
	maxQuoteBytes    = 1000
	maxRootCauseByte = 2000
)

// ErrNoProposal means the model's answer holds no JSON object.
var ErrNoProposal = errors.New("no JSON object in the model's answer")

// ProposalError lists what is wrong with a JSON proposal.
type ProposalError struct {
	Problems []string
}

func (e *ProposalError) Error() string {
	return "invalid proposal: " + strings.Join(e.Problems, "; ")
}

// ParseProposal finds the JSON object in a model's final answer (bare, in a
// ``` fence, or amid prose) and checks it. Label and action are matched
// case-insensitively and returned in canonical spelling. Errors are
// ErrNoProposal, a JSON syntax or type error, or *ProposalError.
func ParseProposal(text string) (*Proposal, error) {
	lastErr := ErrNoProposal
	for _, c := range jsonCandidates(text) {
		dec := json.NewDecoder(strings.NewReader(c))
		var p Proposal
		if err := dec.Decode(&p); err != nil {
			lastErr = fmt.Errorf("decode proposal: %w", err)
			continue
		}
		if err := p.normalize(); err != nil {
			return nil, err
		}
		return &p, nil
	}
	return nil, lastErr
}

// jsonCandidates returns the substrings of text that may be the answer's
// JSON object, most likely first.
func jsonCandidates(text string) []string {
	text = strings.TrimSpace(text)
	var out []string
	if strings.HasPrefix(text, "{") {
		out = append(out, text)
	}
	if i := strings.Index(text, "```"); i >= 0 {
		rest := text[i+3:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[nl+1:] // drop the fence's language tag
		}
		if j := strings.Index(rest, "```"); j >= 0 {
			if f := strings.TrimSpace(rest[:j]); strings.HasPrefix(f, "{") {
				out = append(out, f)
			}
		}
	}
	if i, j := strings.IndexByte(text, '{'), strings.LastIndexByte(text, '}'); i >= 0 && j > i {
		out = append(out, text[i:j+1])
	}
	return out
}

func (p *Proposal) normalize() error {
	var problems []string
	p.RootCause = strings.TrimSpace(p.RootCause)
	if p.RootCause == "" {
		problems = append(problems, "root_cause is empty")
	}
	p.RootCause = truncateUTF8(p.RootCause, maxRootCauseByte)
	if l := classify.Label(strings.ToUpper(strings.TrimSpace(p.Label))); l.Valid() {
		p.Label = string(l)
	} else {
		problems = append(problems, fmt.Sprintf("label %q is not one of %s", truncateUTF8(p.Label, 40), joinLabels()))
	}
	if math.IsNaN(p.Confidence) || p.Confidence < 0 || p.Confidence > 1 {
		problems = append(problems, fmt.Sprintf("confidence %g is not in [0, 1]", p.Confidence))
	}
	if r := classify.Remediation(strings.ToLower(strings.TrimSpace(p.RecommendedAction))); r.Valid() {
		p.RecommendedAction = string(r)
	} else {
		problems = append(problems, fmt.Sprintf("recommended_action %q is not one of %s", truncateUTF8(p.RecommendedAction, 40), joinRemediations()))
	}
	if len(p.Evidence) > maxEvidence {
		p.Evidence = p.Evidence[:maxEvidence]
	}
	kept := p.Evidence[:0]
	for _, e := range p.Evidence {
		e.Quote = truncateUTF8(strings.TrimSpace(e.Quote), maxQuoteBytes)
		e.Source = truncateUTF8(strings.TrimSpace(e.Source), 64)
		if e.Quote != "" {
			kept = append(kept, e)
		}
	}
	p.Evidence = kept
	if len(problems) > 0 {
		return &ProposalError{Problems: problems}
	}
	return nil
}

// redact applies redact to every free-text field.
func (p *Proposal) redact(redact func(string) string) {
	p.RootCause = redact(p.RootCause)
	for i := range p.Evidence {
		p.Evidence[i].Quote = redact(p.Evidence[i].Quote)
		p.Evidence[i].Source = redact(p.Evidence[i].Source)
	}
}

func joinLabels() string {
	var b []string
	for _, l := range classify.Labels() {
		b = append(b, string(l))
	}
	return strings.Join(b, ", ")
}

func joinRemediations() string {
	var b []string
	for _, r := range classify.Remediations() {
		b = append(b, string(r))
	}
	return strings.Join(b, ", ")
}

// proposalShape describes the Proposal to the model.
func proposalShape() string {
	var b bytes.Buffer
	b.WriteString(`{"root_cause": "one or two sentences", "label": "<label>", "confidence": 0.0-1.0, ` +
		`"evidence": [{"source": "<tool or data source>", "quote": "exact text from the data"}], ` +
		`"recommended_action": "<action>"}` + "\n")
	b.WriteString("label is one of: " + joinLabels() + " (UNKNOWN when the data does not show the cause).\n")
	b.WriteString("recommended_action is one of: " + joinRemediations() + ".")
	return b.String()
}
