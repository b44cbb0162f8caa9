package memory_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/memory"
)

// rec builds a record with evidence counts; trust follows from them.
func rec(id, label, action string, fixed, failed, ups, downs int) *memory.Record {
	r := &memory.Record{
		ID: id, Label: label, Action: action, Fixed: fixed, Failed: failed, Ups: ups, Downs: downs,
		Outcome: memory.OutcomeUnknown, Verdict: memory.VerdictNone,
	}
	switch {
	case fixed > 0:
		r.Outcome = memory.OutcomeFixed
	case failed > 0:
		r.Outcome = memory.OutcomeFailed
	}
	r.Trust = memory.ComputeTrust(r)
	return r
}

// lastFailed marks r's latest outcome as a failure.
func lastFailed(r *memory.Record) *memory.Record {
	r.Outcome = memory.OutcomeFailed
	return r
}

func cold(label classify.Label, conf float64, retrySafe bool) classify.Diagnosis {
	return classify.Diagnosis{
		Label: label, Confidence: conf, RawConfidence: conf, RetrySafe: retrySafe,
		Remediation: label.DefaultRemediation(), Reason: "rules",
		Evidence: []classify.Evidence{{Line: 3, Text: "boom", Rule: "r"}},
	}
}

func TestRecall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		d             classify.Diagnosis
		res           *memory.Result
		wantLabel     classify.Label
		wantRetrySafe bool
		wantPrecedent bool
		// conf compares the result's confidence with the cold one: +1
		// higher, -1 lower, 0 equal.
		conf int
	}{
		{
			name: "nil result changes nothing", d: cold(classify.Timeout, 0.7, false), res: nil,
			wantLabel: classify.Timeout,
		},
		{
			name:      "records nobody resolved or judged do not vote",
			d:         cold(classify.Timeout, 0.7, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "PERMISSION", "", 0, 0, 0, 0)}},
			wantLabel: classify.Timeout,
		},
		{
			name:      "a distrusted record does not vote",
			d:         cold(classify.Timeout, 0.7, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "PERMISSION", "fix_permissions", 0, 3, 0, 1)}},
			wantLabel: classify.Timeout,
		},
		{
			name:      "a similar record below the similarity floor does not vote",
			d:         cold(classify.Unknown, 0.4, false),
			res:       &memory.Result{Similar: []memory.Match{{Record: rec("a", "RESOURCE", "retry_with_more_resources", 2, 0, 0, 0), Score: 0.6}}},
			wantLabel: classify.Unknown,
		},
		{
			name:      "agreement raises confidence",
			d:         cold(classify.SchemaChange, 0.6, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "SCHEMA_CHANGE", "schema_migration", 1, 0, 0, 0)}},
			wantLabel: classify.SchemaChange, wantPrecedent: true, conf: +1,
		},
		{
			name:      "an abstention adopts memory's label",
			d:         cold(classify.Unknown, 0.4, false),
			res:       &memory.Result{Similar: []memory.Match{{Record: rec("a", "RESOURCE", "retry_with_more_resources", 2, 0, 0, 0), Score: 0.93}}},
			wantLabel: classify.Resource, wantPrecedent: true, conf: +1,
		},
		{
			name:      "a trusted exact record overrides a different cold label",
			d:         cold(classify.DataQuality, 0.63, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "CODE_ERROR", "fix_code", 3, 0, 0, 0)}},
			wantLabel: classify.CodeError, wantPrecedent: true,
		},
		{
			name:      "a similar record that disagrees only lowers confidence",
			d:         cold(classify.DataQuality, 0.78, false),
			res:       &memory.Result{Similar: []memory.Match{{Record: rec("a", "CODE_ERROR", "fix_code", 1, 0, 0, 0), Score: 0.9}}},
			wantLabel: classify.DataQuality, wantPrecedent: true, conf: -1,
		},
		{
			name:      "one verified retry is not enough to call it retry-safe",
			d:         cold(classify.Timeout, 0.8, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "TIMEOUT", "retry", 1, 0, 0, 0)}},
			wantLabel: classify.Timeout, wantPrecedent: true, conf: +1,
		},
		{
			name:      "two verified retries make it retry-safe",
			d:         cold(classify.Timeout, 0.8, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "TIMEOUT", "retry", 2, 0, 0, 0)}},
			wantLabel: classify.Timeout, wantRetrySafe: true, wantPrecedent: true, conf: +1,
		},
		{
			name:      "a retry that failed before makes it not retry-safe",
			d:         cold(classify.UpstreamUnavailable, 0.8, true),
			res:       &memory.Result{Exact: []*memory.Record{lastFailed(rec("a", "UPSTREAM_UNAVAILABLE", "retry_with_backoff", 1, 1, 1, 0))}},
			wantLabel: classify.UpstreamUnavailable, wantPrecedent: true, conf: +1,
		},
		{
			name:      "a fix that was not a retry makes it not retry-safe",
			d:         cold(classify.Infra, 0.85, true),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "INFRA", "fix_code", 2, 0, 0, 0)}},
			wantLabel: classify.Infra, wantPrecedent: true, conf: +1,
		},
		{
			name:      "an invalid stored label does not vote",
			d:         cold(classify.Timeout, 0.7, false),
			res:       &memory.Result{Exact: []*memory.Record{rec("a", "NOT_A_LABEL", "retry", 5, 0, 0, 0)}},
			wantLabel: classify.Timeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, p := memory.Recall(tt.d, tt.res, memory.RecallOptions{})
			require.Equal(t, tt.wantLabel, got.Label)
			require.Equal(t, tt.wantRetrySafe, got.RetrySafe)
			require.Equal(t, tt.wantPrecedent, p != nil)
			switch tt.conf {
			case +1:
				require.Greater(t, got.Confidence, tt.d.Confidence)
			case -1:
				require.Less(t, got.Confidence, tt.d.Confidence)
			default:
				if !tt.wantPrecedent {
					require.Equal(t, tt.d, got, "no precedent: the diagnosis is unchanged")
				}
			}
			require.GreaterOrEqual(t, got.Confidence, 0.0)
			require.LessOrEqual(t, got.Confidence, 1.0)
			if p != nil {
				require.Equal(t, memory.RecallRule, got.Evidence[len(got.Evidence)-1].Rule, "memory's evidence is quoted")
				require.Equal(t, -1, got.Evidence[len(got.Evidence)-1].Line)
				require.Len(t, tt.d.Evidence, 1, "the cold diagnosis is not modified")
			}
		})
	}
}

func TestRecallIsOrderIndependent(t *testing.T) {
	t.Parallel()
	exact := []*memory.Record{
		rec("a", "CODE_ERROR", "fix_code", 2, 0, 0, 0),
		rec("b", "DATA_QUALITY", "quarantine_bad_rows", 1, 0, 0, 0),
		rec("c", "CODE_ERROR", "fix_code", 1, 0, 1, 0),
	}
	similar := []memory.Match{
		{Record: rec("d", "DATA_QUALITY", "quarantine_bad_rows", 3, 0, 0, 0), Score: 0.91},
		{Record: rec("e", "CODE_ERROR", "fix_code", 1, 0, 0, 0), Score: 0.88},
	}
	d := cold(classify.DataQuality, 0.6, false)
	want, wantP := memory.Recall(d, &memory.Result{Exact: exact, Similar: similar}, memory.RecallOptions{})
	for range 20 {
		e, s := slices.Clone(exact), slices.Clone(similar)
		slices.Reverse(e)
		e[0], e[len(e)-1] = e[len(e)-1], e[0]
		slices.Reverse(s)
		got, p := memory.Recall(d, &memory.Result{Exact: e, Similar: s}, memory.RecallOptions{})
		require.Equal(t, want, got)
		require.Equal(t, wantP, p)
		exact = e
	}
}
