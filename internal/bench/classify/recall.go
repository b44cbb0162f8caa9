package classify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	cls "github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/memory"
)

// MemoryLeaveGroupOut is the memory mode in which each case is classified
// with a memory holding every other case whose group differs, as if each of
// them had been resolved before: it shows what recall adds without letting
// a case recall itself or a variant of itself.
const MemoryLeaveGroupOut = "leave-group-out"

// MemoryLeaveOneOut holds every other case, variants of the same failure
// included: what memory adds when a failure recurs, as most do.
const MemoryLeaveOneOut = "leave-one-out"

// similarK is how many similar records each lookup asks for, as triage does.
const similarK = 5

// MemoryStats say what recall did in a memory mode.
type MemoryStats struct {
	// Records is the number of records each case's memory was built from
	// (all cases), and Groups the number of distinct groups.
	Records int `json:"records"`
	Groups  int `json:"groups"`
	// WithPrecedent counts cases for which some record was similar,
	// trusted and resolved enough to vote; Exact those where the best one
	// had the same signature.
	WithPrecedent int `json:"with_precedent"`
	Exact         int `json:"exact"`
	// Changed counts cases whose label recall changed, Fixed those it
	// changed from wrong to right, Broke those from right to wrong.
	Changed int `json:"changed"`
	Fixed   int `json:"fixed"`
	Broke   int `json:"broke"`
	// Cold is the cold run's scores, for comparison.
	Cold Metrics `json:"cold"`
	// LookupP50Ms and LookupMaxMs time Lookup plus Recall per case.
	LookupP50Ms float64 `json:"lookup_p50_ms"`
	LookupMaxMs float64 `json:"lookup_max_ms"`
}

// analysed is one case after the triage path: its cold diagnosis and what
// memory would hold about it.
type analysed struct {
	k      Case
	group  string
	cold   cls.Diagnosis
	query  memory.Query
	record memory.Record
}

// record is how a resolved case is remembered: its true label, the action
// the corpus says fixes it and, when that action is a fix, a verified
// outcome; an escalation is a person's confirmation of the label instead.
func record(k Case, q memory.Query, excerpt string) memory.Record {
	r := memory.Record{
		ID: k.ID, Signature: q.Signature, Template: q.Template, ExceptionType: q.ExceptionType,
		Excerpt: excerpt, Label: k.Label, Action: k.Remediation,
	}
	if k.Remediation == string(cls.Escalate) {
		r.Verdict, r.Ups = memory.VerdictUp, 1
	} else {
		r.Outcome, r.Fixed = memory.OutcomeFixed, 1
	}
	return r
}

func analyse(c *cls.Classifier, k Case) analysed {
	lines := strings.Split(strings.ReplaceAll(k.Log, "\r\n", "\n"), "\n")
	lines = logscan.RedactLines(lines)
	ex := extract.Extract(lines)
	a := analysed{k: k, group: k.Group, cold: c.Classify(cls.Input{Lines: lines, Extract: ex})}
	if a.group == "" {
		a.group = "case:" + k.ID
	}
	var excerpt string
	if b := ex.Root; b != nil {
		sig := signature.Of(b)
		a.query = memory.Query{Template: sig.Template, ExceptionType: b.ExceptionType}
		if !sig.Generic {
			a.query.Signature = sig.ID
		}
		excerpt = strings.Join(lines[max(b.Start, 0):min(b.End, len(lines))], "\n")
	}
	a.record = record(k, a.query, excerpt)
	return a
}

func runWithMemory(ctx context.Context, path string, cases []Case, c *cls.Classifier, opts Options) (*Result, error) {
	all := make([]analysed, len(cases))
	for i, k := range cases {
		all[i] = analyse(c, k)
		if opts.Memory == MemoryLeaveOneOut {
			all[i].group = "case:" + k.ID
		}
	}
	// Embed every record once; each group's memory restores the others'
	// records with their embeddings instead of embedding them again.
	emb := memory.NewHashEmbedder(memory.DefaultHashDim)
	master := memory.New(memory.Config{Embedder: emb, Workers: 1})
	for _, a := range all {
		if _, err := master.Add(ctx, a.record); err != nil {
			return nil, fmt.Errorf("classify bench %s: remember case %s: %w", path, a.k.ID, err)
		}
	}
	stored := map[string]memory.Record{}
	for _, r := range master.Records() {
		stored[r.ID] = r
	}
	mems := map[string]*memory.Memory{}
	for _, a := range all {
		if mems[a.group] != nil {
			continue
		}
		m := memory.New(memory.Config{Embedder: emb, Workers: 1})
		var recs []memory.Record
		for _, b := range all {
			if b.group != a.group {
				recs = append(recs, stored[b.k.ID])
			}
		}
		m.Restore(ctx, recs)
		mems[a.group] = m
	}

	cold := make([]Prediction, 0, len(all))
	preds := make([]Prediction, 0, len(all))
	stats := &MemoryStats{Records: len(all), Groups: len(mems)}
	lat := make([]float64, 0, len(all))
	start := time.Now()
	for _, a := range all {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("classify bench %s: %w", path, err)
		}
		t0 := time.Now()
		res, err := mems[a.group].Lookup(ctx, a.query, similarK)
		if err != nil {
			return nil, fmt.Errorf("classify bench %s: case %s: %w", path, a.k.ID, err)
		}
		d, prec := memory.Recall(a.cold, res, opts.Recall)
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		if prec != nil {
			stats.WithPrecedent++
			if prec.Exact {
				stats.Exact++
			}
		}
		if d.Label != a.cold.Label {
			stats.Changed++
			switch string(d.Label) {
			case a.k.Label:
				stats.Fixed++
			default:
				if string(a.cold.Label) == a.k.Label {
					stats.Broke++
				}
			}
		}
		cold = append(cold, predict(a.k, a.cold))
		preds = append(preds, predict(a.k, d))
	}
	elapsed := time.Since(start)
	stats.Cold = Score(cold)
	stats.LookupP50Ms, stats.LookupMaxMs = quantile(lat, 0.5), quantile(lat, 1)
	out := &Result{Metrics: Score(preds), Mode: "memory:" + opts.Memory, Memory: stats}
	if s := elapsed.Seconds(); s > 0 {
		out.CasesPerSec = float64(len(preds)) / s
	}
	if opts.KeepCases {
		out.Cases = preds
	}
	return out, nil
}

// quantile returns the q-quantile of xs (nearest rank), 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s)-1)+0.5))]
}
