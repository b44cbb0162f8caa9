package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// Approval returns a pending approval for key, expiring in an hour of now.
func Approval(incidentID, key, requester string, now time.Time) *incident.Approval {
	return &incident.Approval{
		IncidentID: incidentID, Action: "clear_failed_tasks", IdempotencyKey: key, RequestedBy: requester,
		Params:   json.RawMessage(`{"dag_id":"etl"}`),
		Preview:  json.RawMessage(`{"would_clear":["load"]}`),
		Evidence: json.RawMessage(`{"log":"Connection reset"}`),
		Decision: json.RawMessage(`{"outcome":"propose","reasons":[{"rule":"autonomy","result":"cap","detail":"propose"}],` +
			`"gate":{"trust":0.8,"stage1":true}}`),
		ExpiresAt: now.Add(time.Hour),
	}
}

// ActionRun returns an action run for key on etl/r1/load.
func ActionRun(incidentID, key string) *incident.ActionRun {
	return &incident.ActionRun{
		IdempotencyKey: key, IncidentID: incidentID, Action: "clear_failed_tasks", Params: json.RawMessage(`{"dag_id":"etl"}`),
		DagID: "etl", RunID: "r1", TaskID: "load", TryNumber: 1, Request: "POST /dags/etl/clearTaskInstances",
	}
}

// lastAudit returns the newest audit entry and checks the chain holds.
func lastAudit(ctx context.Context, t *testing.T, st store.Store) *incident.AuditEntry {
	t.Helper()
	var (
		v     audit.Verifier
		last  *incident.AuditEntry
		after int64
	)
	for {
		page, err := st.AuditList(ctx, &store.AuditListParams{AfterID: after, Limit: store.MaxListLimit})
		require.NoError(t, err)
		for _, e := range page {
			ok, err := v.Add(e)
			require.NoError(t, err)
			require.True(t, ok, "the audit chain breaks at entry %d", e.ID)
			last = e
		}
		if len(page) < store.MaxListLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	require.NotNil(t, last, "the audit log is empty")
	return last
}

func auditDetailOf(t *testing.T, e *incident.AuditEntry) audit.Detail {
	t.Helper()
	var d audit.Detail
	require.NoError(t, json.Unmarshal(e.Detail, &d))
	return d
}

func testApprovalCreateIdempotent(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	first, created, err := h.Store.ApprovalCreate(ctx, Approval("inc_1", "k1", "medic", now))
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, incident.ApprovalPending, first.Status)
	require.Equal(t, now, first.CreatedAt)
	e := lastAudit(ctx, t, h.Store)
	require.Equal(t, "approval.requested", e.Action)
	require.Equal(t, "inc_1", e.IncidentID)
	d := auditDetailOf(t, e)
	require.Equal(t, "propose", d.Decision)
	require.Equal(t, []string{"autonomy: cap: propose"}, d.Reasons)
	require.Equal(t, map[string]float64{"trust": 0.8}, d.Gate)
	require.Equal(t, first.ID, d.Update["approval_id"])

	again, created, err := h.Store.ApprovalCreate(ctx, Approval("inc_1", "k1", "medic", now))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, again)
	got, err := h.Store.ApprovalGet(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)

	// Once the pending one lapsed, the same key asks afresh.
	h.Clock.Advance(2 * time.Hour)
	fresh, created, err := h.Store.ApprovalCreate(ctx, Approval("inc_1", "k1", "medic", h.Clock.Now()))
	require.NoError(t, err)
	require.True(t, created)
	require.NotEqual(t, first.ID, fresh.ID)
	old, err := h.Store.ApprovalGet(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, incident.ApprovalExpired, old.Status)

	_, _, err = h.Store.ApprovalCreate(ctx, &incident.Approval{IncidentID: "inc_1"})
	require.ErrorIs(t, err, incident.ErrInvalid)
}

func testApprovalDecide(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name      string
		approve   bool
		by        string
		forbid    bool
		advance   time.Duration
		want      incident.ApprovalStatus // "" when refused
		wantErr   error
		errSubstr string
	}{
		{name: "approve", approve: true, by: "alice", forbid: true, want: incident.ApprovalApproved},
		{name: "reject", by: "alice", forbid: true, want: incident.ApprovalRejected},
		{name: "self approval refused in production", approve: true, by: "bob", forbid: true, wantErr: store.ErrForbidden, errSubstr: "requested by bob"},
		{name: "self approval allowed elsewhere", approve: true, by: "bob", want: incident.ApprovalApproved},
		{name: "self rejection allowed", by: "bob", forbid: true, want: incident.ApprovalRejected},
		{name: "expired", approve: true, by: "alice", advance: time.Hour, wantErr: store.ErrConflict, errSubstr: "expired at"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := h.Clock.Now()
			a, _, err := h.Store.ApprovalCreate(ctx, Approval("inc_d", "kd"+string(rune('a'+i)), "bob", now))
			require.NoError(t, err)
			got, err := h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{
				ID: a.ID, Approve: tt.approve, By: tt.by, Role: "operator", Reason: "looks right",
				Now: now.Add(tt.advance), ForbidSelfApproval: tt.forbid,
			})
			stored, gerr := h.Store.ApprovalGet(ctx, a.ID)
			require.NoError(t, gerr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.errSubstr)
				require.Nil(t, got)
				if tt.advance > 0 {
					require.Equal(t, incident.ApprovalExpired, stored.Status, "the expiry is stored")
					require.Equal(t, "approval.expired", lastAudit(ctx, t, h.Store).Action)
				} else {
					require.Equal(t, incident.ApprovalPending, stored.Status)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Status)
			require.Equal(t, tt.by, got.DecidedBy)
			require.Equal(t, "operator", got.DecidedRole)
			require.Equal(t, got, stored)
			e := lastAudit(ctx, t, h.Store)
			require.Equal(t, "approval."+string(tt.want), e.Action)
			require.Equal(t, tt.by, e.Actor)
			d := auditDetailOf(t, e)
			require.Equal(t, tt.by, d.Approver)
			require.Equal(t, "operator", d.Update["role"])
			require.Equal(t, "looks right", d.Reason)
		})
	}
}

func testApprovalReplay(t *testing.T, h *Harness) {
	ctx := context.Background()
	a, _, err := h.Store.ApprovalCreate(ctx, Approval("inc_r", "kr", "medic", h.Clock.Now()))
	require.NoError(t, err)
	p := &store.ApprovalDecideParams{ID: a.ID, Approve: true, By: "alice", Role: "operator"}
	_, err = h.Store.ApprovalDecide(ctx, p)
	require.NoError(t, err)
	before := len(auditChain(t, h.Store))
	for _, approve := range []bool{true, false} {
		p.Approve, p.By = approve, "carol"
		_, err = h.Store.ApprovalDecide(ctx, p)
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, "already approved by alice at")
	}
	require.Len(t, auditChain(t, h.Store), before, "a refused replay audits nothing")
	_, err = h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: "apr_missing", By: "alice"})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testApprovalList(t *testing.T, h *Harness) {
	ctx := context.Background()
	var ids []string
	for i, inc := range []string{"inc_a", "inc_b", "inc_a"} {
		a, _, err := h.Store.ApprovalCreate(ctx, Approval(inc, "kl"+string(rune('0'+i)), "medic", h.Clock.Now()))
		require.NoError(t, err)
		ids = append(ids, a.ID)
		h.Clock.Advance(time.Second)
	}
	_, err := h.Store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: ids[0], By: "alice", Role: "operator"})
	require.NoError(t, err)
	tests := []struct {
		name string
		p    store.ApprovalListParams
		want []string
	}{
		{"all newest first", store.ApprovalListParams{}, []string{ids[2], ids[1], ids[0]}},
		{"pending", store.ApprovalListParams{Status: incident.ApprovalPending}, []string{ids[2], ids[1]}},
		{"by incident", store.ApprovalListParams{IncidentID: "inc_a"}, []string{ids[2], ids[0]}},
		{"both", store.ApprovalListParams{IncidentID: "inc_a", Status: incident.ApprovalRejected}, []string{ids[0]}},
		{"limit", store.ApprovalListParams{Limit: 1}, []string{ids[2]}},
		{"none", store.ApprovalListParams{IncidentID: "inc_z"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Store.ApprovalList(ctx, &tt.p)
			require.NoError(t, err)
			gotIDs := []string{}
			for _, a := range got {
				gotIDs = append(gotIDs, a.ID)
			}
			require.Equal(t, tt.want, gotIDs)
		})
	}
}

func testActionLifecycle(t *testing.T, h *Harness) {
	ctx := context.Background()
	run, begun, err := h.Store.ActionBegin(ctx, ActionRun("inc_1", "run-k1"))
	require.NoError(t, err)
	require.True(t, begun)
	require.Equal(t, incident.RunStarted, run.Status)
	require.Equal(t, incident.VerificationPending, run.Verification)
	require.Equal(t, 1, run.Attempts)
	require.Equal(t, "action.started", lastAudit(ctx, t, h.Store).Action)

	again, begun, err := h.Store.ActionBegin(ctx, ActionRun("inc_1", "run-k1"))
	require.NoError(t, err)
	require.False(t, begun, "a redelivery never acts twice")
	require.Equal(t, 2, again.Attempts)
	require.Equal(t, run.StartedAt, again.StartedAt)

	h.Clock.Advance(time.Second)
	done, err := h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "run-k1", Status: incident.RunSucceeded, Response: "200 OK"})
	require.NoError(t, err)
	require.Equal(t, incident.RunSucceeded, done.Status)
	require.Equal(t, h.Clock.Now(), *done.FinishedAt)
	e := lastAudit(ctx, t, h.Store)
	require.Equal(t, "action.finished", e.Action)
	require.Equal(t, &audit.Execution{Request: "POST /dags/etl/clearTaskInstances", Response: "200 OK"}, auditDetailOf(t, e).Executed)
	_, err = h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "run-k1", Status: incident.RunFailed})
	require.ErrorIs(t, err, store.ErrConflict)

	verified, err := h.Store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{
		IdempotencyKey: "run-k1", Verification: incident.VerificationVerified, Detail: "task succeeded",
	})
	require.NoError(t, err)
	require.Equal(t, incident.VerificationVerified, verified.Verification)
	e = lastAudit(ctx, t, h.Store)
	require.Equal(t, "action.verified", e.Action)
	require.Equal(t, &audit.Verification{Outcome: "verified", Detail: "task succeeded"}, auditDetailOf(t, e).Verification)
	_, err = h.Store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{IdempotencyKey: "run-k1", Verification: incident.VerificationFailed})
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := h.Store.ActionGet(ctx, "run-k1")
	require.NoError(t, err)
	require.Equal(t, verified, got)

	invalid := []struct {
		name string
		fn   func() error
		want error
	}{
		{"begin without target", func() error {
			_, _, err := h.Store.ActionBegin(ctx, &incident.ActionRun{IdempotencyKey: "x", IncidentID: "i", Action: "a"})
			return err
		}, incident.ErrInvalid},
		{"finish as started", func() error {
			_, err := h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "run-k1", Status: incident.RunStarted})
			return err
		}, incident.ErrInvalid},
		{"verify as pending", func() error {
			_, err := h.Store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{IdempotencyKey: "run-k1", Verification: incident.VerificationPending})
			return err
		}, incident.ErrInvalid},
		{"finish unknown", func() error {
			_, err := h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "nope", Status: incident.RunFailed})
			return err
		}, store.ErrNotFound},
		{"get unknown", func() error { _, err := h.Store.ActionGet(ctx, "nope"); return err }, store.ErrNotFound},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) { require.ErrorIs(t, tt.fn(), tt.want) })
	}
}

func testActionBeginConcurrent(t *testing.T, h *Harness) {
	ctx := context.Background()
	const n = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		begun int
		errs  []error
	)
	for range n {
		wg.Go(func() {
			_, ok, err := h.Store.ActionBegin(ctx, ActionRun("inc_c", "run-conc"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				begun++
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, 1, begun)
	got, err := h.Store.ActionGet(ctx, "run-conc")
	require.NoError(t, err)
	require.Equal(t, n, got.Attempts)
	started, err := h.Store.AuditList(ctx, &store.AuditListParams{ActionPrefix: "action.started", Limit: store.MaxListLimit})
	require.NoError(t, err)
	require.Len(t, started, 1)
}

func testRemediationCounters(t *testing.T, h *Harness) {
	ctx := context.Background()
	begin := func(key, dag, run, task string, try int) {
		r := ActionRun("inc_1", key)
		r.DagID, r.RunID, r.TaskID, r.TryNumber = dag, run, task, try
		_, ok, err := h.Store.ActionBegin(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	// The clock starts at 02:00 UTC: yesterday's run does not count today.
	h.Clock.Advance(-3 * time.Hour)
	begin("c0", "etl", "r0", "load", 1)
	h.Clock.Advance(3 * time.Hour)
	begin("c1", "etl", "r1", "load", 1)
	h.Clock.Advance(time.Minute)
	begin("c2", "etl", "r1", "load", 2)
	begin("c3", "other", "r9", "x", 1)
	_, err := h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "c1", Status: incident.RunSucceeded})
	require.NoError(t, err)
	_, err = h.Store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{IdempotencyKey: "c1", Verification: incident.VerificationFailed})
	require.NoError(t, err)
	now := h.Clock.Now()
	tests := []struct {
		name string
		p    store.CountersParams
		want store.RemediationCounts
	}{
		{
			"task instance, any try",
			store.CountersParams{DagID: "etl", RunID: "r1", TaskID: "load", Now: now, RateWindow: 30 * time.Second, IncidentID: "inc_2", Action: "clear_failed_tasks"},
			store.RemediationCounts{TaskInstanceAttempts: 2, DagToday: 2, InRateWindow: 2},
		},
		{
			"one try, wider window, prior failure",
			store.CountersParams{DagID: "etl", RunID: "r1", TaskID: "load", TryNumber: 2, Now: now, RateWindow: 2 * time.Minute, IncidentID: "inc_1", Action: "clear_failed_tasks"},
			store.RemediationCounts{TaskInstanceAttempts: 1, DagToday: 2, InRateWindow: 3, PriorFailedVerification: true},
		},
		{
			"another action, no window",
			store.CountersParams{DagID: "other", RunID: "r9", TaskID: "x", Now: now, IncidentID: "inc_1", Action: "trigger_dag_run"},
			store.RemediationCounts{TaskInstanceAttempts: 1, DagToday: 1},
		},
		{"nothing", store.CountersParams{DagID: "none", RunID: "r", Now: now, RateWindow: time.Hour}, store.RemediationCounts{InRateWindow: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Store.RemediationCounters(ctx, &tt.p)
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
		})
	}
}

func testKillSwitch(t *testing.T, h *Harness) {
	ctx := context.Background()
	k, err := h.Store.KillSwitchGet(ctx)
	require.NoError(t, err)
	require.Equal(t, &store.KillSwitch{}, k, "off when never set")
	steps := []struct {
		p      store.KillSwitchSetParams
		action string
	}{
		{store.KillSwitchSetParams{On: true, By: "alice", Reason: "warehouse migration"}, "actions.paused"},
		{store.KillSwitchSetParams{On: true, By: "bob", Reason: "still migrating"}, "actions.paused"},
		{store.KillSwitchSetParams{On: false, By: "alice"}, "actions.resumed"},
	}
	for _, st := range steps {
		h.Clock.Advance(time.Minute)
		set, err := h.Store.KillSwitchSet(ctx, &st.p)
		require.NoError(t, err)
		want := &store.KillSwitch{On: st.p.On, By: st.p.By, Reason: st.p.Reason, At: h.Clock.Now()}
		require.Equal(t, want, set)
		got, err := h.Store.KillSwitchGet(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got)
		e := lastAudit(ctx, t, h.Store)
		require.Equal(t, st.action, e.Action)
		require.Equal(t, st.p.By, e.Actor)
	}
	_, err = h.Store.KillSwitchSet(ctx, &store.KillSwitchSetParams{On: true})
	require.ErrorIs(t, err, incident.ErrInvalid)
}
