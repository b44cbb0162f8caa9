package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		clock := storetest.NewClock(time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC))
		st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: clock.Now})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return &storetest.Harness{
			Store: st, Clock: clock, PendingJobs: st.PendingJobs, SetMemoryEmbedding: st.SetMemoryEmbedding,
			Jobs: st.ListJobs, TamperAudit: st.TamperAudit,
		}
	})
}

func TestSecondProcessIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medic.db")
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	_, err = sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.ErrorContains(t, err, "in use by another medic process")
	require.NoError(t, st.Close())
	st, err = sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err, "the lock is released on close")
	require.NoError(t, st.Close())
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	require.NoError(t, st.PollerMarkSet(ctx, "main", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.NoError(t, st.Close())
	st, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	_, ok, err := st.PollerMarkGet(ctx, "main")
	require.NoError(t, err)
	require.True(t, ok)
}

// TestAuditChainedOnOpen: entries written before the hash chain (migration
// 0006) have no hashes; the next open chains them in id order, and entries
// appended after link to them.
func TestAuditChainedOnOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	for _, action := range []string{"incident.opened", "incident.triaged", "incident.notified"} {
		_, err := st.AuditAppend(ctx, &incident.AuditEntry{Actor: "medic", Action: action, IncidentID: "inc_1"})
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())

	// What a database migrated from schema 5 holds: rows without hashes.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE audit_log SET prev_hash = '', hash = ''`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	_, err = st.AuditAppend(ctx, &incident.AuditEntry{Actor: "alice", Action: "memory.feedback"})
	require.NoError(t, err)
	entries, err := st.AuditList(ctx, &store.AuditListParams{})
	require.NoError(t, err)
	require.Len(t, entries, 4)
	require.Equal(t, audit.GenesisHash, entries[0].PrevHash)
	rep, err := audit.Verify(entries)
	require.NoError(t, err)
	require.True(t, rep.Intact, "%+v", rep)
}
