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

// exampleEnv answers the variables Example refers to.
var exampleEnv = fakeEnv(map[string]string{
	"MEDIC_ADMIN_TOKEN":     "example-admin-token-0123456789",
	"AIRFLOW_PROD_PASSWORD": "example-password",
})

// leafPaths lists the YAML path of every leaf field under t, with "[]" for
// list elements: "airflow.instances[].poll.interval".
func leafPaths(t reflect.Type, prefix string) []string {
	switch {
	case t == secretType || t == durationType:
		return []string{prefix}
	case t.Kind() == reflect.Struct:
		var out []string
		for name, i := range yamlFields(t) {
			out = append(out, leafPaths(t.Field(i).Type, joinPath(prefix, name))...)
		}
		return out
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return leafPaths(t.Elem(), prefix+"[]")
	default:
		// A list of scalars is one leaf: its items have no keys to show.
		return []string{prefix}
	}
}

// structPaths lists the YAML path of every mapping under t, "" for the top.
func structPaths(t reflect.Type, prefix string) []string {
	switch {
	case t == secretType || t == durationType:
		return nil
	case t.Kind() == reflect.Struct:
		out := []string{prefix}
		for name, i := range yamlFields(t) {
			out = append(out, structPaths(t.Field(i).Type, joinPath(prefix, name))...)
		}
		return out
	case t.Kind() == reflect.Slice:
		return structPaths(t.Elem(), prefix+"[]")
	default:
		return nil
	}
}

// nodePaths collects the paths of the keys in a YAML tree, counting KEY_file
// and KEY_env as KEY.
func nodePaths(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			nodePaths(c, prefix, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for _, s := range secretSuffixes {
				key = strings.TrimSuffix(key, s)
			}
			out[joinPath(prefix, key)] = true
			nodePaths(n.Content[i+1], joinPath(prefix, key), out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			nodePaths(c, prefix+"[]", out)
		}
	}
}

func TestExampleParsesAndValidates(t *testing.T) {
	t.Parallel()
	c, err := ParseEnv([]byte(Example()), "example.yaml", exampleEnv)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	_, err = Load(writeTemp(t, Example()), exampleEnv)
	require.NoError(t, err)
}

func TestExampleShowsDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseEnv([]byte(Example()), "example.yaml", exampleEnv)
	require.NoError(t, err)

	require.Len(t, c.Airflow.Instances, 1)
	in := c.Airflow.Instances[0]
	in.Name, in.URL, in.Username, in.Password = "", "", "", Secret{}
	require.Equal(t, DefaultAirflowInstance(), in, "the example instance shows the instance defaults")

	require.Len(t, c.Notify.Webhooks, 1)
	require.Equal(t, 10*time.Second, c.Notify.Webhooks[0].Timeout)
	require.Len(t, c.Notify.Slack.Routes, 1)
	c.Auth.Tokens, c.Airflow.Instances, c.Notify.Webhooks, c.Notify.Slack.Routes = nil, nil, nil, nil
	require.Equal(t, Default(), c, "the example shows every default")
}

func TestExampleNamesEveryKey(t *testing.T) {
	t.Parallel()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(Example()), &doc))
	have := map[string]bool{}
	nodePaths(&doc, "", have)
	for _, leaf := range leafPaths(reflect.TypeFor[Config](), "") {
		require.True(t, have[leaf], "Example() does not show %s; add it to example.yaml", leaf)
	}
}

func TestDocsNameEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	require.NoError(t, err)
	docs := string(data)
	for _, leaf := range leafPaths(reflect.TypeFor[Config](), "") {
		require.Contains(t, docs, "`"+leaf+"`", "docs/configuration.md does not document %s", leaf)
	}
	for _, o := range envOverrides {
		require.Contains(t, docs, "`"+o.Name+"`", "docs/configuration.md does not document %s", o.Name)
	}
}

// TestEveryMappingIsStrict puts an unknown key in every mapping of the
// configuration, so a new struct cannot slip past the strict decoder.
func TestEveryMappingIsStrict(t *testing.T) {
	t.Parallel()
	for _, path := range structPaths(reflect.TypeFor[Config](), "") {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var doc any = map[string]any{"bogus_key": 1}
			var segs []string
			if path != "" {
				segs = strings.Split(path, ".")
			}
			want := "bogus_key"
			for i := len(segs) - 1; i >= 0; i-- {
				name, list := strings.CutSuffix(segs[i], "[]")
				if list {
					doc = []any{doc}
				}
				doc = map[string]any{name: doc}
			}
			for i := len(segs) - 1; i >= 0; i-- {
				want = strings.ReplaceAll(segs[i], "[]", "[0]") + "." + want
			}
			data, err := yaml.Marshal(doc)
			require.NoError(t, err)
			_, err = Parse(data, "medic.yaml")
			require.ErrorIs(t, err, ErrUnknownKey)
			require.NotNil(t, requireFieldError(t, err, want))
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "medic.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
