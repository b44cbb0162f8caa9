package dbt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners/dbt"
)

func TestDownstream(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest.json")
	tests := []struct {
		name      string
		roots     []string
		limit     int
		want      []dbt.Reached
		truncated bool
	}{
		{
			name: "transitive, nearest first, each once", roots: []string{"model.shopfront.orders"}, limit: 100,
			want: []dbt.Reached{
				{ID: "exposure.shopfront.courier_app", Depth: 1, Parent: "model.shopfront.orders"},
				{ID: "model.shopfront.revenue_daily", Depth: 1, Parent: "model.shopfront.orders"},
				{ID: "test.shopfront.not_null_orders_order_id.5a1c2b3d4e", Depth: 1, Parent: "model.shopfront.orders"},
				{ID: "exposure.shopfront.finance_dashboard", Depth: 2, Parent: "model.shopfront.revenue_daily"},
			},
		},
		{
			name: "diamond", roots: []string{"model.shopfront.stg_payments"}, limit: 100,
			want: []dbt.Reached{
				{ID: "model.shopfront.orders", Depth: 1, Parent: "model.shopfront.stg_payments"},
				{ID: "model.shopfront.payments_summary", Depth: 1, Parent: "model.shopfront.stg_payments"},
				{ID: "exposure.shopfront.courier_app", Depth: 2, Parent: "model.shopfront.orders"},
				{ID: "model.shopfront.revenue_daily", Depth: 2, Parent: "model.shopfront.orders"},
				{ID: "test.shopfront.not_null_orders_order_id.5a1c2b3d4e", Depth: 2, Parent: "model.shopfront.orders"},
				{ID: "exposure.shopfront.finance_dashboard", Depth: 2, Parent: "model.shopfront.payments_summary"},
			},
		},
		{
			name: "bounded", roots: []string{"model.shopfront.stg_payments"}, limit: 2, truncated: true,
			want: []dbt.Reached{
				{ID: "model.shopfront.orders", Depth: 1, Parent: "model.shopfront.stg_payments"},
				{ID: "model.shopfront.payments_summary", Depth: 1, Parent: "model.shopfront.stg_payments"},
			},
		},
		{
			name:  "a root downstream of another root is not repeated",
			roots: []string{"model.shopfront.revenue_daily", "model.shopfront.orders"}, limit: 100,
			want: []dbt.Reached{
				{ID: "exposure.shopfront.finance_dashboard", Depth: 1, Parent: "model.shopfront.revenue_daily"},
				{ID: "exposure.shopfront.courier_app", Depth: 1, Parent: "model.shopfront.orders"},
				{ID: "test.shopfront.not_null_orders_order_id.5a1c2b3d4e", Depth: 1, Parent: "model.shopfront.orders"},
			},
		},
		{name: "leaf", roots: []string{"exposure.shopfront.churn_notebook"}, limit: 100},
		{name: "unknown root", roots: []string{"model.nope.x"}, limit: 100},
		{name: "no limit, no walk", roots: []string{"model.shopfront.orders"}, limit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, truncated, err := m.Downstream(context.Background(), tt.roots, tt.limit)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.truncated, truncated)
		})
	}
}

func TestDownstreamCycleAndSize(t *testing.T) {
	t.Parallel()
	// A child map no dbt would write: a cycle, a self-loop and a long chain.
	cm := map[string][]string{
		"model.p.a": {"model.p.b", "model.p.a"},
		"model.p.b": {"model.p.c"},
		"model.p.c": {"model.p.a", "model.p.chain0"},
	}
	for i := range 50_000 {
		cm[fmt.Sprintf("model.p.chain%d", i)] = []string{fmt.Sprintf("model.p.chain%d", i+1)}
	}
	m := &dbt.Manifest{ChildMap: cm}

	got, truncated, err := m.Downstream(context.Background(), []string{"model.p.a"}, 3)
	require.NoError(t, err)
	require.True(t, truncated)
	require.Equal(t, []string{"model.p.b", "model.p.c", "model.p.chain0"}, ids(got))

	got, truncated, err = m.Downstream(context.Background(), []string{"model.p.a"}, 1_000_000)
	require.NoError(t, err)
	require.False(t, truncated)
	require.Len(t, got, 2+50_001)
	require.Equal(t, 50_003, got[len(got)-1].Depth)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = m.Downstream(ctx, []string{"model.p.a"}, 1_000_000)
	require.ErrorIs(t, err, context.Canceled)

	var nilManifest *dbt.Manifest
	got, truncated, err = nilManifest.Downstream(context.Background(), []string{"model.p.a"}, 10)
	require.NoError(t, err)
	require.False(t, truncated)
	require.Empty(t, got)
}

func ids(rs []dbt.Reached) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"model.shop.orders": "model", "exposure.shop.d": "exposure", "test.shop.x.1": "test", "weird": "weird",
	} {
		require.Equal(t, want, dbt.Kind(in), in)
	}
}
