package dbt_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/owners/dbt"
)

func TestLoadReadsOwnersGroupsExposures(t *testing.T) {
	t.Parallel()
	m, err := dbt.Load(context.Background(), fixture(t, "manifest.json"), dbt.Options{Schema: schema(t)})
	require.NoError(t, err)
	require.True(t, m.Validated)
	require.Empty(t, m.Warnings)
	require.Equal(t, dbt.SchemaV12, m.SchemaVersion)
	require.Equal(t, "shopfront", m.ProjectName)
	require.Equal(t, "1.10.4", m.DbtVersion)
	require.Len(t, m.Nodes, 8)
	require.Len(t, m.Exposures, 3)

	tests := []struct {
		id     string
		owners []string
		tier   string
		group  string
	}{
		{"model.shopfront.orders", []string{"finance-analytics"}, "1", "finance"},
		{"model.shopfront.revenue_daily", []string{"@carol"}, "tier2", ""}, // from config.meta
		{"model.shopfront.payments_summary", nil, "", "finance"},
		{"model.shopfront.customers", []string{"growth-data"}, "3", ""},
	}
	for _, tt := range tests {
		n := m.Nodes[tt.id]
		require.NotNil(t, n, tt.id)
		require.Equal(t, "model", n.ResourceType, tt.id)
		require.Equal(t, tt.owners, n.Owners, tt.id)
		require.Equal(t, tt.tier, n.Tier, tt.id)
		require.Equal(t, tt.group, n.Group, tt.id)
	}
	orders := m.Nodes["model.shopfront.orders"]
	require.Equal(t, "models/marts/orders.sql", orders.Path)
	require.Equal(t, `"analytics"."marts"."orders"`, orders.RelationName)
	require.Equal(t, []string{"model.shopfront.stg_orders", "model.shopfront.stg_payments"}, orders.DependsOn)

	require.Equal(t, &dbt.Group{
		UniqueID: "group.shopfront.finance", Name: "finance",
		OwnerName: "Finance Analytics", OwnerEmails: []string{"finance-data@shopfront.example"},
	}, m.Groups["finance"])

	app := m.Exposures["exposure.shopfront.courier_app"]
	require.Equal(t, "application", app.Type)
	require.Empty(t, app.Maturity)
	require.Equal(t, "2", app.Tier)
	require.Equal(t, []string{"dispatch@shopfront.example", "logistics@shopfront.example"}, app.OwnerEmails)
	dash := m.Exposures["exposure.shopfront.finance_dashboard"]
	require.Equal(t, "high", dash.Maturity)
	require.Equal(t, "Finance Analytics", dash.OwnerName)

	require.Equal(t, []string{"exposure.shopfront.finance_dashboard"}, m.ChildMap["model.shopfront.revenue_daily"])
}

func TestLoadWithoutSchemaWarns(t *testing.T) {
	t.Parallel()
	m := loadFixture(t, "manifest_invalid.json")
	require.False(t, m.Validated)
	require.Len(t, m.Warnings, 1)
	require.Contains(t, m.Warnings[0], "no manifest schema is configured")
	// The wrongly typed fqn is not read, so it costs nothing.
	require.Equal(t, []string{"finance-analytics"}, m.Nodes["model.shopfront.orders"].Owners)
}

func TestLoadValidation(t *testing.T) {
	t.Parallel()
	v := schema(t)
	wantProblems := []string{ // sorted
		"at '/exposures/exposure.shopfront.finance_dashboard/maturity'",
		"at '/nodes/model.shopfront.customers': missing property 'checksum'",
		"at '/nodes/model.shopfront.orders/fqn': got string, want array",
	}
	tests := []struct {
		name     string
		file     string
		warnOnly bool
		wantErr  bool
		wantWarn string
	}{
		{name: "valid v12", file: "manifest.json"},
		{name: "invalid v12 fails", file: "manifest_invalid.json", wantErr: true},
		{name: "invalid v12 warn-only", file: "manifest_invalid.json", warnOnly: true, wantWarn: "warn-only mode"},
		{name: "v11 is checked warn-only", file: "manifest_v11.json", wantWarn: `"https://schemas.getdbt.com/dbt/manifest/v11.json" is not v12`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := dbt.Load(context.Background(), fixture(t, tt.file), dbt.Options{Schema: v, WarnOnly: tt.warnOnly})
			if tt.wantErr {
				require.ErrorIs(t, err, dbt.ErrInvalid)
				var ve *dbt.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, 3, ve.Total)
				require.Len(t, ve.Problems, 3)
				for i, p := range wantProblems {
					require.Contains(t, ve.Problems[i], p)
				}
				require.Contains(t, err.Error(), "manifest_invalid.json")
				require.Nil(t, m)
				return
			}
			require.NoError(t, err)
			require.True(t, m.Validated)
			if tt.wantWarn == "" {
				require.Empty(t, m.Warnings)
				return
			}
			require.Len(t, m.Warnings, 1)
			require.Contains(t, m.Warnings[0], tt.wantWarn)
			require.Contains(t, m.Warnings[0], "3 problem(s)")
			require.NotNil(t, m.Nodes["model.shopfront.orders"])
		})
	}
}

func TestLoadSchemaProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "schema.json")
	require.NoError(t, os.WriteFile(broken, []byte(`{"$id": "https://schemas.getdbt.com/dbt/manifest/v12.json", "type": 7}`), 0o600))
	elsewhere := filepath.Join(dir, "ref.json")
	require.NoError(t, os.WriteFile(elsewhere, []byte(`{"$ref": "https://example.com/other.json"}`), 0o600))

	tests := []struct {
		name string
		path string
	}{
		{"missing file", filepath.Join(dir, "nope.json")},
		{"not a schema", broken},
		{"refers to the network", elsewhere},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := dbt.NewValidator(tt.path)
			require.ErrorIs(t, v.Check(), dbt.ErrSchema)
			_, err := dbt.Load(context.Background(), fixture(t, "manifest.json"), dbt.Options{Schema: v})
			require.ErrorIs(t, err, dbt.ErrSchema)
		})
	}
}

func TestLoadLimits(t *testing.T) {
	t.Parallel()
	path := fixture(t, "manifest.json")
	st, err := os.Stat(path)
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = dbt.Load(context.Background(), path, dbt.Options{MaxBytes: st.Size() - 1})
	require.ErrorIs(t, err, dbt.ErrTooLarge)
	require.Contains(t, err.Error(), "over the limit")
	_, err = dbt.Parse(context.Background(), data, "inline", dbt.Options{MaxBytes: 100})
	require.ErrorIs(t, err, dbt.ErrTooLarge)

	m, err := dbt.Load(context.Background(), path, dbt.Options{MaxBytes: st.Size()})
	require.NoError(t, err, "a manifest of exactly the limit loads")
	require.NotEmpty(t, m.Nodes)

	m, err = dbt.Load(context.Background(), path, dbt.Options{Schema: dbt.NewValidator("unused"), ValidateMaxBytes: 10})
	require.NoError(t, err, "over the validation limit the schema is not even compiled")
	require.False(t, m.Validated)
	require.Contains(t, m.Warnings[0], "over the validation limit")

	_, err = dbt.Load(context.Background(), t.TempDir(), dbt.Options{})
	require.ErrorIs(t, err, dbt.ErrMalformed)
	_, err = dbt.Load(context.Background(), filepath.Join(t.TempDir(), "missing.json"), dbt.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := dbt.Load(ctx, fixture(t, "manifest.json"), dbt.Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	deep := `{"macros": ` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + `}`
	tests := []struct {
		name     string
		in       string
		wantErr  error
		wantWarn string
	}{
		{name: "empty", in: "", wantErr: dbt.ErrMalformed},
		{name: "a list", in: "[]", wantErr: dbt.ErrMalformed},
		{name: "truncated", in: `{"nodes": {"model.a.b": {"name": "b"`, wantErr: dbt.ErrMalformed},
		{name: "trailing data", in: `{} {}`, wantErr: dbt.ErrMalformed},
		{name: "not JSON", in: `{nodes: 1}`, wantErr: dbt.ErrMalformed},
		{name: "too deep", in: deep, wantErr: dbt.ErrMalformed},
		{name: "empty object", in: `{}`},
		{name: "null sections", in: `{"nodes": null, "child_map": null, "exposures": null}`},
		{name: "nodes a number", in: `{"nodes": 5}`, wantWarn: "nodes: want an object, got a number"},
		{name: "nodes a list", in: `{"nodes": [1, {"a": 2}]}`, wantWarn: "nodes: want an object, got a list"},
		{name: "node a string", in: `{"nodes": {"model.a.b": "x"}}`, wantWarn: `nodes["model.a.b"]: the value has an unexpected type`},
		{name: "name a number", in: `{"nodes": {"model.a.b": {"name": 7, "meta": {"owner": "ann"}}}}`, wantWarn: "name has an unexpected type (JSON number)"},
		{name: "meta owner an object", in: `{"nodes": {"model.a.b": {"name": "b", "meta": {"owner": {"x": 1}, "tier": [1]}}}}`},
		{name: "email a number", in: `{"groups": {"group.a.g": {"name": "g", "owner": {"email": 5}}}}`, wantWarn: "owner.email: want a string or a list of strings"},
		{name: "unknown sections skipped", in: `{"macros": {"m": {"x": [1, 2, {"y": null}]}}, "docs": [1, 2], "selectors": "s"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := dbt.Parse(context.Background(), []byte(tt.in), "in.json", dbt.Options{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, err.Error(), "in.json")
				return
			}
			require.NoError(t, err)
			require.Contains(t, m.Warnings[0], "not validated")
			if tt.wantWarn != "" {
				require.Len(t, m.Warnings, 2)
				require.Contains(t, m.Warnings[1], tt.wantWarn)
			} else {
				require.Len(t, m.Warnings, 1)
			}
		})
	}
}

func TestParseDerivesChildMap(t *testing.T) {
	t.Parallel()
	in := `{"nodes": {
		"model.p.a": {"name": "a", "resource_type": "model"},
		"model.p.b": {"name": "b", "resource_type": "model", "depends_on": {"nodes": ["model.p.a"]}}},
	 "exposures": {"exposure.p.e": {"name": "e", "depends_on": {"nodes": ["model.p.b", "model.p.a"]}}}}`
	m, err := dbt.Parse(context.Background(), []byte(in), "in.json", dbt.Options{})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"model.p.a": {"exposure.p.e", "model.p.b"},
		"model.p.b": {"exposure.p.e"},
	}, m.ChildMap)
	require.Contains(t, m.Warnings[len(m.Warnings)-1], "derived it from depends_on")
}

func TestWarningsAreBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"nodes": {`)
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"model.p.m` + strings.Repeat("x", i) + `": {"name": 1}`)
	}
	b.WriteString("}}")
	m, err := dbt.Parse(context.Background(), []byte(b.String()), "in.json", dbt.Options{})
	require.NoError(t, err)
	require.Len(t, m.Nodes, 100)
	require.Len(t, m.Warnings, 21)
	require.Equal(t, "further warnings omitted", m.Warnings[20])
}
