package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/triage"
)

// memoryFeedback is the API's memory: a real memory.Memory, with feedback
// applied the way memory.Keeper applies it (a label correction counts as a
// thumbs-up).
type memoryFeedback struct{ mem *memory.Memory }

var _ httpapi.MemoryFeedback = memoryFeedback{}

func (m memoryFeedback) Get(id string) (*memory.Record, bool) { return m.mem.Get(id) }

func (m memoryFeedback) Feedback(ctx context.Context, id string, u memory.Update) (*memory.Record, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	rec, ok := m.mem.Get(id)
	if !ok {
		return nil, fmt.Errorf("memory feedback on %s: %w", id, memory.ErrNotFound)
	}
	if u.Action != "" || u.Label != "" {
		if u.Action != "" {
			rec.Action = u.Action
		}
		if u.Label != "" {
			rec.Label = u.Label
			u.Verdict = memory.VerdictUp
		}
		if _, err := m.mem.Add(ctx, *rec); err != nil {
			return nil, err
		}
	}
	return m.mem.Learn(id, u.Feedback)
}

func newMemory() *memory.Memory {
	return memory.New(memory.Config{Logger: slog.New(slog.DiscardHandler), Workers: 1})
}

// withMemory gives the API a failure memory.
func withMemory(mem *memory.Memory) func(d *httpapi.Deps) {
	return func(d *httpapi.Deps) { d.Memory = memoryFeedback{mem} }
}

var runs atomic.Int64

// remembered records a fresh incident and remembers its failure.
func remembered(t testing.TB, b *testBundle, mem *memory.Memory) *incident.Incident {
	t.Helper()
	inc := b.record(t, "etl", fmt.Sprintf("run%d", runs.Add(1)), "load").Incident
	_, err := mem.Add(context.Background(), memory.Record{
		ID: inc.ID, Signature: "sig_0123456789abcdef", Template: "KeyError <*>", ExceptionType: "KeyError",
		Excerpt: "KeyError: 'currency_code'", Label: string(classify.CodeError),
	})
	require.NoError(t, err)
	return inc
}

func feedbackPath(id string) string { return "/api/v1/incidents/" + id + "/feedback" }

func TestPostFeedback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want func(t *testing.T, rec map[string]any)
	}{
		{
			name: "a retry fixed it",
			body: `{"outcome":"fixed","action":"retry"}`,
			want: func(t *testing.T, rec map[string]any) {
				require.Equal(t, "fixed", rec["outcome"])
				require.Equal(t, "retry", rec["action"])
				require.Equal(t, float64(1), rec["fixed"])
				require.InDelta(t, 2.0/3, rec["trust"], 1e-9)
				require.Equal(t, "CODE_ERROR", rec["label"])
			},
		},
		{
			name: "a retry did not fix it",
			body: `{"outcome":"failed","action":"retry_with_backoff"}`,
			want: func(t *testing.T, rec map[string]any) {
				require.Equal(t, "failed", rec["outcome"])
				require.Equal(t, float64(1), rec["failed"])
				require.InDelta(t, 1.0/3, rec["trust"], 1e-9)
			},
		},
		{
			name: "thumbs down with a reason",
			body: `{"verdict":"down","reason":"not a code error: the API returned an empty page"}`,
			want: func(t *testing.T, rec map[string]any) {
				require.Equal(t, "down", rec["verdict"])
				require.Equal(t, float64(1), rec["downs"])
				require.InDelta(t, 1.0/3, rec["trust"], 1e-9)
			},
		},
		{
			name: "a label correction",
			body: `{"label":"PERMISSION","reason":"the service account lost its grant"}`,
			want: func(t *testing.T, rec map[string]any) {
				require.Equal(t, "PERMISSION", rec["label"])
				require.Equal(t, float64(1), rec["ups"], "a correction is a thumbs-up")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMemory()
			var logs syncBuffer
			b := setup(t, withMemory(mem), func(d *httpapi.Deps) { d.Logger = newLogger(&logs) })
			inc := remembered(t, b, mem)

			resp := b.do(t, http.MethodPost, feedbackPath(inc.ID), operatorToken, []byte(tt.body))
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
			require.Equal(t, inc.ID, resp.body["incident_id"])
			rec := resp.body["record"].(map[string]any)
			require.Equal(t, inc.ID, rec["id"])
			require.NotContains(t, rec, "embedding", "vectors are not for clients")
			require.NotContains(t, rec, "embedded_by")
			tt.want(t, rec)

			stored, ok := mem.Get(inc.ID)
			require.True(t, ok)
			require.InDelta(t, rec["trust"], stored.Trust, 1e-9, "the memory holds what the API answered")
			require.Contains(t, logs.String(), `"msg":"memory feedback recorded"`)
			require.Contains(t, logs.String(), `"actor":"ci-operator"`)
		})
	}
}

func TestPostFeedbackRefused(t *testing.T) {
	t.Parallel()
	mem := newMemory()
	b := setup(t, withMemory(mem))
	inc := remembered(t, b, mem)
	tests := []struct {
		name, body, field, contains string
	}{
		{"unknown field", `{"outcome":"fixed","comment":"x"}`, "", `unknown field "comment": known fields are outcome, action, verdict, label, reason`},
		{"wrong type", `{"outcome":1}`, "", "outcome must be a JSON string"},
		{"not an object", `"fixed"`, "", "body must be a JSON object"},
		{"unknown outcome", `{"outcome":"maybe"}`, "outcome", `outcome "maybe" is not known: want fixed or failed`},
		{"outcome unknown is silence, not feedback", `{"outcome":"unknown"}`, "outcome", `outcome "unknown" is not known`},
		{"unknown verdict", `{"verdict":"sideways"}`, "verdict", `verdict "sideways" is not known: want up or down`},
		{"unknown action", `{"action":"reboot","outcome":"fixed"}`, "action", `action "reboot" is not a remediation: want one of retry, retry_with_backoff,`},
		{"unknown label", `{"label":"permission"}`, "label", `label "permission" is not a failure class: want one of SCHEMA_CHANGE,`},
		{"correction with a thumbs-down", `{"label":"PERMISSION","verdict":"down"}`, "verdict", "a label correction is itself a thumbs-up"},
		{"nothing to record", `{}`, "outcome", "nothing to record"},
		{"only a reason", `{"reason":"because"}`, "outcome", "nothing to record"},
		{"long reason", `{"verdict":"up","reason":"` + strings.Repeat("é", 1001) + `"}`, "reason", "reason is longer than 1000 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodPost, feedbackPath(inc.ID), operatorToken, []byte(tt.body))
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.raw)
			require.Equal(t, "invalid_payload", resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
			if tt.field != "" {
				require.Equal(t, tt.field, resp.body["error"].(map[string]any)["details"].(map[string]any)["field"])
			}
		})
	}
	t.Cleanup(func() {
		rec, ok := mem.Get(inc.ID)
		require.True(t, ok)
		require.Equal(t, 0, rec.Fixed+rec.Failed+rec.Ups+rec.Downs, "refused feedback changes nothing")
		require.Empty(t, rec.Action)
	})
}

func TestPostFeedbackStatus(t *testing.T) {
	t.Parallel()
	mem := newMemory()
	b := setup(t, withMemory(mem))
	inc := remembered(t, b, mem)
	notRemembered := b.record(t, "etl", "fresh", "load").Incident
	off := setup(t)
	offInc := off.record(t, "etl", "run1", "load").Incident
	body := []byte(`{"outcome":"fixed","action":"retry"}`)
	tests := []struct {
		name     string
		b        *testBundle
		method   string
		path     string
		token    string
		headers  []string
		status   int
		code     string
		contains string
	}{
		{"unknown incident", b, http.MethodPost, feedbackPath("inc_missing"), operatorToken, nil, http.StatusNotFound, "not_found", "incident inc_missing not found"},
		{"very long id", b, http.MethodPost, feedbackPath(strings.Repeat("x", 300)), operatorToken, nil, http.StatusNotFound, "not_found", "not found"},
		{"not remembered", b, http.MethodPost, feedbackPath(notRemembered.ID), operatorToken, nil, http.StatusNotFound, "not_found", "has no memory record: its triage has not finished"},
		{"memory off", off, http.MethodPost, feedbackPath(offInc.ID), operatorToken, nil, http.StatusServiceUnavailable, "memory_disabled", "failure memory is not enabled"},
		{"viewer", b, http.MethodPost, feedbackPath(inc.ID), viewerToken, nil, http.StatusForbidden, "forbidden", "needs operator or above"},
		{"no token", b, http.MethodPost, feedbackPath(inc.ID), "", nil, http.StatusUnauthorized, "unauthorized", "missing bearer token"},
		{"form post", b, http.MethodPost, feedbackPath(inc.ID), operatorToken, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "unsupported_media_type", "application/json"},
		{"GET", b, http.MethodGet, feedbackPath(inc.ID), operatorToken, nil, http.StatusMethodNotAllowed, "method_not_allowed", "allowed: POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var send []byte
			if tt.method == http.MethodPost {
				send = body
			}
			resp := tt.b.do(t, tt.method, tt.path, tt.token, send, tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.code, resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
		})
	}
	t.Cleanup(func() {
		rec, ok := mem.Get(inc.ID)
		require.True(t, ok)
		require.Zero(t, rec.Fixed, "no refused request changed the record")
	})
}

func TestPostFeedbackRedactsTheLoggedReason(t *testing.T) {
	t.Parallel()
	mem := newMemory()
	var logs syncBuffer
	b := setup(t, withMemory(mem), func(d *httpapi.Deps) { d.Logger = newLogger(&logs) })
	inc := remembered(t, b, mem)
	resp := b.do(t, http.MethodPost, feedbackPath(inc.ID), operatorToken,
		[]byte(`{"verdict":"up","reason":"fixed after rotating password=hunter2"}`))
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	require.Contains(t, logs.String(), "fixed after rotating password=[REDACTED:")
	require.NotContains(t, logs.String(), "hunter2")
}

// insertFindings stores findings of inc's triage session.
func insertFindings(t *testing.T, b *testBundle, inc *incident.Incident, fs ...*incident.Finding) {
	t.Helper()
	for _, f := range fs {
		f.SessionID, f.IncidentID = inc.TriageSessionID, inc.ID
		_, err := b.store.FindingInsert(context.Background(), f)
		require.NoError(t, err)
	}
}

func rawData(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

func TestGetIncidentDiagnosisAndSimilar(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cold := &classify.Diagnosis{
		Label: classify.CodeError, Confidence: 0.53, Remediation: classify.FixCode, Reason: "rule python_key_error",
		Evidence: []classify.Evidence{{Line: 9, Rule: "python_key_error", Text: "KeyError: 'currency_code'"}},
	}
	final := *cold
	final.Label, final.Confidence, final.Remediation, final.RetrySafe = classify.Infra, 0.75, classify.Retry, true
	similar := triage.SimilarFailure{
		RecordID: "inc_past", IncidentID: "inc_past", DagID: "etl", RunID: "run0", Signature: "sig_0123456789abcdef",
		Label: "INFRA", Action: "retry", Outcome: memory.OutcomeFixed, Verdict: memory.VerdictNone, Trust: 0.75,
		Similarity: 1, Exact: true, CreatedAt: time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC), Excerpt: "KeyError: 'currency_code'",
	}
	precedent := &memory.Precedent{RecordID: "inc_past", Label: "INFRA", Action: "retry", Outcome: memory.OutcomeFixed, Trust: 0.75, Similarity: 1, Exact: true, Agreement: 1, Counted: 1}
	logFinding := func() *incident.Finding {
		return &incident.Finding{Kind: incident.FindingLogExcerpt, Step: triage.StepLogExcerpt, Summary: "log", Data: rawData(t, triage.LogExcerpt{Diagnosis: cold})}
	}

	tests := []struct {
		name          string
		findings      func() []*incident.Finding
		wantLabel     any // nil when there is no diagnosis
		wantSimilar   int
		wantPrecedent bool
	}{
		{"not triaged yet", func() []*incident.Finding { return nil }, nil, 0, false},
		{"memory off: the log's diagnosis", func() []*incident.Finding { return []*incident.Finding{logFinding()} }, "CODE_ERROR", 0, false},
		{"memory on: the final diagnosis", func() []*incident.Finding {
			return []*incident.Finding{logFinding(), {
				Kind: triage.FindingMemory, Step: triage.StepMemory, Summary: "memory",
				Data: rawData(t, triage.Memory{Similar: []triage.SimilarFailure{similar}, Diagnosis: &final, Precedent: precedent}),
			}}
		}, "INFRA", 1, true},
		{"memory step failed", func() []*incident.Finding {
			return []*incident.Finding{logFinding(), {Kind: triage.FindingMemory, Step: triage.StepMemory, Summary: "memory unavailable", Error: "boom"}}
		}, "CODE_ERROR", 0, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inc := b.record(t, "etl", fmt.Sprintf("detail%d", i), "load").Incident
			insertFindings(t, b, inc, tt.findings()...)
			resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID, viewerToken, nil)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
			for _, key := range []string{"diagnosis", "similar", "precedent"} {
				require.Contains(t, resp.body, key, "always present")
			}
			if tt.wantLabel == nil {
				require.Nil(t, resp.body["diagnosis"])
			} else {
				require.Equal(t, tt.wantLabel, resp.body["diagnosis"].(map[string]any)["label"])
			}
			list := resp.body["similar"].([]any)
			require.Len(t, list, tt.wantSimilar)
			if tt.wantSimilar > 0 {
				got := list[0].(map[string]any)
				require.Equal(t, "inc_past", got["incident_id"])
				require.Equal(t, "retry", got["action"])
				require.Equal(t, "fixed", got["outcome"])
				require.Equal(t, true, got["exact"])
			}
			if tt.wantPrecedent {
				require.Equal(t, "inc_past", resp.body["precedent"].(map[string]any)["record_id"])
			} else {
				require.Nil(t, resp.body["precedent"])
			}
		})
	}
}
