package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// withWarehouse returns an edit adding one valid connection, then edit.
func withWarehouse(edit func(w *WarehouseConnection)) func(c *Config) {
	return func(c *Config) {
		w := DefaultWarehouseConnection()
		w.Name, w.URL = "analytics", NewSecret("postgres://profiler:pw@db.example.com/analytics")
		if edit != nil {
			edit(&w)
		}
		c.Warehouse.Connections = &[]WarehouseConnection{w}
	}
}

func TestValidateInvestigateAndWarehouse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *Config)
		path string // "" means valid
		msg  string
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "a warehouse", edit: withWarehouse(nil)},
		{name: "runbook with placeholders", edit: func(c *Config) { c.Investigate.RunbookURL = "https://wiki.example.com/runbooks/{label}?dag={dag_id}" }},
		{name: "deadline zero", edit: func(c *Config) { c.Investigate.Deadline = 0 }, path: "investigate.deadline"},
		{name: "deadline too long", edit: func(c *Config) { c.Investigate.Deadline = time.Hour; c.Investigate.SpecialistTimeout = time.Minute }, path: "investigate.deadline"},
		{name: "specialist timeout zero", edit: func(c *Config) { c.Investigate.SpecialistTimeout = 0 }, path: "investigate.specialist_timeout"},
		{
			name: "specialist outlives the deadline", edit: func(c *Config) { c.Investigate.SpecialistTimeout = 2 * time.Minute },
			path: "investigate.specialist_timeout",
			msg:  "investigate.specialist_timeout: must be at most investigate.deadline (1m0s): a specialist cannot outlive its investigation; got 2m0s",
		},
		{
			name: "specialist outlives its job", edit: func(c *Config) { c.Jobs.JobTimeout = 30 * time.Second },
			path: "investigate.specialist_timeout",
			msg:  "investigate.specialist_timeout: must be less than jobs.job_timeout (30s), or a specialist's job is cancelled before its own timeout; got 45s",
		},
		{
			name: "runbook placeholder", edit: func(c *Config) { c.Investigate.RunbookURL = "https://wiki.example.com/{owner}" },
			path: "investigate.runbook_url",
			msg:  "investigate.runbook_url: unknown placeholder {owner}; want one of {label}, {remediation}, {dag_id}, {task_id}",
		},
		{name: "runbook relative", edit: func(c *Config) { c.Investigate.RunbookURL = "/runbooks/{label}" }, path: "investigate.runbook_url"},
		{name: "warehouse name empty", edit: withWarehouse(func(w *WarehouseConnection) { w.Name = "" }), path: "warehouse.connections[0].name"},
		{name: "warehouse name pattern", edit: withWarehouse(func(w *WarehouseConnection) { w.Name = "Analytics" }), path: "warehouse.connections[0].name"},
		{name: "warehouse name twice", edit: func(c *Config) {
			withWarehouse(nil)(c)
			*c.Warehouse.Connections = append(*c.Warehouse.Connections, (*c.Warehouse.Connections)[0])
		}, path: "warehouse.connections[1].name"},
		{
			name: "warehouse kind", edit: withWarehouse(func(w *WarehouseConnection) { w.Kind = "oracle" }), path: "warehouse.connections[0].kind",
			msg: `warehouse.connections[0].kind: want one of [postgres], got "oracle"`,
		},
		{name: "warehouse url", edit: withWarehouse(func(w *WarehouseConnection) { w.URL = Secret{} }), path: "warehouse.connections[0].url"},
		{name: "warehouse connect timeout", edit: withWarehouse(func(w *WarehouseConnection) { w.ConnectTimeout = 0 }), path: "warehouse.connections[0].connect_timeout"},
		{name: "warehouse lock timeout", edit: withWarehouse(func(w *WarehouseConnection) { w.LockTimeout = -time.Second }), path: "warehouse.connections[0].lock_timeout"},
		{name: "warehouse long running", edit: withWarehouse(func(w *WarehouseConnection) { w.LongRunning = 0 }), path: "warehouse.connections[0].long_running"},
		{
			name: "statement longer than the profile", edit: withWarehouse(func(w *WarehouseConnection) { w.StatementTimeout = time.Minute }),
			path: "warehouse.connections[0].statement_timeout",
		},
		{name: "warehouse rows", edit: withWarehouse(func(w *WarehouseConnection) { w.MaxRows = MaxWarehouseRows + 1 }), path: "warehouse.connections[0].max_rows"},
		{name: "warehouse conns", edit: withWarehouse(func(w *WarehouseConnection) { w.MaxConns = 0 }), path: "warehouse.connections[0].max_conns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			problems := fieldErrors(t, err)
			require.Len(t, problems, 1, "one edit, one problem: %v", err)
			require.Equal(t, tt.path, problems[0].Path)
			if tt.msg != "" {
				require.Equal(t, tt.msg, problems[0].Error())
			}
			require.NotContains(t, err.Error(), "profiler:pw", "the URL is a secret")
		})
	}
}

func TestRunbook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		values map[string]string
		want   string
	}{
		{"", map[string]string{"label": "TIMEOUT"}, ""},
		{"https://wiki.example.com/runbooks/{label}", map[string]string{"label": "SCHEMA_CHANGE"}, "https://wiki.example.com/runbooks/SCHEMA_CHANGE"},
		{
			"https://wiki.example.com/{dag_id}/{task_id}#{remediation}",
			map[string]string{"dag_id": "a b", "task_id": "x/y", "remediation": "retry"},
			"https://wiki.example.com/a%20b/x%2Fy#retry",
		},
		{"https://wiki.example.com/{label}", nil, "https://wiki.example.com/"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Investigate{RunbookURL: tt.url}.Runbook(tt.values), tt.url)
	}
}

func TestWarehouseConnectionDecodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wh.url"), []byte("postgres://profiler@db/analytics\n"), 0o600))
	path := filepath.Join(dir, "medic.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`investigate:
  agents_dir: agents
  deadline: 20s
  specialist_timeout: 10s
warehouse:
  connections:
    - name: analytics
      url_file: wh.url
      max_rows: 50
`), 0o600))
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "agents"), c.Investigate.AgentsDir, "relative to the file")
	require.Equal(t, 20*time.Second, c.Investigate.Deadline)
	conns := c.Warehouse.List()
	require.Len(t, conns, 1)
	want := DefaultWarehouseConnection()
	want.Name, want.MaxRows = "analytics", 50
	got := conns[0]
	require.Equal(t, "postgres://profiler@db/analytics", got.URL.Reveal())
	got.URL = Secret{}
	require.Equal(t, want, got, "keys left out keep their defaults")
	require.Nil(t, Default().Warehouse.List())
}

// TestExampleWarehouseEntry uncomments the example's warehouse connection
// and checks it parses, validates, shows the defaults and names every key:
// the list is empty by default, so the entry is a comment the other tests
// cannot see.
func TestExampleWarehouseEntry(t *testing.T) {
	t.Parallel()
	_, section, ok := strings.Cut(Example(), "\nwarehouse:\n")
	require.True(t, ok, "example.yaml has a warehouse section")
	_, section, ok = strings.Cut(section, "one looks like this:\n")
	require.True(t, ok, "the warehouse section shows a commented connection")
	var entry []string
	for _, line := range strings.Split(section, "\n") {
		body, ok := strings.CutPrefix(line, "  #   ")
		if !ok {
			break
		}
		entry = append(entry, "    "+body)
	}
	require.NotEmpty(t, entry, "example.yaml shows a commented warehouse connection")
	doc := "warehouse:\n  connections:\n" + strings.Join(entry, "\n") + "\n"
	c, err := ParseEnv([]byte(doc), "example.yaml", fakeEnv(map[string]string{"MEDIC_WAREHOUSE_URL": "postgres://profiler@db/analytics"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	conns := c.Warehouse.List()
	require.Len(t, conns, 1)
	got := conns[0]
	got.Name, got.URL = "", Secret{}
	require.Equal(t, DefaultWarehouseConnection(), got, "the example connection shows the defaults")

	var node yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(doc), &node))
	have := map[string]bool{}
	nodePaths(&node, "", have)
	for _, leaf := range leafPaths(reflect.TypeFor[WarehouseConnection](), "warehouse.connections[]") {
		require.True(t, have[leaf], "the example connection does not show %s", leaf)
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	require.NoError(t, err)
	for _, leaf := range leafPaths(reflect.TypeFor[WarehouseConnection](), "warehouse.connections[]") {
		require.Contains(t, string(docs), "`"+leaf+"`", "docs/configuration.md does not document %s", leaf)
	}
}
