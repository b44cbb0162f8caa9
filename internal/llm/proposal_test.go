package llm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/llm"
)

func TestParseProposal(t *testing.T) {
	t.Parallel()
	const body = `{"root_cause": "column dropped upstream", "label": "SCHEMA_CHANGE", "confidence": 0.9, "evidence": [{"source": "task_log", "quote": "column \"amount\" does not exist"}], "recommended_action": "schema_migration"}`
	want := &llm.Proposal{
		RootCause: "column dropped upstream", Label: "SCHEMA_CHANGE", Confidence: 0.9,
		Evidence:          []llm.ProposalEvidence{{Source: "task_log", Quote: `column "amount" does not exist`}},
		RecommendedAction: "schema_migration",
	}
	tests := []struct {
		name     string
		text     string
		want     *llm.Proposal
		errIs    error
		contains string
	}{
		{name: "bare", text: body, want: want},
		{name: "fenced", text: "Analysis done.\n```json\n" + body + "\n```\nHope that helps.", want: want},
		{name: "fence without tag", text: "```\n" + body + "```", want: want},
		{name: "amid prose", text: "My answer: " + body + " -- end", want: want},
		{
			name: "lenient spelling and string evidence",
			text: `{"root_cause": " x ", "label": "timeout", "confidence": 0, "evidence": ["a", "", {"quote": "b"}], "recommended_action": "Retry_With_Backoff", "extra": true}`,
			want: &llm.Proposal{RootCause: "x", Label: "TIMEOUT", Evidence: []llm.ProposalEvidence{{Quote: "a"}, {Quote: "b"}}, RecommendedAction: "retry_with_backoff"},
		},
		{name: "no JSON", text: "It is probably a schema change.", errIs: llm.ErrNoProposal},
		{name: "empty", text: "", errIs: llm.ErrNoProposal},
		{name: "truncated JSON", text: `{"root_cause": "x", "label": "SCHEMA_CHANGE"`, contains: "decode proposal"},
		{name: "wrong type", text: `{"root_cause": "x", "label": "INFRA", "confidence": "high", "recommended_action": "retry"}`, contains: "decode proposal"},
		{name: "missing fields", text: `{}`, contains: "root_cause is empty"},
		{name: "unknown label", text: `{"root_cause": "x", "label": "DISK", "confidence": 0.5, "recommended_action": "retry"}`, contains: `label "DISK" is not one of SCHEMA_CHANGE`},
		{name: "action outside vocabulary", text: `{"root_cause": "x", "label": "INFRA", "confidence": 0.5, "recommended_action": "trigger_dag_run"}`, contains: `recommended_action "trigger_dag_run"`},
		{name: "confidence out of range", text: `{"root_cause": "x", "label": "INFRA", "confidence": -0.1, "recommended_action": "retry"}`, contains: "confidence -0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := llm.ParseProposal(tt.text)
			if tt.want != nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.Nil(t, got)
			require.Error(t, err)
			if tt.errIs != nil {
				require.ErrorIs(t, err, tt.errIs)
			}
			require.ErrorContains(t, err, tt.contains)
		})
	}
}
