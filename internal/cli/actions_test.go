package cli_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

// actionsBundle is the real API over a real SQLite store, for the kill
// switch and approval commands.
type actionsBundle struct {
	store *sqlite.Store
	env   map[string]string
}

func actionsSetup(t *testing.T, environment string) *actionsBundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h, err := httpapi.New(httpapi.Deps{
		Store: st, Events: noEvents{}, Triage: noTriage{}, Environment: environment,
		Tokens: []config.Token{
			{Name: "dashboard", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
			{Name: "oncall", Role: config.RoleOperator, Token: config.NewSecret(operatorToken)},
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &actionsBundle{store: st, env: map[string]string{"MEDIC_SERVER": srv.URL, "MEDIC_TOKEN": operatorToken}}
}

// approval stores a pending approval, created directly through the store.
func (b *actionsBundle) approval(t *testing.T, key, requester string, ttl time.Duration) *incident.Approval {
	t.Helper()
	a := storetest.Approval("inc_1", key, requester, time.Now())
	a.ExpiresAt = time.Now().Add(ttl)
	got, created, err := b.store.ApprovalCreate(context.Background(), a)
	require.NoError(t, err)
	require.True(t, created)
	return got
}

func TestActionsKillSwitch(t *testing.T) {
	t.Parallel()
	b := actionsSetup(t, "dev")
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout *regexp.Regexp
		stderr *regexp.Regexp
	}{
		{"status at first", []string{"actions", "status"}, cli.ExitOK, regexp.MustCompile(`^running: medic may take actions\n$`), regexp.MustCompile(`^$`)},
		{"pause needs a reason", []string{"actions", "pause"}, cli.ExitUsage, nil, regexp.MustCompile(`needs --reason`)},
		{"viewer may not pause", []string{"actions", "pause", "--reason", "x", "--token", viewerToken}, cli.ExitError, nil, regexp.MustCompile(`HTTP 403`)},
		{
			"pause",
			[]string{"actions", "pause", "--reason", "warehouse migration"},
			cli.ExitOK,
			regexp.MustCompile(`^paused: medic takes no action\n$`), regexp.MustCompile(`^set by oncall at \S+: warehouse migration\n$`),
		},
		{
			"status paused, as a viewer",
			[]string{"actions", "status", "--json", "--token", viewerToken},
			cli.ExitOK,
			regexp.MustCompile(`^\{"on":true,"by":"oncall","reason":"warehouse migration","at":"[^"]+"\}\n$`), nil,
		},
		{"resume", []string{"actions", "resume"}, cli.ExitOK, regexp.MustCompile(`^running: medic may take actions\n$`), regexp.MustCompile(`^set by oncall at `)},
	}
	for _, st := range steps { // in order: each step sees the one before
		res := medic(t, b.env, st.args...)
		require.Equal(t, st.code, res.code, "%s: %s", st.name, res.stderr)
		if st.stdout != nil {
			require.Regexp(t, st.stdout, res.stdout, st.name)
		}
		if st.stderr != nil {
			require.Regexp(t, st.stderr, res.stderr, st.name)
		}
	}
}

func TestApproveAndReject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		environment string
		requester   string
		ttl         time.Duration
		args        func(id string) []string
		code        int
		stdout      string // a regexp, with the id as %s
		stderr      *regexp.Regexp
		want        incident.ApprovalStatus
		// params are the approval's stored parameters afterwards.
		params string
	}{
		{
			name: "approve", requester: "medic", args: func(id string) []string { return []string{"approve", id} },
			code: cli.ExitOK, stdout: `^%s approved: clear_failed_tasks on incident inc_1\n$`, want: incident.ApprovalApproved,
		},
		{
			name: "reject", requester: "medic", args: func(id string) []string { return []string{"reject", id, "--reason", "wrong fix"} },
			code: cli.ExitOK, stdout: `^%s rejected: `, want: incident.ApprovalRejected,
		},
		{
			name: "reject needs a reason", requester: "medic", args: func(id string) []string { return []string{"reject", id} },
			code: cli.ExitUsage, stderr: regexp.MustCompile(`needs --reason`), want: incident.ApprovalPending,
		},
		{
			name: "unknown", requester: "medic", args: func(string) []string { return []string{"approve", "apr_nope"} },
			code: cli.ExitNotFound, stderr: regexp.MustCompile(`approval apr_nope not found \(HTTP 404\)`), want: incident.ApprovalPending,
		},
		{
			name: "expired", requester: "medic", ttl: -time.Minute, args: func(id string) []string { return []string{"approve", id} },
			code: cli.ExitError, stderr: regexp.MustCompile(`expired at .*\(HTTP 409\)`), want: incident.ApprovalExpired,
		},
		{
			name: "self approval in production", environment: "production", requester: "oncall",
			args: func(id string) []string { return []string{"approve", id} },
			code: cli.ExitError,
			stderr: regexp.MustCompile(`^medic: POST /api/v1/approvals/apr_\w+/approve: approval apr_\w+ was requested by oncall, ` +
				`who may not approve it here: another person must: forbidden \(HTTP 403\); your token is not the problem: ` +
				`ask someone else with an operator token to run medic approve, or reject it yourself with medic reject\n$`),
			want: incident.ApprovalPending,
		},
		{
			name: "viewer may not approve", environment: "production", requester: "medic",
			args: func(id string) []string { return []string{"approve", id, "--token", viewerToken} },
			code: cli.ExitError,
			stderr: regexp.MustCompile(`^medic: POST /api/v1/approvals/apr_\w+/approve: token "dashboard" has role viewer; ` +
				`this endpoint needs operator or above \(HTTP 403\); pass a token with the right role via --token or MEDIC_TOKEN\n$`),
			want: incident.ApprovalPending,
		},
		{
			name: "approve with edited params", requester: "medic",
			args: func(id string) []string {
				return []string{"approve", id, "--params", `{"conf": {"date": "2026-05-02"}}`, "--reason", "rerun the 2nd"}
			},
			code: cli.ExitOK, stdout: `^%s approved: `, want: incident.ApprovalApproved, params: `{"conf":{"date":"2026-05-02"}}`,
		},
		{
			name: "params must be an object", requester: "medic",
			args: func(id string) []string { return []string{"approve", id, "--params", `["conf"]`} },
			code: cli.ExitUsage, want: incident.ApprovalPending,
			stderr: regexp.MustCompile(`^medic: --params must be a JSON object, such as '\{"conf": \{"date": "2026-05-01"\}\}', not a JSON array\n$`),
		},
		{
			name: "params must be JSON", requester: "medic",
			args: func(id string) []string { return []string{"approve", id, "--params", `{conf: 1}`} },
			code: cli.ExitUsage, want: incident.ApprovalPending,
			stderr: regexp.MustCompile(`^medic: --params is not valid JSON \(invalid character 'c' .*\): want an object, such as `),
		},
		{
			name: "null params", requester: "medic",
			args: func(id string) []string { return []string{"approve", id, "--params", `null`} },
			code: cli.ExitUsage, want: incident.ApprovalPending, stderr: regexp.MustCompile(`not a JSON null\n$`),
		},
		{
			name: "reject takes no params", requester: "medic",
			args: func(id string) []string { return []string{"reject", id, "--reason", "no", "--params", `{}`} },
			code: cli.ExitUsage, want: incident.ApprovalPending, stderr: regexp.MustCompile(`unknown flag: --params`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := actionsSetup(t, tt.environment)
			ttl := tt.ttl
			if ttl == 0 {
				ttl = time.Hour
			}
			a := b.approval(t, "k1", tt.requester, ttl)
			res := medic(t, b.env, tt.args(a.ID)...)
			require.Equal(t, tt.code, res.code, res.stderr)
			if tt.stdout != "" {
				require.Regexp(t, regexp.MustCompile(regexp.MustCompile(`%s`).ReplaceAllString(tt.stdout, regexp.QuoteMeta(a.ID))), res.stdout)
			}
			if tt.stderr != nil {
				require.Regexp(t, tt.stderr, res.stderr)
			}
			got, err := b.store.ApprovalGet(context.Background(), a.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Status)
			if tt.code == cli.ExitOK {
				require.Equal(t, "oncall", got.DecidedBy)
				require.Equal(t, "operator", got.DecidedRole)
			}
			params := tt.params
			if params == "" {
				params = string(a.Params)
			}
			require.JSONEq(t, params, string(got.Params))
		})
	}
}

func TestApprovalsList(t *testing.T) {
	t.Parallel()
	b := actionsSetup(t, "dev")
	first := b.approval(t, "k1", "medic", time.Hour)
	second := b.approval(t, "k2", "medic", time.Hour)
	require.Equal(t, cli.ExitOK, medic(t, b.env, "reject", first.ID, "--reason", "no").code)
	rowID := regexp.MustCompile(`(?m)^(apr_\S+)\s`)
	tests := []struct {
		name   string
		args   []string
		code   int
		rows   []string
		stderr *regexp.Regexp
	}{
		{name: "all", code: cli.ExitOK, rows: []string{second.ID, first.ID}, stderr: regexp.MustCompile(`^2 approvals\n$`)},
		{name: "pending", args: []string{"--status", "pending"}, code: cli.ExitOK, rows: []string{second.ID}},
		{name: "by incident", args: []string{"--incident", "inc_other"}, code: cli.ExitOK},
		{name: "bad status", args: []string{"--status", "done"}, code: cli.ExitUsage, stderr: regexp.MustCompile(`--status "done"`)},
		{name: "as a viewer", args: []string{"--token", viewerToken, "--limit", "1"}, code: cli.ExitOK, rows: []string{second.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, b.env, append([]string{"approvals", "list"}, tt.args...)...)
			require.Equal(t, tt.code, res.code, res.stderr)
			if tt.stderr != nil {
				require.Regexp(t, tt.stderr, res.stderr)
			}
			if tt.code != cli.ExitOK {
				return
			}
			require.Regexp(t, `^ID\s+STATUS\s+ACTION\s+INCIDENT\s+REQUESTED BY\s+EXPIRES\s+DECIDED BY\n`, res.stdout)
			var ids []string
			for _, m := range rowID.FindAllStringSubmatch(res.stdout, -1) {
				ids = append(ids, m[1])
			}
			require.Equal(t, tt.rows, ids, res.stdout)
		})
	}
}
