package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// remediationFlowTests are the cases for how approvals, action runs and
// triage move an incident through remediation; Run runs them with the rest.
var remediationFlowTests = []struct {
	name string
	fn   func(t *testing.T, h *Harness)
}{
	{"ApprovalDecideMovesIncident", testApprovalDecideMovesIncident},
	{"ApprovalDecideEditedParams", testApprovalDecideEditedParams},
	{"ActionBeginExecutesApproval", testActionBeginExecutesApproval},
	{"ActionBeginLimits", testActionBeginLimits},
	{"ActionBeginLimitsConcurrent", testActionBeginLimitsConcurrent},
	{"IncidentTransitionFrom", testIncidentTransitionFrom},
	{"TriageCompleteRemediate", testTriageCompleteRemediate},
	{"ApprovalExpire", testApprovalExpire},
}

// statePaths are the moves that take a new (open) incident to a state.
var statePaths = map[incident.State][]incident.State{
	incident.StateOpen:             nil,
	incident.StateInvestigating:    {incident.StateInvestigating},
	incident.StateAwaitingApproval: {incident.StateInvestigating, incident.StateAwaitingApproval},
	incident.StateRemediating:      {incident.StateInvestigating, incident.StateRemediating},
	incident.StateEscalated:        {incident.StateEscalated},
}

// incidentIn records a failure of etl/run and moves its incident to state.
func incidentIn(ctx context.Context, t *testing.T, h *Harness, run string, state incident.State) *incident.Incident {
	t.Helper()
	path, ok := statePaths[state]
	require.True(t, ok, "no path to %s", state)
	res, err := h.Store.EventRecord(ctx, &store.EventRecordParams{Event: Event("etl", run, "load", 1), Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident
	for _, to := range path {
		inc, err = h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: inc.ID, To: to})
		require.NoError(t, err)
	}
	require.Equal(t, state, inc.State)
	return inc
}

// transitions returns an incident's incident.transition audit entries.
func transitions(ctx context.Context, t *testing.T, h *Harness, incidentID string) []*incident.AuditEntry {
	t.Helper()
	es, err := h.Store.AuditList(ctx, &store.AuditListParams{
		IncidentID: incidentID, ActionPrefix: "incident.transition", Limit: store.MaxListLimit,
	})
	require.NoError(t, err)
	return es
}

// jobArgs returns the decoded arguments of the jobs of a kind whose
// argument field is value; ok is false when the harness cannot list jobs.
func jobArgs(ctx context.Context, t *testing.T, h *Harness, kind, field, value string) (args []map[string]string, ok bool) {
	t.Helper()
	if h.Jobs == nil {
		return nil, false
	}
	js, err := h.Jobs(ctx, kind)
	require.NoError(t, err)
	for _, j := range js {
		var a map[string]string
		require.NoError(t, json.Unmarshal(j.Args, &a))
		if a[field] == value {
			args = append(args, a)
		}
	}
	return args, true
}

// requireJobs checks that the jobs of a kind carrying field=value have
// exactly the arguments want, when the harness can list jobs.
func requireJobs(ctx context.Context, t *testing.T, h *Harness, kind, field, value string, want ...map[string]string) {
	t.Helper()
	if got, ok := jobArgs(ctx, t, h, kind, field, value); ok {
		require.ElementsMatch(t, want, got, "%s jobs with %s=%s", kind, field, value)
	}
}

// chainLen is the number of entries in the audit chain.
func chainLen(ctx context.Context, t *testing.T, h *Harness) int {
	t.Helper()
	return len(chainSince(ctx, t, h, 0))
}

// chainSince returns the audit entries after the first skip.
func chainSince(ctx context.Context, t *testing.T, h *Harness, skip int) []*incident.AuditEntry {
	t.Helper()
	var (
		all   []*incident.AuditEntry
		after int64
	)
	for {
		page, err := h.Store.AuditList(ctx, &store.AuditListParams{AfterID: after, Limit: store.MaxListLimit})
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < store.MaxListLimit {
			return all[skip:]
		}
		after = page[len(page)-1].ID
	}
}

// approved creates an approval for incidentID under key and approves it.
func approved(ctx context.Context, t *testing.T, h *Harness, incidentID, key string) *incident.Approval {
	t.Helper()
	a, _, err := h.Store.ApprovalCreate(ctx, Approval(incidentID, key, "medic", h.Clock.Now()))
	require.NoError(t, err)
	a, err = h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: a.ID, Approve: true, By: "alice", Role: "operator"})
	require.NoError(t, err)
	return a
}

func testApprovalDecideMovesIncident(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name    string
		approve bool
		from    incident.State
		want    incident.State
		moved   bool
	}{
		{name: "approval starts remediating", approve: true, from: incident.StateAwaitingApproval, want: incident.StateRemediating, moved: true},
		{name: "rejection escalates", from: incident.StateAwaitingApproval, want: incident.StateEscalated, moved: true},
		{name: "approval leaves an investigating incident", approve: true, from: incident.StateInvestigating, want: incident.StateInvestigating},
		{name: "rejection leaves an investigating incident", from: incident.StateInvestigating, want: incident.StateInvestigating},
		{name: "approval leaves an escalated incident", approve: true, from: incident.StateEscalated, want: incident.StateEscalated},
		{name: "rejection leaves a remediating incident", from: incident.StateRemediating, want: incident.StateRemediating},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := incidentIn(ctx, t, h, fmt.Sprintf("mv%d", i), tt.from)
			a, _, err := h.Store.ApprovalCreate(ctx, Approval(inc.ID, fmt.Sprintf("kmv%d", i), "medic", h.Clock.Now()))
			require.NoError(t, err)
			before := len(transitions(ctx, t, h, inc.ID))

			got, err := h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: a.ID, Approve: tt.approve, By: "alice", Role: "operator"})
			require.NoError(t, err)
			require.Equal(t, tt.approve, got.Status == incident.ApprovalApproved)

			stored, err := h.Store.IncidentGetByID(ctx, inc.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, stored.State)
			moves := transitions(ctx, t, h, inc.ID)
			if !tt.moved {
				require.Len(t, moves, before, "an incident left alone is not audited")
			} else {
				require.Len(t, moves, before+1)
				e := moves[len(moves)-1]
				require.Equal(t, "alice", e.Actor)
				var d map[string]string
				require.NoError(t, json.Unmarshal(e.Detail, &d))
				require.Equal(t, string(tt.from), d["from"])
				require.Equal(t, string(tt.want), d["to"])
			}
			var want []map[string]string
			if tt.approve {
				want = append(want, map[string]string{"incident_id": inc.ID, "approval_id": a.ID})
			}
			requireJobs(ctx, t, h, store.ActionJobArgs{}.Kind(), "approval_id", a.ID, want...)
		})
	}
}

func testApprovalDecideEditedParams(t *testing.T, h *Harness) {
	ctx := context.Background()
	const proposed = `{"dag_id":"etl"}`
	tests := []struct {
		name       string
		approve    bool
		params     string
		wantParams string
		wantEdited bool
		wantErr    error
	}{
		{
			name: "approval with edited params", approve: true, params: `{"dag_id":"etl","conf":{"date":"2026-05-01"}}`,
			wantParams: `{"dag_id":"etl","conf":{"date":"2026-05-01"}}`, wantEdited: true,
		},
		{name: "approval without params keeps the proposal", approve: true, wantParams: proposed},
		{name: "rejection ignores params", params: `{"dag_id":"other"}`, wantParams: proposed},
		{name: "invalid JSON refused", approve: true, params: `{"dag_id":`, wantErr: incident.ErrInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := incidentIn(ctx, t, h, fmt.Sprintf("ep%d", i), incident.StateAwaitingApproval)
			a, _, err := h.Store.ApprovalCreate(ctx, Approval(inc.ID, fmt.Sprintf("kep%d", i), "medic", h.Clock.Now()))
			require.NoError(t, err)
			chain := chainLen(ctx, t, h)
			p := &store.ApprovalDecideParams{ID: a.ID, Approve: tt.approve, By: "alice", Role: "operator"}
			if tt.params != "" {
				p.Params = []byte(tt.params)
			}
			got, err := h.Store.ApprovalDecide(ctx, p)
			stored, gerr := h.Store.ApprovalGet(ctx, a.ID)
			require.NoError(t, gerr)

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, got)
				require.Equal(t, a, stored, "a refused decision changes nothing")
				require.Equal(t, chain, chainLen(ctx, t, h), "a refused decision audits nothing")
				requireJobs(ctx, t, h, store.ActionJobArgs{}.Kind(), "approval_id", a.ID)
				now, err := h.Store.IncidentGetByID(ctx, inc.ID)
				require.NoError(t, err)
				require.Equal(t, incident.StateAwaitingApproval, now.State)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.wantParams, string(got.Params))
			require.JSONEq(t, tt.wantParams, string(stored.Params))
			e := lastAudit(ctx, t, h.Store)
			if tt.approve {
				// The transition to remediating follows the decision.
				var decided *incident.AuditEntry
				for _, c := range chainSince(ctx, t, h, chain) {
					if c.Action == "approval.approved" {
						decided = c
					}
				}
				require.NotNil(t, decided, "approval.approved is audited")
				e = decided
			}
			edited, ok := auditDetailOf(t, e).Update["edited_params"]
			require.Equal(t, tt.wantEdited, ok, "edited_params in %s", e.Detail)
			if tt.wantEdited {
				require.JSONEq(t, tt.params, edited)
			}
		})
	}
}

func testActionBeginExecutesApproval(t *testing.T, h *Harness) {
	ctx := context.Background()
	inc := incidentIn(ctx, t, h, "ex", incident.StateAwaitingApproval)
	a := approved(ctx, t, h, inc.ID, "kex")

	r := ActionRun(inc.ID, "run-ex")
	r.ApprovalID = a.ID
	run, begun, err := h.Store.ActionBegin(ctx, r)
	require.NoError(t, err)
	require.True(t, begun)
	require.Equal(t, a.ID, run.ApprovalID)
	got, err := h.Store.ApprovalGet(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, incident.ApprovalExecuted, got.Status)
	executed, err := h.Store.AuditList(ctx, &store.AuditListParams{IncidentID: inc.ID, ActionPrefix: "approval.executed"})
	require.NoError(t, err)
	require.Len(t, executed, 1)
	require.Contains(t, string(executed[0].Detail), a.ID)
	require.Equal(t, "action.started", lastAudit(ctx, t, h.Store).Action)

	again, begun, err := h.Store.ActionBegin(ctx, r)
	require.NoError(t, err, "a redelivered begin of an executed approval's run is not refused")
	require.False(t, begun)
	require.Equal(t, 2, again.Attempts)

	for _, approve := range []bool{true, false} {
		_, err := h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: a.ID, Approve: approve, By: "carol", Role: "operator"})
		require.ErrorIs(t, err, store.ErrConflict, "an executed approval cannot be decided again")
	}

	refused := []struct {
		name   string
		status incident.ApprovalStatus
		make   func(t *testing.T, key string) *incident.Approval
	}{
		{"executed", incident.ApprovalExecuted, func(*testing.T, string) *incident.Approval { return a }},
		{"pending", incident.ApprovalPending, func(t *testing.T, key string) *incident.Approval {
			p, _, err := h.Store.ApprovalCreate(ctx, Approval(inc.ID, key, "medic", h.Clock.Now()))
			require.NoError(t, err)
			return p
		}},
		{"rejected", incident.ApprovalRejected, func(t *testing.T, key string) *incident.Approval {
			p, _, err := h.Store.ApprovalCreate(ctx, Approval(inc.ID, key, "medic", h.Clock.Now()))
			require.NoError(t, err)
			p, err = h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: p.ID, By: "alice", Role: "operator"})
			require.NoError(t, err)
			return p
		}},
		{"expired", incident.ApprovalExpired, func(t *testing.T, key string) *incident.Approval {
			p, _, err := h.Store.ApprovalCreate(ctx, Approval(inc.ID, key, "medic", h.Clock.Now()))
			require.NoError(t, err)
			_, err = h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{
				ID: p.ID, Approve: true, By: "alice", Role: "operator", Now: h.Clock.Now().Add(2 * time.Hour),
			})
			require.ErrorIs(t, err, store.ErrConflict)
			return p
		}},
	}
	for i, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ap := tt.make(t, fmt.Sprintf("kref%d", i))
			chain := chainLen(ctx, t, h)
			key := fmt.Sprintf("run-ref%d", i)
			r := ActionRun(inc.ID, key)
			r.ApprovalID = ap.ID
			_, _, err := h.Store.ActionBegin(ctx, r)
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = h.Store.ActionGet(ctx, key)
			require.ErrorIs(t, err, store.ErrNotFound, "a refused begin stores no run")
			require.Equal(t, chain, chainLen(ctx, t, h), "a refused begin audits nothing")
			stored, err := h.Store.ApprovalGet(ctx, ap.ID)
			require.NoError(t, err)
			require.Equal(t, tt.status, stored.Status)
		})
	}
}

func testActionBeginLimits(t *testing.T, h *Harness) {
	ctx := context.Background()
	type prior struct {
		key, dag, run, task string
		at                  time.Duration // from the case's now
	}
	tests := []struct {
		name     string
		prior    []prior
		run      prior // the run begun with limits, at now
		limits   incident.ActionLimits
		approval bool // the run executes an approved approval
		wantErr  error
		wantNew  bool // begun
	}{
		{
			name:   "per task instance used up",
			prior:  []prior{{"a1", "etl", "r1", "load", -time.Hour}, {"a2", "etl", "r1", "load", -time.Minute}},
			run:    prior{key: "a3", dag: "etl", run: "r1", task: "load"},
			limits: incident.ActionLimits{PerTaskInstance: 2}, wantErr: store.ErrLimit,
		},
		{
			name:   "per task instance counts only that task",
			prior:  []prior{{"b1", "etl", "r1", "load", -time.Hour}, {"b2", "etl", "r1", "load", -time.Minute}},
			run:    prior{key: "b3", dag: "etl", run: "r1", task: "extract"},
			limits: incident.ActionLimits{PerTaskInstance: 2}, wantNew: true,
		},
		{
			name:   "per DAG per day used up",
			prior:  []prior{{"c1", "etl", "r1", "load", -time.Hour}, {"c2", "etl", "r2", "x", -time.Minute}},
			run:    prior{key: "c3", dag: "etl", run: "r3", task: "y"},
			limits: incident.ActionLimits{PerDagPerDay: 2}, wantErr: store.ErrLimit,
		},
		{
			name:   "per DAG per day counts only that DAG",
			prior:  []prior{{"d1", "etl", "r1", "load", -time.Hour}, {"d2", "etl", "r2", "x", -time.Minute}},
			run:    prior{key: "d3", dag: "dbt", run: "r3", task: "y"},
			limits: incident.ActionLimits{PerDagPerDay: 2}, wantNew: true,
		},
		{
			// The case's now is 02:00 UTC: 23:00 was yesterday.
			name:   "per DAG per day counts only the UTC day",
			prior:  []prior{{"e1", "etl", "r1", "load", -3 * time.Hour}, {"e2", "etl", "r2", "x", -time.Minute}},
			run:    prior{key: "e3", dag: "etl", run: "r3", task: "y"},
			limits: incident.ActionLimits{PerDagPerDay: 2}, wantNew: true,
		},
		{
			name:   "rate counts every DAG",
			prior:  []prior{{"f1", "dbt", "r1", "load", -5 * time.Minute}, {"f2", "other", "r2", "x", -time.Minute}},
			run:    prior{key: "f3", dag: "etl", run: "r3", task: "y"},
			limits: incident.ActionLimits{RateActions: 2, RateWindow: 10 * time.Minute}, wantErr: store.ErrLimit,
		},
		{
			name:   "rate counts only the window",
			prior:  []prior{{"g1", "dbt", "r1", "load", -11 * time.Minute}, {"g2", "other", "r2", "x", -time.Minute}},
			run:    prior{key: "g3", dag: "etl", run: "r3", task: "y"},
			limits: incident.ActionLimits{RateActions: 2, RateWindow: 10 * time.Minute}, wantNew: true,
		},
		{
			name:   "zero limits do not limit",
			prior:  []prior{{"h1", "etl", "r1", "load", -time.Minute}},
			run:    prior{key: "h2", dag: "etl", run: "r1", task: "load"},
			limits: incident.ActionLimits{}, wantNew: true,
		},
		{
			name:   "an existing run is returned when limits are used up",
			prior:  []prior{{"i1", "etl", "r1", "load", -time.Minute}},
			run:    prior{key: "i1", dag: "etl", run: "r1", task: "load"},
			limits: incident.ActionLimits{PerTaskInstance: 1, PerDagPerDay: 1, RateActions: 1, RateWindow: time.Hour},
		},
		{
			name:   "a refused run leaves its approval approved",
			prior:  []prior{{"j1", "etl", "r1", "load", -time.Minute}},
			run:    prior{key: "j2", dag: "etl", run: "r1", task: "load"},
			limits: incident.ActionLimits{PerTaskInstance: 1}, approval: true, wantErr: store.ErrLimit,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two days on, earlier cases' runs fall outside every window.
			h.Clock.Advance(48 * time.Hour)
			now := h.Clock.Now()
			inc := fmt.Sprintf("inc_lim%d", i)
			for _, p := range tt.prior {
				h.Clock.Advance(p.at)
				r := ActionRun(inc, p.key)
				r.DagID, r.RunID, r.TaskID = p.dag, p.run, p.task
				_, ok, err := h.Store.ActionBegin(ctx, r)
				require.NoError(t, err)
				require.True(t, ok)
				h.Clock.Advance(-p.at)
			}
			require.Equal(t, now, h.Clock.Now())
			r := ActionRun(inc, tt.run.key)
			r.DagID, r.RunID, r.TaskID = tt.run.dag, tt.run.run, tt.run.task
			lim := tt.limits
			r.Limits = &lim
			var ap *incident.Approval
			if tt.approval {
				ap = approved(ctx, t, h, inc, "klim"+tt.run.key)
				r.ApprovalID = ap.ID
			}
			chain := chainLen(ctx, t, h)

			got, begun, err := h.Store.ActionBegin(ctx, r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				_, err = h.Store.ActionGet(ctx, tt.run.key)
				require.ErrorIs(t, err, store.ErrNotFound, "a refused run is not stored")
				require.Equal(t, chain, chainLen(ctx, t, h), "a refused run audits nothing")
				if ap != nil {
					stored, err := h.Store.ApprovalGet(ctx, ap.ID)
					require.NoError(t, err)
					require.Equal(t, incident.ApprovalApproved, stored.Status)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantNew, begun)
			require.Equal(t, tt.run.key, got.IdempotencyKey)
			if !tt.wantNew {
				require.Equal(t, 2, got.Attempts, "a repeated begin is counted")
				require.Equal(t, chain, chainLen(ctx, t, h), "a repeated begin audits nothing")
				stored, err := h.Store.ActionGet(ctx, tt.run.key)
				require.NoError(t, err)
				require.Equal(t, got, stored)
			}
		})
	}
}

func testActionBeginLimitsConcurrent(t *testing.T, h *Harness) {
	ctx := context.Background()
	const n, limit = 50, 7
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		begun, limited int
		errs           []error
	)
	for i := range n {
		wg.Go(func() {
			r := ActionRun("inc_rate", fmt.Sprintf("rate-%d", i))
			r.TryNumber = i + 1
			r.Limits = &incident.ActionLimits{RateActions: limit, RateWindow: time.Hour}
			_, ok, err := h.Store.ActionBegin(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, store.ErrLimit):
				limited++
			case err != nil:
				errs = append(errs, err)
			case ok:
				begun++
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, limit, begun)
	require.Equal(t, n-limit, limited)
	c, err := h.Store.RemediationCounters(ctx, &store.CountersParams{DagID: "etl", RunID: "r1", TaskID: "load", RateWindow: time.Hour})
	require.NoError(t, err)
	require.Equal(t, limit, c.InRateWindow, "the refused runs are not stored")
	started, err := h.Store.AuditList(ctx, &store.AuditListParams{ActionPrefix: "action.started", Limit: store.MaxListLimit})
	require.NoError(t, err)
	require.Len(t, started, limit)
}

func testIncidentTransitionFrom(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name    string
		state   incident.State
		from    incident.State
		to      incident.State
		want    incident.State
		wantErr error
	}{
		{
			name: "from matches", state: incident.StateAwaitingApproval, from: incident.StateAwaitingApproval, to: incident.StateRemediating,
			want: incident.StateRemediating,
		},
		{
			name: "from elsewhere is left alone", state: incident.StateEscalated, from: incident.StateAwaitingApproval, to: incident.StateRemediating,
			want: incident.StateEscalated,
		},
		{
			name: "from elsewhere is not checked against the state machine", state: incident.StateOpen, from: incident.StateRemediating,
			to: incident.StateVerifying, want: incident.StateOpen,
		},
		{
			name: "from matches but the move is not allowed", state: incident.StateInvestigating, from: incident.StateInvestigating,
			to: incident.StateVerifying, wantErr: incident.ErrTransition,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := incidentIn(ctx, t, h, fmt.Sprintf("from%d", i), tt.state)
			inc, err := h.Store.IncidentGetByID(ctx, inc.ID)
			require.NoError(t, err)
			before := len(transitions(ctx, t, h, inc.ID))
			got, err := h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{
				ID: inc.ID, From: tt.from, To: tt.to, Actor: "medic", Reason: "remediation",
			})
			stored, gerr := h.Store.IncidentGetByID(ctx, inc.ID)
			require.NoError(t, gerr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, tt.state, stored.State)
				require.Len(t, transitions(ctx, t, h, inc.ID), before)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.State)
			require.Equal(t, tt.want, stored.State)
			moves := transitions(ctx, t, h, inc.ID)
			if tt.want == tt.state {
				require.Equal(t, inc, got, "an incident left alone is returned unchanged")
				require.Len(t, moves, before, "an incident left alone is not audited")
				return
			}
			require.Len(t, moves, before+1)
			require.Equal(t, "medic", moves[len(moves)-1].Actor)
		})
	}
}

func testTriageCompleteRemediate(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name      string
		remediate bool
	}{
		{"remediate", true},
		{"report only", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := incidentIn(ctx, t, h, fmt.Sprintf("tr%d", i), incident.StateInvestigating)
			p := &store.TriageCompleteParams{
				IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionCompleted,
				Summary: "load failed", Severity: incident.SeverityHigh, Remediate: tt.remediate,
			}
			res, err := h.Store.TriageComplete(ctx, p)
			require.NoError(t, err)
			require.True(t, res.Done)
			require.Equal(t, incident.StateInvestigating, res.Incident.State)
			require.NotNil(t, res.Incident.TriagedAt)
			stored, err := h.Store.IncidentGetByID(ctx, inc.ID)
			require.NoError(t, err)
			require.Equal(t, incident.StateInvestigating, stored.State, "remediation decides what comes next")
			require.NotNil(t, stored.TriagedAt)

			again, err := h.Store.TriageComplete(ctx, p)
			require.NoError(t, err)
			require.False(t, again.Done)
			var want []map[string]string
			if tt.remediate {
				want = append(want, map[string]string{"incident_id": inc.ID, "session_id": inc.TriageSessionID})
			}
			requireJobs(ctx, t, h, store.RemediateJobArgs{}.Kind(), "incident_id", inc.ID, want...)
		})
	}
}

func testApprovalExpire(t *testing.T, h *Harness) {
	ctx := context.Background()
	inc := incidentIn(ctx, t, h, "scheduled__expire", incident.StateAwaitingApproval)
	now := time.Now().UTC()
	a := Approval(inc.ID, "clear_failed_tasks:exp", "medic (policy)", now)
	a.ExpiresAt = now.Add(time.Hour)
	a, created, err := h.Store.ApprovalCreate(ctx, a)
	require.NoError(t, err)
	require.True(t, created)
	requireJobs(ctx, t, h, "medic_approval_expiry", "approval_id", a.ID, map[string]string{"approval_id": a.ID})

	got, expired, err := h.Store.ApprovalExpire(ctx, a.ID, now.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, expired, "not yet")
	require.Equal(t, incident.ApprovalPending, got.Status)

	got, expired, err = h.Store.ApprovalExpire(ctx, a.ID, now.Add(2*time.Hour))
	require.NoError(t, err)
	require.True(t, expired)
	require.Equal(t, incident.ApprovalExpired, got.Status)
	moved, err := h.Store.IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	require.Equal(t, incident.StateEscalated, moved.State, "a lapsed proposal goes to a person")

	_, expired, err = h.Store.ApprovalExpire(ctx, a.ID, now.Add(3*time.Hour))
	require.NoError(t, err)
	require.False(t, expired, "once")
	_, _, err = h.Store.ApprovalExpire(ctx, "apr_missing", now)
	require.ErrorIs(t, err, store.ErrNotFound)
}
