package warehouse_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
)

type tn = warehouse.TableName

func TestTargets(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sql, errText string
		want         []tn
	}{
		"plain sql": {
			sql:  `INSERT INTO mart.daily_sales SELECT * FROM staging.sales s JOIN dims.store d ON d.id = s.store_id`,
			want: []tn{{"mart", "daily_sales"}, {"staging", "sales"}, {"dims", "store"}},
		},
		"cte names skipped": {
			sql:  `WITH recent AS (SELECT * FROM raw.events) SELECT * FROM recent`,
			want: []tn{{"raw", "events"}},
		},
		"catalogs skipped": {
			sql:  `SELECT * FROM pg_catalog.pg_class, information_schema.tables, app.t`,
			want: []tn{{"app", "t"}},
		},
		"dbt model": {
			sql:  "{{ config(materialized='table') }}\nselect o.id from {{ ref('stg_orders') }} o join {{ source('shop', 'customers') }} c on c.id = o.cid join analytics.fx f on true {% if is_incremental() %} where o.ts > now() {% endif %}",
			want: []tn{{"", "stg_orders"}, {"", "customers"}, {"analytics", "fx"}},
		},
		"dbt two-arg ref": {
			sql:  `select * from {{ ref('pkg', 'model_a') }}`,
			want: []tn{{"", "model_a"}},
		},
		"pg relation does not exist": {
			errText: `psycopg2.errors.UndefinedTable: relation "staging.orders" does not exist`,
			want:    []tn{{"staging", "orders"}},
		},
		"pg permission denied": {
			errText: `ERROR:  permission denied for table payments`,
			want:    []tn{{"", "payments"}},
		},
		"pg null in column of relation": {
			errText: `null value in column "amount" of relation "ledger" violates not-null constraint`,
			want:    []tn{{"", "ledger"}},
		},
		"pg lock on relation": {
			errText: `could not obtain lock on relation "mart.facts"`,
			want:    []tn{{"mart", "facts"}},
		},
		"quoted identifiers": {
			errText: `relation "My Schema.Odd" does not exist; table "a"."b" is locked`,
			want:    []tn{{"My Schema", "Odd"}, {"", "a"}},
		},
		"snowflake object": {
			errText: `SQL compilation error: Object 'PROD.RAW.EVENTS' does not exist or not authorized.`,
			want:    []tn{{"RAW", "EVENTS"}},
		},
		"bigquery table": {
			errText: `404 Not found: Table my-proj:analytics.sessions was not found in location US`,
			want:    []tn{{"analytics", "sessions"}},
		},
		"backticks": {
			errText: "Table `warehouse.orders` doesn't exist",
			want:    []tn{{"warehouse", "orders"}},
		},
		"unqualified prose ignored": {
			errText: `the table does not exist and the relation was dropped`,
		},
		"sql and error merged": {
			sql:     `SELECT * FROM orders`,
			errText: `relation "public.orders" does not exist`,
			want:    []tn{{"public", "orders"}},
		},
		"unparsable sql falls back to error": {
			sql:     `SELEC broken FROM`,
			errText: `relation "x.y" does not exist`,
			want:    []tn{{"x", "y"}},
		},
		"nothing": {},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := warehouse.Targets(c.sql, c.errText)
			if len(c.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestTargetsCapped(t *testing.T) {
	t.Parallel()
	var errText, sql strings.Builder
	sql.WriteString("SELECT 1 FROM s.first")
	for i := range 100 {
		fmt.Fprintf(&errText, "relation \"e.t%d\" does not exist\n", i)
		fmt.Fprintf(&sql, ", s.t%d", i)
	}
	cases := []struct {
		name, sql, err string
		first          tn
	}{
		{"error text", "", errText.String(), tn{"e", "t0"}},
		{"sql", sql.String(), "", tn{"s", "first"}},
		{"both", sql.String(), errText.String(), tn{"s", "first"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := warehouse.Targets(c.sql, c.err)
			require.Len(t, got, warehouse.MaxTargets)
			require.Equal(t, c.first, got[0])
		})
	}
}

func TestParseTableName(t *testing.T) {
	t.Parallel()
	cases := map[string]tn{
		"t":             {"", "t"},
		"s.t":           {"s", "t"},
		"db.s.t":        {"s", "t"},
		`"My S"."T.x"`:  {"My S", "T.x"},
		"  s.t  ":       {"s", "t"},
		"":              {},
		"s..t":          {"s", "t"},
		`"unterminated`: {"", "unterminated"},
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got := warehouse.ParseTableName(in)
			require.Equal(t, want, got)
			if want.Name != "" && !strings.Contains(want.Name, ".") {
				require.Equal(t, want, warehouse.ParseTableName(got.String()), "String round-trips when parts hold no dots")
			}
		})
	}
}

func FuzzTargets(f *testing.F) {
	f.Add(`SELECT * FROM a.b`, `relation "c.d" does not exist`)
	f.Add(`{{ ref('x') }}`, `permission denied for table y`)
	f.Add(`{{`, "Table `p:d.t`")
	f.Add("SELECT 1\x00", "\xff relation \"")
	f.Fuzz(func(t *testing.T, sql, errText string) {
		got := warehouse.Targets(sql, errText)
		require.LessOrEqual(t, len(got), warehouse.MaxTargets)
		seen := map[warehouse.TableName]bool{}
		for _, g := range got {
			require.NotEmpty(t, g.Name)
			require.False(t, seen[g], "duplicate %v", g)
			seen[g] = true
		}
	})
}
