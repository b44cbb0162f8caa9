package sqlguard_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

func TestRelations(t *testing.T) {
	t.Parallel()
	type rel = sqlguard.Relation
	cases := map[string]struct {
		sql  string
		want []rel
	}{
		"select":   {`SELECT * FROM sales.orders o JOIN customers c ON c.id = o.cid`, []rel{{"sales", "orders"}, {"", "customers"}}},
		"insert":   {`INSERT INTO mart.daily SELECT * FROM staging.events`, []rel{{"mart", "daily"}, {"staging", "events"}}},
		"cte name": {`WITH recent AS (SELECT * FROM raw.events) SELECT * FROM recent`, []rel{{"raw", "events"}}},
		"several":  {`DELETE FROM a.t; UPDATE b.u SET x = 1; SELECT * FROM a.t`, []rel{{"a", "t"}, {"b", "u"}}},
		"ctas":     {`CREATE TABLE mart.x AS SELECT * FROM src.y`, []rel{{"mart", "x"}, {"src", "y"}}},
		"subquery": {`SELECT (SELECT max(id) FROM s.t2) FROM s.t1 WHERE EXISTS (SELECT 1 FROM s.t3)`, []rel{{"s", "t2"}, {"s", "t1"}, {"s", "t3"}}},
		"merge":    {`MERGE INTO d.t USING d.s ON t.id = s.id WHEN MATCHED THEN DELETE`, []rel{{"d", "t"}, {"d", "s"}}},
		"quoted":   {`SELECT * FROM "My Schema"."Odd Table"`, []rel{{"My Schema", "Odd Table"}}},
		"none":     {`SELECT 1`, nil},
		"catalog":  {`SELECT * FROM db.sch.tab`, []rel{{"sch", "tab"}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := sqlguard.Relations(c.sql)
			require.NoError(t, err)
			if len(c.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestRelationsErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sql    string
		reason sqlguard.Reason
	}{
		"jinja":   {`SELECT * FROM {{ ref('orders') }}`, sqlguard.ReasonParse},
		"nul":     {"SELECT * FROM t\x00", sqlguard.ReasonEncoding},
		"garbage": {`this is not sql`, sqlguard.ReasonParse},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := sqlguard.Relations(c.sql)
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, c.reason, rej.Reason)
		})
	}
}

func TestRelationString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rel  sqlguard.Relation
		want string
	}{
		{sqlguard.Relation{Schema: "s", Name: "t"}, "s.t"},
		{sqlguard.Relation{Name: "t"}, "t"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.rel.String())
	}
}
