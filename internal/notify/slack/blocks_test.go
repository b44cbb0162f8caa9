package slack_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	medicslack "github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var blocksCreated = time.Date(2026, 5, 2, 2, 11, 3, 0, time.UTC)

const runID = "scheduled__2026-05-02T02:00:00+00:00"

func blocksIncident(state incident.State) *incident.Incident {
	triaged := blocksCreated.Add(42 * time.Second)
	return &incident.Incident{
		ID: "inc_0001", State: state, Severity: incident.SeverityHigh,
		Title:    "orders_etl.transform_orders failed (run " + runID + ")",
		Instance: "main", DagID: "orders_etl", RunID: runID, FirstTaskID: "transform_orders", EventCount: 2,
		Owner: "data-eng", CreatedAt: blocksCreated, UpdatedAt: triaged, TriagedAt: &triaged, TriageSessionID: "ses_0001",
	}
}

func blocksEvents(exception string) []*incident.FailureEvent {
	return []*incident.FailureEvent{{
		ID:     "evt_0001",
		Key:    incident.Key{Instance: "main", DagID: "orders_etl", RunID: runID, TaskID: "transform_orders", TryNumber: 2},
		Source: incident.SourceCallback, Exception: exception, OccurredAt: blocksCreated, ReceivedAt: blocksCreated,
	}}
}

func composed() *investigate.Report {
	return &investigate.Report{
		Status: incident.SessionCompleted, Commander: "incident-commander", Severity: incident.SeverityHigh,
		Summary: "orders_etl.transform_orders failed · SCHEMA_CHANGE (83%)",
		RootCause: &investigate.RootCause{
			Label: classify.SchemaChange, Confidence: 0.83, Remediation: classify.SchemaMigration, Source: "log-analyzer",
			Summary: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
		},
		Impact: &investigate.Impact{
			Blocked: []string{"audit", "publish_orders"}, Tier: "tier1", Severity: incident.SeverityHigh,
			Summary: "2 downstream task(s) blocked: audit, publish_orders; tier1 DAG", Source: "airflow_run",
		},
		Owner:      &investigate.Owner{Name: "data-eng", Contacts: []string{"data-eng", "analytics"}, Source: "airflow_dag_owners"},
		NextAction: "data-eng (analytics): migrate the schema, or update transform_orders's query to match it, then clear it.",
		Diagnostic: investigate.Diagnostic{RunbookLink: "https://wiki.example.com/runbooks/SCHEMA_CHANGE"},
	}
}

// decisionFinding is the policy's record as remediate writes it.
func decisionFinding(t testing.TB, outcome, action, failedRule string) *incident.Finding {
	t.Helper()
	reasons := []map[string]string{{"rule": "label_allowed", "result": "pass", "detail": "SCHEMA_CHANGE"}}
	if failedRule != "" {
		reasons = append(reasons, map[string]string{"rule": failedRule, "result": "fail", "detail": "2 attempts already"})
	}
	data, err := json.Marshal(map[string]any{
		"proposed": "clear_failed_tasks",
		"decision": map[string]any{"outcome": outcome, "action": action, "reasons": reasons},
	})
	require.NoError(t, err)
	return &incident.Finding{Step: "remediate.decision", Data: data}
}

// build assembles a report the way the notifier gets one: findings, then
// the root session's composed report.
func build(t testing.TB, inc *incident.Incident, events []*incident.FailureEvent, findings []*incident.Finding, inv *investigate.Report) *report.Report {
	t.Helper()
	r := report.New(inc, events, findings, "https://medic.example.com")
	if inv != nil {
		raw, err := json.Marshal(inv)
		require.NoError(t, err)
		require.NoError(t, r.SetInvestigation(&incident.Session{ID: "ses_0001", Result: raw}))
	}
	return r
}

var mentions = map[string]string{"data-eng": "<!subteam^S0DATAENG>", "analytics": "<@U0ANALYST>"}

func TestParentGolden(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 5, 2, 3, 11, 0, 0, time.UTC)
	// A word of 12 characters repeated past every limit.
	huge := strings.TrimSpace(strings.Repeat("deadlocked: ", 600))
	tests := []struct {
		name  string
		build func(t *testing.T) *report.Report
		opts  medicslack.Options
	}{
		{
			name: "open",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateOpen), blocksEvents("KeyError: 'currency_code'\nTraceback ..."), nil, nil)
			},
		},
		{
			name: "investigating",
			build: func(t *testing.T) *report.Report {
				inv := composed()
				inv.Status, inv.Partial, inv.Impact = incident.SessionPartial, true, nil
				inv.Missing = []investigate.Missing{{Agent: "query-profiler", Status: incident.SessionTimedOut, Reason: "deadline"}}
				inv.Warnings = []string{"log-analyzer: possible prompt injection in task_log"}
				return build(t, blocksIncident(incident.StateInvestigating), blocksEvents(""), nil, inv)
			},
			opts: medicslack.Options{Mentions: mentions},
		},
		{
			name: "awaiting_approval",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateAwaitingApproval), blocksEvents(""),
					[]*incident.Finding{decisionFinding(t, "propose", "clear_failed_tasks", "")}, composed())
			},
			opts: medicslack.Options{
				DashboardURL: "https://medic.example.com/incidents/inc_0001", AirflowURL: "https://airflow.example.com/",
				Mentions: mentions, Approval: &medicslack.Approval{ID: "apr_0001", Action: "clear_failed_tasks", ExpiresAt: expires},
			},
		},
		{
			name: "remediating",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateRemediating), blocksEvents(""),
					[]*incident.Finding{decisionFinding(t, "execute", "retry_with_backoff", "")}, composed())
			},
			opts: medicslack.Options{AirflowURL: "https://airflow.example.com", Mentions: mentions, DecidedBy: "<@U0ALICE>"},
		},
		{
			name: "verifying",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateVerifying), blocksEvents(""),
					[]*incident.Finding{decisionFinding(t, "execute", "retry_with_backoff", "")}, composed())
			},
			opts: medicslack.Options{AirflowURL: "https://airflow.example.com"},
		},
		{
			name: "resolved",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateResolved), blocksEvents(""),
					[]*incident.Finding{decisionFinding(t, "propose", "clear_failed_tasks", "")}, composed())
			},
			opts: medicslack.Options{
				AirflowURL: "https://airflow.example.com", Mentions: mentions, DecidedBy: "alice",
				// A decided approval shows no buttons.
				Approval: &medicslack.Approval{ID: "apr_0001", Action: "clear_failed_tasks", ExpiresAt: expires},
			},
		},
		{
			name: "escalated",
			build: func(t *testing.T) *report.Report {
				return build(t, blocksIncident(incident.StateEscalated), blocksEvents(""),
					[]*incident.Finding{decisionFinding(t, "escalate", "escalate", "max_attempts")}, composed())
			},
			opts: medicslack.Options{Mentions: map[string]string{"analytics": "<@U0ANALYST>"}},
		},
		{
			name: "storm",
			build: func(t *testing.T) *report.Report {
				inc := blocksIncident(incident.StateInvestigating)
				inc.EventCount = 37
				inv := composed()
				inv.RootCause.Label, inv.RootCause.Confidence = classify.Infra, 0.9
				inv.RootCause.Summary = "psycopg2.OperationalError: connection to server at \"warehouse\" (10.0.0.5), port 5432 failed: Connection refused"
				inv.Impact.Summary = "37 tasks in 12 DAGs failed; 140 downstream tasks blocked"
				return build(t, inc, blocksEvents(""), nil, inv)
			},
			opts: medicslack.Options{Storm: &medicslack.Storm{Tasks: 37, Dags: 12, Cause: "warehouse connection refused"}},
		},
		{
			name: "no_investigation",
			build: func(t *testing.T) *report.Report {
				inc := blocksIncident(incident.StateInvestigating)
				inc.TriagedAt = nil
				return build(t, inc, blocksEvents("ValueError: <!channel> look at <https://evil.example|this> & that"), nil, nil)
			},
		},
		{
			name: "huge_root_cause",
			build: func(t *testing.T) *report.Report {
				inv := composed()
				inv.RootCause.Summary = huge
				inv.NextAction = huge
				return build(t, blocksIncident(incident.StateEscalated), blocksEvents(""), nil, inv)
			},
			opts: medicslack.Options{DashboardURL: "https://medic.example.com/incidents/inc_0001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := medicslack.Parent(tt.build(t), tt.opts)
			checkLimits(t, got, tt.opts.Mentions)
			golden(t, tt.name, got)
			acceptedBySlack(t, got)
		})
	}
}

func TestParentApprovalButtons(t *testing.T) {
	t.Parallel()
	r := build(t, blocksIncident(incident.StateAwaitingApproval), blocksEvents(""),
		[]*incident.Finding{decisionFinding(t, "propose", "clear_failed_tasks", "")}, composed())
	got := medicslack.Parent(r, medicslack.Options{Approval: &medicslack.Approval{ID: "apr_7", Action: strings.Repeat("clear_failed_tasks ", 10)}})
	var actions *slackapi.ActionBlock
	for _, b := range got.Blocks {
		if a, ok := b.(*slackapi.ActionBlock); ok {
			actions = a
		}
	}
	require.NotNil(t, actions, "an awaiting approval has buttons")
	require.Len(t, actions.Elements.ElementSet, 2)
	approve := actions.Elements.ElementSet[0].(*slackapi.ButtonBlockElement)
	reject := actions.Elements.ElementSet[1].(*slackapi.ButtonBlockElement)
	require.Equal(t, medicslack.ActionApprove, approve.ActionID)
	require.Equal(t, slackapi.StylePrimary, approve.Style)
	require.Equal(t, "apr_7", approve.Value)
	require.LessOrEqual(t, utf8.RuneCountInString(approve.Text.Text), medicslack.MaxButtonText)
	require.Equal(t, medicslack.ActionReject, reject.ActionID)
	require.Equal(t, slackapi.StyleDanger, reject.Style)
	require.Equal(t, "apr_7", reject.Value)
}

func TestParentSummarisesAtWordBoundary(t *testing.T) {
	t.Parallel()
	inv := composed()
	inv.RootCause.Summary = strings.TrimSpace(strings.Repeat("deadlocked: ", 600))
	r := build(t, blocksIncident(incident.StateEscalated), blocksEvents(""), nil, inv)
	got := medicslack.Parent(r, medicslack.Options{})
	var root string
	for _, b := range got.Blocks {
		if s, ok := b.(*slackapi.SectionBlock); ok && s.Text != nil && strings.HasPrefix(s.Text.Text, "*Root cause:*") {
			root = s.Text.Text
		}
	}
	require.LessOrEqual(t, utf8.RuneCountInString(root), medicslack.MaxSectionText)
	head, more, ok := strings.Cut(root, "… ")
	require.True(t, ok, "a summarised text ends with … and the link: %q", root[len(root)-80:])
	require.Equal(t, "<https://medic.example.com/api/v1/incidents/inc_0001|full report>", more)
	require.True(t, strings.HasSuffix(head, " deadlocked:"), "cut at a word boundary: %q", head[len(head)-40:])
}

func TestReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind, text string
		wantText   string
		wantBlock  string
	}{
		{medicslack.ReplyFinding, "log-analyzer: SCHEMA_CHANGE (83%)", "Finding: log-analyzer: SCHEMA_CHANGE (83%)", ":mag: *Finding:* log-analyzer: SCHEMA_CHANGE (83%)"},
		{medicslack.ReplyAction, "clear_failed_tasks started", "Action: clear_failed_tasks started", ":hammer_and_wrench: *Action:* clear_failed_tasks started"},
		{medicslack.ReplyApproval, "approved by <@U1>", "Approval: approved by &lt;@U1&gt;", ":raised_hand: *Approval:* approved by &lt;@U1&gt;"},
		{medicslack.ReplyVerification, "transform_orders succeeded & publish_orders ran", "Verification: transform_orders succeeded &amp; publish_orders ran", ":white_check_mark: *Verification:* transform_orders succeeded &amp; publish_orders ran"},
		{"note", "<!here>", "Note: &lt;!here&gt;", "*Note:* &lt;!here&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			got := medicslack.Reply(tt.kind, tt.text)
			require.Equal(t, tt.wantText, got.Text)
			require.Len(t, got.Blocks, 1)
			require.Equal(t, tt.wantBlock, got.Blocks[0].(*slackapi.SectionBlock).Text.Text)
			checkLimits(t, got, nil)
		})
	}
	long := medicslack.Reply(medicslack.ReplyFinding, strings.Repeat("word ", 2000))
	checkLimits(t, long, nil)
	require.True(t, strings.HasSuffix(long.Blocks[0].(*slackapi.SectionBlock).Text.Text, "word…"))
}

// FuzzParent puts arbitrary text in every field of a report that comes
// from outside and checks the message stays within Slack's limits and
// mentions no one.
func FuzzParent(f *testing.F) {
	f.Add("<!channel>", 1)
	f.Add("a & b <https://x|y> ", 400)
	f.Add("é🚀 ", 3000)
	f.Add(strings.Repeat("x", 5000), 2)
	f.Add("<<!!>>&&;;", 999)
	f.Fuzz(func(t *testing.T, s string, n int) {
		text := strings.Repeat(s, min(max(n, 0)%1000+1, 100_000/max(len(s), 1)+1))
		inc := blocksIncident(incident.StateAwaitingApproval)
		inc.ID, inc.RunID, inc.DagID, inc.FirstTaskID, inc.Summary = text, text, text, text, text
		inv := composed()
		inv.RootCause.Summary, inv.RootCause.Label, inv.RootCause.Source = text, classify.Label(text), text
		inv.Impact.Summary, inv.NextAction, inv.Owner.Name = text, text, text
		inv.Partial, inv.Warnings = true, []string{text, text}
		inv.Missing = []investigate.Missing{{Agent: text, Status: incident.SessionFailed, Reason: text}}
		inv.Diagnostic.RunbookLink = text
		r := build(t, inc, blocksEvents(text), []*incident.Finding{decisionFinding(t, text, text, text)}, inv)
		got := medicslack.Parent(r, medicslack.Options{
			AirflowURL: "https://airflow.example.com", Mentions: map[string]string{"data-eng": "<@U1>"},
			Approval: &medicslack.Approval{ID: "apr_1", Action: text}, DecidedBy: text,
			Storm: &medicslack.Storm{Tasks: 3, Dags: 2, Cause: text},
		})
		checkLimits(t, got, nil)
		checkLimits(t, medicslack.Reply(text, text), nil)
	})
}

// checkLimits walks the rendered blocks' JSON and checks Slack's limits and
// that no text could mention a channel but the configured mentions.
func checkLimits(t *testing.T, got medicslack.Rendered, mentions map[string]string) {
	t.Helper()
	require.LessOrEqual(t, len(got.Blocks), medicslack.MaxBlocks)
	require.LessOrEqual(t, utf8.RuneCountInString(got.Text), medicslack.MaxFallbackText)
	require.True(t, utf8.ValidString(got.Text))
	require.NotContains(t, got.Text, "<")
	raw, err := json.Marshal(got.Blocks)
	require.NoError(t, err)
	for _, m := range mentions {
		mj, err := json.Marshal(m)
		require.NoError(t, err)
		raw = []byte(strings.ReplaceAll(string(raw), strings.Trim(string(mj), `"`), "@mention"))
	}
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(raw, &blocks))
	for _, b := range blocks {
		switch b["type"] {
		case "header":
			checkText(t, b["text"], medicslack.MaxHeaderText)
		case "section":
			checkText(t, b["text"], medicslack.MaxSectionText)
			fields, _ := b["fields"].([]any)
			require.LessOrEqual(t, len(fields), 10)
			for _, f := range fields {
				checkText(t, f, medicslack.MaxFieldText)
			}
		case "context":
			els, _ := b["elements"].([]any)
			require.LessOrEqual(t, len(els), 10)
			for _, e := range els {
				checkText(t, e, medicslack.MaxContextText)
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				checkText(t, e.(map[string]any)["text"], medicslack.MaxButtonText)
			}
		}
	}
}

func checkText(t *testing.T, obj any, limit int) {
	t.Helper()
	m, _ := obj.(map[string]any)
	if m == nil {
		return
	}
	s, _ := m["text"].(string)
	require.True(t, utf8.ValidString(s))
	require.LessOrEqual(t, len(utf16(s)), limit, "text over %d: %.80q…", limit, s)
	require.NotContains(t, s, "<!", "an unescaped mention")
	require.NotContains(t, s, "\x00")
}

func utf16(s string) []int {
	var out []int
	for _, r := range s {
		out = append(out, int(r))
		if r >= 0x10000 {
			out = append(out, 0)
		}
	}
	return out
}

// golden compares the rendered message, pretty-printed, with
// testdata/name.golden, rewriting it under -update.
func golden(t *testing.T, name string, got medicslack.Rendered) {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"text": got.Text, "blocks": got.Blocks}, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), string(b))
}

// acceptedBySlack posts the message to the test Slack, which rejects what
// the real one would.
func acceptedBySlack(t *testing.T, got medicslack.Rendered) {
	t.Helper()
	srv := slacktest.New(t)
	_, _, err := srv.Client().PostMessageContext(context.Background(), "C1",
		slackapi.MsgOptionText(got.Text, false), slackapi.MsgOptionBlocks(got.Blocks...))
	require.NoError(t, err)
}
