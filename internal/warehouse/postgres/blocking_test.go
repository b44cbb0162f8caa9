package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
)

const holderSecret = "hunter2hunter2hunter2"

// TestProfileBlockingLock: session A holds ACCESS EXCLUSIVE on a table,
// session B's UPDATE queues behind it, and the profiler, logged in as the
// low-privilege role, reports the pair with the wait event, the lock modes
// and both queries, redacted.
func TestProfileBlockingLock(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{LongRunning: time.Millisecond})
	table := pgx.Identifier{b.env.Schema, "orders"}.Sanitize()
	b.env.Exec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, note text)")
	b.env.Exec(t, "INSERT INTO "+table+" VALUES (1, 'a'), (2, 'b')")
	ctx := ctxWithin(t, 60*time.Second)

	holder := b.env.Conn(t, b.env.AdminURL)
	holderPID := int32(holder.PgConn().PID())
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	// The holder's last query, which pg_stat_activity shows, carries a
	// secret literal.
	_, err = tx.Exec(ctx, "SELECT 'password="+holderSecret+"' AS note")
	require.NoError(t, err)

	waiter := b.env.Conn(t, b.env.AdminURL)
	waiterPID := int32(waiter.PgConn().PID())
	_, err = waiter.Exec(ctx, "SET statement_timeout = '30s'")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "UPDATE "+table+" SET note = 'api_key="+holderSecret+"' WHERE id = 1")
		done <- err
	}()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		require.NoError(t, tx.Rollback(ctx))
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("the blocked UPDATE did not finish after the lock was released")
		}
	}
	defer release()

	require.Eventually(t, func() bool {
		var wait *string
		err := b.env.Admin.QueryRow(ctx, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", waiterPID).Scan(&wait)
		return err == nil && wait != nil && *wait == "Lock"
	}, 10*time.Second, 20*time.Millisecond, "the UPDATE never waited on the lock")

	target := warehouse.TableName{Schema: b.env.Schema, Name: "orders"}
	p, err := b.conn.Profile(ctx, warehouse.Target{
		Tables:    []warehouse.TableName{target},
		ErrorText: "psycopg2.errors.LockNotAvailable: canceling statement due to lock timeout",
		FailedAt:  time.Now(),
	})
	require.NoError(t, err)
	require.Empty(t, p.Errors)
	require.Equal(t, b.env.Role, p.Server.User)
	require.NotEmpty(t, p.Server.Settings)

	t.Run("blocking pair", func(t *testing.T) {
		pair := findPair(p.Blocking, waiterPID, holderPID)
		require.NotNil(t, pair, "no pair %d blocked by %d in %+v", waiterPID, holderPID, p.Blocking)
		require.Equal(t, "Lock", pair.Blocked.WaitEventType)
		require.Equal(t, "relation", pair.Blocked.WaitEvent)
		require.Equal(t, "relation", pair.LockType)
		require.Equal(t, "RowExclusiveLock", pair.Mode)
		require.Equal(t, &target, pair.Relation)
		require.Contains(t, pair.BlockerHolds, "AccessExclusiveLock on "+target.String())
		require.Equal(t, "idle in transaction", pair.Blocking.State)
		require.Positive(t, pair.WaitedSec)
		require.True(t, pair.TouchesTarget)
		require.Contains(t, pair.Blocked.Query, "UPDATE")
		require.Contains(t, pair.Blocking.Query, "[REDACTED")
		for _, text := range []string{pair.Blocked.Query, pair.Blocking.Query, pair.Evidence} {
			require.NotContains(t, text, holderSecret)
		}
		require.Contains(t, pair.Evidence, "blocked by pid")
		require.Contains(t, pair.Evidence, "AccessExclusiveLock")
	})
	t.Run("lock wait", func(t *testing.T) {
		var lw *warehouse.LockWait
		for i := range p.LockWaits {
			if p.LockWaits[i].PID == waiterPID {
				lw = &p.LockWaits[i]
			}
		}
		require.NotNil(t, lw)
		require.Equal(t, []int32{holderPID}, lw.BlockedBy)
		require.NotNil(t, lw.WaitStart)
		require.True(t, lw.TouchesTarget)
	})
	t.Run("activity and long-running", func(t *testing.T) {
		for _, pid := range []int32{holderPID, waiterPID} {
			s := findSession(p.Activity, pid)
			require.NotNil(t, s, "pid %d not in activity", pid)
			require.True(t, s.RunningAtFailure)
			require.True(t, s.TouchesTarget)
			require.NotContains(t, s.Query, holderSecret)
			require.NotContains(t, s.Evidence, holderSecret)
		}
		require.NotNil(t, findSession(p.LongRunning, holderPID), "the open transaction is long-running at a 1ms threshold")
	})
	t.Run("table and timeouts", func(t *testing.T) {
		require.Len(t, p.Tables, 1)
		require.Equal(t, target, p.Tables[0].Table)
		require.Len(t, p.Timeouts, 1)
		require.Equal(t, warehouse.TimeoutLock, p.Timeouts[0].Kind)
		require.Contains(t, p.Summary(), "blocked session pair")
	})

	release()
	p2, err := b.conn.Profile(ctx, warehouse.Target{Tables: []warehouse.TableName{target}})
	require.NoError(t, err)
	require.Nil(t, findPair(p2.Blocking, waiterPID, holderPID), "the pair is gone once the lock is released")
}

func findPair(pairs []warehouse.BlockingPair, blocked, blocking int32) *warehouse.BlockingPair {
	for i := range pairs {
		if pairs[i].Blocked.PID == blocked && pairs[i].Blocking.PID == blocking {
			return &pairs[i]
		}
	}
	return nil
}

func findSession(ss []warehouse.Session, pid int32) *warehouse.Session {
	for i := range ss {
		if ss[i].PID == pid {
			return &ss[i]
		}
	}
	return nil
}

// TestProfileRowLock: a row lock (UPDATE behind UPDATE) waits on the
// holder's transaction id; the pair still names the table, from the
// waiter's tuple lock.
func TestProfileRowLock(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	table := pgx.Identifier{b.env.Schema, "rows"}.Sanitize()
	b.env.Exec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, n int)")
	b.env.Exec(t, "INSERT INTO "+table+" VALUES (1, 0)")
	ctx := ctxWithin(t, 60*time.Second)

	holder := b.env.Conn(t, b.env.AdminURL)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "UPDATE "+table+" SET n = n + 1 WHERE id = 1")
	require.NoError(t, err)

	waiter := b.env.Conn(t, b.env.AdminURL)
	waiterPID := int32(waiter.PgConn().PID())
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "SET statement_timeout = '30s'; UPDATE "+table+" SET n = n + 1 WHERE id = 1")
		done <- err
	}()
	defer func() {
		require.NoError(t, tx.Rollback(ctx))
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("the blocked UPDATE did not finish")
		}
	}()
	require.Eventually(t, func() bool {
		var wait *string
		err := b.env.Admin.QueryRow(ctx, "SELECT wait_event FROM pg_stat_activity WHERE pid = $1", waiterPID).Scan(&wait)
		return err == nil && wait != nil && *wait == "transactionid"
	}, 10*time.Second, 20*time.Millisecond)

	p, err := b.conn.Profile(ctx, warehouse.Target{SQL: "UPDATE " + table + " SET n = 0"})
	require.NoError(t, err)
	pair := findPair(p.Blocking, waiterPID, int32(holder.PgConn().PID()))
	require.NotNil(t, pair)
	require.Equal(t, "transactionid", pair.LockType)
	require.Equal(t, "ShareLock", pair.Mode)
	require.Equal(t, &warehouse.TableName{Schema: b.env.Schema, Name: "rows"}, pair.Relation)
	require.Contains(t, pair.BlockerHolds, "ExclusiveLock on its transaction")
	require.True(t, pair.TouchesTarget)
	require.False(t, errors.Is(context.Cause(ctx), context.DeadlineExceeded))
}
