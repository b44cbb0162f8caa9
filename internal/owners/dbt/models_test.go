package dbt_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners/dbt"
)

func TestModelForTask(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest.json")
	tests := []struct {
		task    string
		want    string // unique_id, "" for none
		because string
	}{
		{"transform.orders.run", "model.shopfront.orders", "cosmos task group convention <model>.run"},
		{"orders.test", "model.shopfront.orders", "<model>.test"},
		{"revenue_daily_run", "model.shopfront.revenue_daily", "cosmos convention <model>_run"},
		{"payments_summary_build", "model.shopfront.payments_summary", "<model>_build"},
		{"dbt_run_customers", "model.shopfront.customers", "convention dbt_run_<model>"},
		{"dbt_stg_orders", "model.shopfront.stg_orders", "convention dbt_<model>"},
		{"raw_countries_seed", "seed.shopfront.raw_countries", "<model>_seed"},
		{"marts.orders", "model.shopfront.orders", "task id is the model name"},
		{"not_null_orders_order_id", "", ""}, // a test is not something a task builds
		{"load_orders_to_s3", "", ""},
		{"run", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		got, ok := m.ModelForTask(tt.task)
		if tt.want == "" {
			require.False(t, ok, tt.task)
			continue
		}
		require.True(t, ok, tt.task)
		require.Equal(t, tt.want, got.UniqueID, tt.task)
		require.Equal(t, dbt.ByTaskID, got.How)
		require.Contains(t, got.Evidence, tt.because, tt.task)
	}
	var none *dbt.Manifest
	_, ok := none.ModelForTask("orders_run")
	require.False(t, ok)
}

func TestModelsInError(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest.json")
	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "dbt database error",
			text: "12:01:03  Database Error in model orders (models/marts/orders.sql)\n  relation \"staging.stg_orders\" does not exist",
			want: []string{"model.shopfront.orders"},
		},
		{
			name: "several, in order, once each",
			text: "Compilation Error in model revenue_daily (models/marts/revenue_daily.sql)\n" +
				"Runtime Error in model customers (models/marts/customers.sql)\n" +
				"Database Error in model revenue_daily (models/marts/revenue_daily.sql)",
			want: []string{"model.shopfront.revenue_daily", "model.shopfront.customers"},
		},
		{
			name: "failed test points at its model",
			text: "Failure in test not_null_orders_order_id (models/marts/schema.yml)\n  Got 3 results, configured to fail if != 0",
			want: []string{"model.shopfront.orders"},
		},
		{
			name: "unique id",
			text: "cosmos: node model.shopfront.payments_summary failed",
			want: []string{"model.shopfront.payments_summary"},
		},
		{name: "unknown model", text: "Database Error in model invoices (models/marts/invoices.sql)"},
		{name: "no model", text: "psycopg2.OperationalError: could not connect to server"},
		{name: "empty", text: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := m.ModelsInError(tt.text)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.UniqueID)
				require.Equal(t, dbt.ByErrorText, r.How)
				require.NotEmpty(t, r.Evidence)
			}
			require.Equal(t, tt.want, ids)
		})
	}
}

func TestModelsInErrorIsBounded(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest.json")
	// The model is named only at the start of a text longer than the scan
	// window, followed by a flood of the same name: only the tail is read,
	// and each model comes back once.
	head := "Database Error in model orders (models/marts/orders.sql)\n"
	flood := strings.Repeat("x", 1<<20) + strings.Repeat("in model customers (models/marts/customers.sql)\n", 1000)
	got := m.ModelsInError(head + flood)
	require.Len(t, got, 1)
	require.Equal(t, "model.shopfront.customers", got[0].UniqueID)
}

func TestLookup(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest.json")
	n, ok := m.Lookup("orders")
	require.True(t, ok)
	require.Equal(t, "model.shopfront.orders", n.UniqueID)
	n, ok = m.Lookup("model.shopfront.customers")
	require.True(t, ok)
	require.Equal(t, "customers", n.Name)
	_, ok = m.Lookup("not_null_orders_order_id")
	require.False(t, ok, "tests are found by unique_id only")
	_, ok = m.Lookup("invoices")
	require.False(t, ok)
}
