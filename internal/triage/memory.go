package triage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// Memory step limits.
const (
	defaultSimilarK = 5
	// maxRecordExcerpt bounds the error block remembered with a failure.
	maxRecordExcerpt = 2048
	// maxSimilarExcerpt bounds the line shown for a past failure.
	maxSimilarExcerpt = 300
)

// recallMemory asks the failure memory for past failures like this one,
// lets them adjust the log's diagnosis, and remembers this failure. Memory
// only ever degrades the step: a lookup or remember that fails for any
// reason but the step's own context ending is a warning in the finding and
// a log line, never a failed triage.
func (r *Runner) recallMemory(ctx context.Context, st *state) (*incident.Finding, error) {
	ex, ok := decode[LogExcerpt](st.done[StepLogExcerpt])
	if !ok || ex.Signature == nil {
		out := Memory{Similar: []SimilarFailure{}}
		if ok {
			out.Diagnosis = ex.Diagnosis
		}
		return &incident.Finding{Summary: "no failure signature to look up or remember (no error block in the log)", Data: mustJSON(out)}, nil
	}
	q := MemoryQuery(ex.Signature, ex.Error)
	k := r.opts.SimilarK
	if k <= 0 {
		k = defaultSimilarK
	}
	var warnings []string
	// One more than shown: this failure's own record may be among them if
	// an earlier attempt of this session remembered it.
	res, warn, err := r.lookup(ctx, q, k+1)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		warnings = append(warnings, warn)
	}
	res = withoutRecord(res, st.inc.ID)
	if res.Degraded != "" {
		warnings = append(warnings, "similarity search skipped, signature-only lookup: "+res.Degraded)
	}

	out := Memory{Diagnosis: ex.Diagnosis}
	if ex.Diagnosis != nil {
		d, p := memory.Recall(*ex.Diagnosis, res, r.opts.Recall)
		out.Diagnosis, out.Precedent = &d, p
	}
	if out.Similar, err = r.similar(ctx, res, k); err != nil {
		return nil, err
	}

	label := string(classify.Unknown)
	if out.Diagnosis != nil {
		label = string(out.Diagnosis.Label)
	}
	rec := memory.Record{
		ID: st.inc.ID, Signature: q.Signature, Template: q.Template, ExceptionType: q.ExceptionType,
		Excerpt: rootExcerpt(ex), Label: label,
	}
	remembered, err := r.remember(ctx, rec)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		warnings = append(warnings, err.Error())
	}
	if remembered {
		out.Remembered = rec.ID
	}
	out.Degraded = strings.Join(warnings, "; ")
	if out.Degraded != "" {
		r.log.WarnContext(ctx, "failure memory degraded; triage goes on without it", "incident_id", st.inc.ID,
			"signature", q.Signature, "reason", out.Degraded)
	}
	return &incident.Finding{Summary: memorySummary(&out), Data: mustJSON(out)}, nil
}

// MemoryQuery is the failure memory's query for a failure with signature
// sig and root error block root (nil when none was extracted). A generic
// signature is shared by unrelated failures, so it is left out: similarity
// only.
func MemoryQuery(sig *signature.Signature, root *extract.Block) memory.Query {
	q := memory.Query{Signature: sig.ID, Template: sig.Template}
	if sig.Generic {
		q.Signature = ""
	}
	if root != nil {
		q.ExceptionType = root.ExceptionType
	}
	return q
}

// memoryTimeout bounds each call to the memory, so that a hanging embedder
// leaves time for a signature-only lookup within the step.
func (r *Runner) memoryTimeout() time.Duration {
	if r.opts.MemoryTimeout > 0 {
		return r.opts.MemoryTimeout
	}
	return r.opts.StepTimeout / 3
}

// withTimeout bounds ctx by the memory timeout, saying what ran out of time.
func (r *Runner) withTimeout(ctx context.Context, what string) (context.Context, context.CancelFunc) {
	d := r.memoryTimeout()
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%s took longer than %s", what, d))
}

// lookup asks the memory for k similar failures. If that fails and ctx is
// still live, it falls back to the exact-signature lookup alone (k = 0
// needs no embedder) and says so in warn; if even that fails, warn says no
// past failures are known. err is ctx ending.
func (r *Runner) lookup(ctx context.Context, q memory.Query, k int) (res *memory.Result, warn string, err error) {
	call := func(k int) (*memory.Result, error) {
		lctx, cancel := r.withTimeout(ctx, "memory lookup")
		defer cancel()
		res, err := r.opts.Memory.Lookup(lctx, q, k)
		return res, explainTimeout(ctx, lctx, err)
	}
	res, err = call(k)
	if err == nil {
		return orEmpty(res), "", nil
	}
	if ctx.Err() != nil {
		return nil, "", fmt.Errorf("memory lookup of %s: %w", q.Signature, err)
	}
	first := err
	if res, err = call(0); err == nil {
		return orEmpty(res), fmt.Sprintf("memory lookup failed (%v): signature-only lookup", first), nil
	}
	if ctx.Err() != nil {
		return nil, "", fmt.Errorf("memory lookup of %s: %w", q.Signature, err)
	}
	return &memory.Result{}, fmt.Sprintf("memory lookup failed (%v), and so did the signature-only lookup: no past failures are known", first), nil
}

func orEmpty(res *memory.Result) *memory.Result {
	if res == nil {
		return &memory.Result{}
	}
	return res
}

// remember feeds this failure to the memory and reports whether the memory
// holds it: a memory may keep a record it could not save, and say so in
// err. Remembering an id again (a resumed session) is the memory's to make
// harmless.
func (r *Runner) remember(ctx context.Context, rec memory.Record) (bool, error) {
	rctx, cancel := r.withTimeout(ctx, "remembering the failure")
	defer cancel()
	got, err := r.opts.Memory.Remember(rctx, rec)
	if err != nil {
		err = fmt.Errorf("could not remember this failure as %s: %w", rec.ID, explainTimeout(ctx, rctx, err))
	}
	return got != nil, err
}

// explainTimeout makes err, from a call under cctx (a child of ctx), say
// that the call ran out of time when that is why it failed.
func explainTimeout(ctx, cctx context.Context, err error) error {
	if err == nil || cctx.Err() == nil || ctx.Err() != nil {
		return err
	}
	if cause := context.Cause(cctx); !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// withoutRecord drops record id (this incident's own) from a lookup result.
func withoutRecord(res *memory.Result, id string) *memory.Result {
	out := &memory.Result{Degraded: res.Degraded}
	for _, rec := range res.Exact {
		if rec != nil && rec.ID != id {
			out.Exact = append(out.Exact, rec)
		}
	}
	for _, m := range res.Similar {
		if m.Record != nil && m.Record.ID != id {
			out.Similar = append(out.Similar, m)
		}
	}
	return out
}

// similar lists up to k past failures, exact matches first, each pointing
// at its incident when this medic knows it.
func (r *Runner) similar(ctx context.Context, res *memory.Result, k int) ([]SimilarFailure, error) {
	return SimilarFailures(ctx, r.store, res, k)
}

// IncidentGetter finds an incident by id.
type IncidentGetter interface {
	IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error)
}

// SimilarFailures lists up to k of a memory lookup's past failures, exact
// matches first, each pointing at its incident when st knows it. It is the
// memory step's list, and what every other reader of similar failures
// shows.
func SimilarFailures(ctx context.Context, st IncidentGetter, res *memory.Result, k int) ([]SimilarFailure, error) {
	out := []SimilarFailure{}
	add := func(rec *memory.Record, sim float32, exact bool) {
		if len(out) < k {
			out = append(out, SimilarFailure{
				RecordID: rec.ID, Signature: rec.Signature, Label: rec.Label, Action: rec.Action,
				Outcome: rec.Outcome, Verdict: rec.Verdict, Trust: rec.Trust, Similarity: sim, Exact: exact,
				CreatedAt: rec.CreatedAt, Excerpt: errorLine(rec.Excerpt, rec.ExceptionType),
			})
		}
	}
	for _, rec := range res.Exact {
		add(rec, 1, true)
	}
	for _, m := range res.Similar {
		add(m.Record, m.Score, false)
	}
	for i := range out {
		inc, err := st.IncidentGetByID(ctx, out[i].RecordID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A record made elsewhere (an import, another medic): no pointer.
		case err != nil:
			return nil, fmt.Errorf("look up the incident of memory record %s: %w", out[i].RecordID, err)
		default:
			out[i].IncidentID, out[i].DagID, out[i].RunID = inc.ID, inc.DagID, inc.RunID
		}
	}
	return out, nil
}

// rootExcerpt is the redacted root error block, as far as the excerpt holds
// it, cut to maxRecordExcerpt bytes at a line boundary; the headline when
// the block is not in the excerpt.
func rootExcerpt(ex *LogExcerpt) string {
	var lines []string
	if b := ex.Error; b != nil {
		lo := ex.FirstLine - 1 // tail index of ex.Lines[0]
		from, to := max(b.Start, lo), min(b.End, lo+len(ex.Lines))
		if from < to {
			lines = ex.Lines[from-lo : to-lo]
		}
	}
	if len(lines) == 0 {
		return truncateBytes(ex.Headline, maxRecordExcerpt)
	}
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 && sb.Len()+1+len(l) > maxRecordExcerpt {
			break
		}
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(l)
	}
	return truncateBytes(sb.String(), maxRecordExcerpt)
}

// errorLine picks the line of a remembered excerpt that names the error:
// the last one naming its exception type, else the last non-blank one. It
// is redacted again: a record may come from somewhere other than triage.
func errorLine(excerpt, exceptionType string) string {
	lines := strings.Split(logscan.Redact(excerpt), "\n")
	pick := ""
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if pick == "" {
			pick = l
		}
		if exceptionType != "" && strings.Contains(l, exceptionType) {
			pick = l
			break
		}
	}
	return truncateBytes(pick, maxSimilarExcerpt)
}

// truncateBytes cuts s to at most n bytes at a UTF-8 boundary, marking the
// cut with "…".
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func memorySummary(m *Memory) string {
	var s string
	exact := 0
	for _, f := range m.Similar {
		if f.Exact {
			exact++
		}
	}
	switch {
	case len(m.Similar) == 0:
		s = "no similar past failure in memory"
	case exact > 0:
		s = fmt.Sprintf("%d similar past failure(s), %d with the same signature", len(m.Similar), exact)
	default:
		s = fmt.Sprintf("%d similar past failure(s)", len(m.Similar))
	}
	if p := precedentPhrase(m.Precedent); p != "" {
		s += "; " + p
	}
	if m.Diagnosis != nil {
		s += fmt.Sprintf("; diagnosis %s (%.0f%%)", m.Diagnosis.Label, 100*m.Diagnosis.Confidence)
	}
	if m.Degraded != "" {
		s += " (memory degraded: " + truncate(m.Degraded, 200) + ")"
	}
	return s
}

// precedentPhrase says in a few words what memory recalls, for summaries:
// "seen before: retry fixed it, trust 0.67".
func precedentPhrase(p *memory.Precedent) string {
	if p == nil {
		return ""
	}
	seen := "seen before"
	if !p.Exact {
		seen = fmt.Sprintf("similar failure seen before (similarity %.2f)", p.Similarity)
	}
	what := Resolution(p.Action, p.Outcome)
	if p.Action == "" && p.Outcome != memory.OutcomeFixed && p.Outcome != memory.OutcomeFailed {
		what = "it was " + p.Label
	}
	return fmt.Sprintf("%s: %s, trust %.2f", seen, what, p.Trust)
}

// Resolution says what was done about a past failure and whether it
// worked: "retry fixed it", "retry did not fix it", "no action recorded".
func Resolution(action string, outcome memory.Outcome) string {
	switch {
	case action != "" && outcome == memory.OutcomeFixed:
		return action + " fixed it"
	case action != "" && outcome == memory.OutcomeFailed:
		return action + " did not fix it"
	case action != "":
		return action + ", outcome unknown"
	case outcome == memory.OutcomeFixed:
		return "fixed (action not recorded)"
	case outcome == memory.OutcomeFailed:
		return "not fixed (action not recorded)"
	}
	return "no action recorded"
}
