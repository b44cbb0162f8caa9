package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

const adminToken = "admin-token-0123456789abcdef"

// auditBundle is the real API over a real SQLite store holding an audit
// log, for the audit commands.
type auditBundle struct {
	store   *sqlite.Store
	dbPath  string
	env     map[string]string
	entries []*incident.AuditEntry
}

// noEvents and noTriage stand in for the parts of the daemon the audit
// commands never reach.
type noEvents struct{}

func (noEvents) RecordEvent(context.Context, *incident.FailureEvent) (*store.EventRecordResult, error) {
	panic("the audit commands record no events")
}

type noTriage struct{}

func (noTriage) RequestTriage(context.Context, *store.TriageRequestParams) (*store.TriageRequestResult, error) {
	panic("the audit commands request no triage")
}

func auditSetup(t *testing.T) *auditBundle {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h, err := httpapi.New(httpapi.Deps{
		Store: st, Events: noEvents{}, Triage: noTriage{},
		Tokens: []config.Token{
			{Name: "ci-operator", Role: config.RoleOperator, Token: config.NewSecret(operatorToken)},
			{Name: "ci-admin", Role: config.RoleAdmin, Token: config.NewSecret(adminToken)},
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &auditBundle{store: st, dbPath: path, env: map[string]string{"MEDIC_SERVER": srv.URL}}
	at := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	for i, e := range []incident.AuditEntry{
		{Actor: "medic", Action: "incident.opened", IncidentID: "inc_1"},
		{Actor: "alice", Action: "memory.feedback", IncidentID: "inc_1", Detail: json.RawMessage(`{"update":{"outcome":"fixed"}}`)},
		{Actor: "medic", Action: "incident.triaged", IncidentID: "inc_2"},
		{Actor: "bob", Action: "memory.feedback", IncidentID: "inc_2"},
	} {
		e.At = at.Add(time.Duration(i) * time.Hour)
		stored, err := st.AuditAppend(ctx, &e)
		require.NoError(t, err)
		b.entries = append(b.entries, stored)
	}
	return b
}

// tamper rewrites an audit entry's detail in the database file, behind
// medic's back.
func (b *auditBundle) tamper(t *testing.T, id int64, detail string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+b.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	_, err = db.ExecContext(context.Background(), `UPDATE audit_log SET detail = ? WHERE id = ?`, detail, id)
	require.NoError(t, err)
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	b := auditSetup(t)
	id := func(i int) string { return strconv.FormatInt(b.entries[i].ID, 10) }
	tests := []struct {
		name   string
		args   []string
		code   int
		rows   []string // ids in the table, in order
		stderr *regexp.Regexp
	}{
		{name: "all", code: cli.ExitOK, rows: []string{id(0), id(1), id(2), id(3)}, stderr: regexp.MustCompile(`^4 audit entries\n$`)},
		{name: "by incident", args: []string{"--incident", "inc_2"}, code: cli.ExitOK, rows: []string{id(2), id(3)}},
		{name: "by actor", args: []string{"--actor", "alice"}, code: cli.ExitOK, rows: []string{id(1)}},
		{name: "by action prefix", args: []string{"--action", "incident."}, code: cli.ExitOK, rows: []string{id(0), id(2)}},
		{name: "since", args: []string{"--since", "2026-05-01T03:00:00Z"}, code: cli.ExitOK, rows: []string{id(1), id(2), id(3)}},
		{name: "since a duration ago", args: []string{"--since", "1h"}, code: cli.ExitOK, rows: nil},
		{
			name: "paged", args: []string{"--limit", "2"}, code: cli.ExitOK, rows: []string{id(0), id(1)},
			stderr: regexp.MustCompile(`^2 audit entries; next page: --after ` + id(1) + `\n$`),
		},
		{name: "next page", args: []string{"--limit", "2", "--after", id(1)}, code: cli.ExitOK, rows: []string{id(2), id(3)}},
		{name: "bad since", args: []string{"--since", "yesterday"}, code: cli.ExitUsage, stderr: regexp.MustCompile(`--since "yesterday": want an RFC 3339 time`)},
		{name: "unknown token refused", args: []string{"--token", "wrong"}, code: cli.ExitError, stderr: regexp.MustCompile(`HTTP 401`)},
	}
	rowID := regexp.MustCompile(`(?m)^(\d+)\s`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"audit", "list", "--token", operatorToken}, tt.args...)
			res := medic(t, b.env, args...)
			require.Equal(t, tt.code, res.code, res.stderr)
			if tt.stderr != nil {
				require.Regexp(t, tt.stderr, res.stderr)
			}
			if tt.code != cli.ExitOK {
				return
			}
			require.Regexp(t, `^ID\s+AT\s+ACTOR\s+ACTION\s+INCIDENT\s+DETAIL\n`, res.stdout)
			var ids []string
			for _, m := range rowID.FindAllStringSubmatch(res.stdout, -1) {
				ids = append(ids, m[1])
			}
			require.Equal(t, tt.rows, ids, res.stdout)
		})
	}
}

func TestAuditListJSON(t *testing.T) {
	t.Parallel()
	b := auditSetup(t)
	res := medic(t, b.env, "audit", "list", "--token", operatorToken, "--actor", "alice", "--json")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	var page struct {
		Entries     []*incident.AuditEntry `json:"entries"`
		NextAfterID int64                  `json:"next_after_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &page))
	require.Equal(t, []*incident.AuditEntry{b.entries[1]}, page.Entries)
}

func TestAuditVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper bool
		args   []string
		code   int
		stdout *regexp.Regexp
		stderr *regexp.Regexp
	}{
		{
			name: "intact", code: cli.ExitOK,
			stdout: regexp.MustCompile(`^audit chain intact: 4 entries \(ids \d+ to \d+\), head [0-9a-f]{64}\n$`),
			stderr: regexp.MustCompile(`^$`),
		},
		{
			name: "intact json", args: []string{"--json"}, code: cli.ExitOK,
			stdout: regexp.MustCompile(`^\{"intact":true,"entries":4,`),
		},
		{
			name: "tampered", tamper: true, code: cli.ExitError, stdout: regexp.MustCompile(`^$`),
			stderr: regexp.MustCompile(`^medic: the audit chain is broken at entry BROKEN \(hash_mismatch\): entry BROKEN: content hashes to .*the entry was changed\n$`),
		},
		{
			name: "tampered json", tamper: true, args: []string{"--json"}, code: cli.ExitError,
			stdout: regexp.MustCompile(`"intact":false,.*"broken_id":BROKEN,"problem":"hash_mismatch"`),
			stderr: regexp.MustCompile(`broken at entry BROKEN`),
		},
		{
			name: "operator refused", args: []string{"--token", operatorToken}, code: cli.ExitError,
			stderr: regexp.MustCompile(`GET /api/v1/audit/verify: .*\(HTTP 403\); pass a token with the right role`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := auditSetup(t)
			broken := strconv.FormatInt(b.entries[1].ID, 10)
			if tt.tamper {
				b.tamper(t, b.entries[1].ID, `{"update":{"outcome":"failed"}}`)
			}
			args := append([]string{"audit", "verify", "--token", adminToken}, tt.args...)
			res := medic(t, b.env, args...)
			require.Equal(t, tt.code, res.code, res.stderr)
			fill := func(re *regexp.Regexp) *regexp.Regexp {
				return regexp.MustCompile(regexp.MustCompile(`BROKEN`).ReplaceAllString(re.String(), broken))
			}
			if tt.stdout != nil {
				require.Regexp(t, fill(tt.stdout), res.stdout)
			}
			if tt.stderr != nil {
				require.Regexp(t, fill(tt.stderr), res.stderr)
			}
		})
	}
}
