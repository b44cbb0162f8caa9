package cli_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout string)
	}{
		{
			name: "text",
			args: []string{"version"},
			check: func(t *testing.T, stdout string) {
				require.Equal(t, "medic "+cli.Version+" ("+runtime.Version()+")\n", stdout)
			},
		},
		{
			name: "json",
			args: []string{"version", "--json"},
			check: func(t *testing.T, stdout string) {
				var got map[string]string
				require.NoError(t, json.Unmarshal([]byte(stdout), &got))
				require.Equal(t, map[string]string{"version": cli.Version, "go": runtime.Version()}, got)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, nil, tt.args...)
			require.Equal(t, cli.ExitOK, res.code, res.stderr)
			require.Empty(t, res.stderr)
			tt.check(t, res.stdout)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// stderr is the whole of what the command line prints.
		stderr string
	}{
		{
			"unknown command",
			[]string{"bogus"},
			nil,
			"medic: unknown command \"bogus\" for \"medic\"; run 'medic --help' for the commands\n",
		},
		{
			"misspelt command",
			[]string{"serv"},
			nil,
			"medic: unknown command \"serv\" for \"medic\" (did you mean \"serve\"?); run 'medic --help' for the commands\n",
		},
		{
			"unknown subcommand",
			[]string{"incidents", "lsit"},
			nil,
			"medic: unknown command \"lsit\" for \"medic incidents\" (did you mean \"list\"?); run 'medic incidents --help' for the commands\n",
		},
		{
			"unknown config subcommand",
			[]string{"config", "check"},
			nil,
			"medic: unknown command \"check\" for \"medic config\"; run 'medic config --help' for the commands\n",
		},
		{
			"unknown command with a flag",
			[]string{"inc", "list", "--server", "http://127.0.0.1:1"},
			nil,
			"medic: unknown command \"inc\" for \"medic\" (did you mean \"incidents\"?); run 'medic --help' for the commands\n",
		},
		{"unknown root flag", []string{"--bogus"}, nil, "medic: unknown flag: --bogus\n"},
		{"unknown flag", []string{"version", "--bogus"}, nil, "medic: unknown flag: --bogus\n"},
		{
			"bad flag value",
			[]string{"incidents", "list", "--limit", "many"},
			nil,
			"medic: invalid argument \"many\" for \"--limit\" flag: strconv.ParseInt: parsing \"many\": invalid syntax\n",
		},
		{"extra argument", []string{"version", "now"}, nil, "medic: medic version takes 0 argument(s), got 1\n"},
		{"missing argument", []string{"incidents", "show"}, nil, "medic: medic incidents show takes 1 argument(s), got 0\n"},
		{"triage without run", []string{"triage", "--dag", "orders_etl"}, nil, "medic: --dag and --run are required\n"},
		{
			"demo json without once",
			[]string{"demo", "--json"},
			nil,
			"medic: --json needs --once: only medic demo --once ends with a summary\n",
		},
		{
			"server not a URL",
			[]string{"incidents", "list", "--server", "not-a-url"},
			nil,
			"medic: --server \"not-a-url\" is not an http(s) URL: want one like http://127.0.0.1:8080\n",
		},
		{
			"server not http",
			[]string{"incidents", "show", "inc_x", "--server", "ftp://127.0.0.1"},
			nil,
			"medic: --server \"ftp://127.0.0.1\" is not an http(s) URL: want one like http://127.0.0.1:8080\n",
		},
		{
			"MEDIC_SERVER not a URL",
			[]string{"triage", "--dag", "d", "--run", "r"},
			map[string]string{"MEDIC_SERVER": "127.0.0.1:8080"},
			"medic: MEDIC_SERVER \"127.0.0.1:8080\" is not an http(s) URL: want one like http://127.0.0.1:8080\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, tt.env, tt.args...)
			require.Equal(t, cli.ExitUsage, res.code)
			require.Empty(t, res.stdout)
			require.Equal(t, tt.stderr, res.stderr)
		})
	}
}

func TestGroupCommandAloneShowsHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"Available Commands:", "serve", "demo", "triage", "incidents", "config", "version"}},
		{[]string{"incidents"}, []string{"Available Commands:", "list", "show"}},
		{[]string{"config"}, []string{"Available Commands:", "validate", "example"}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace("medic "+strings.Join(tt.args, " ")), func(t *testing.T) {
			t.Parallel()
			res := medic(t, nil, tt.args...)
			require.Equal(t, cli.ExitOK, res.code, res.stderr)
			require.Empty(t, res.stderr)
			for _, w := range tt.want {
				require.Contains(t, res.stdout, w)
			}
		})
	}
}
