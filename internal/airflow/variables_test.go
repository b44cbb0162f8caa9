package airflow_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/airflow/airflowsim/spectest"
)

// variableCalls lists the method and escaped path of every variables request the
// stand-in answered, with its status.
func variableCalls(sim *airflowsim.Server) []string {
	var out []string
	for _, r := range sim.Requests() {
		if strings.Contains(r.Path, "/variables") {
			out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	}
	return out
}

func TestVariablesAgainstStandIn(t *testing.T) {
	vals := map[int]*spectest.SpecValidator{2: spectest.NewSpecValidator(t, 2), 3: spectest.NewSpecValidator(t, 3)}
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(fmt.Sprint("airflow ", v), func(t *testing.T) {
			t.Parallel()
			k := newContract(t, v, vals[v])
			ctx, c := context.Background(), k.client
			prefix := k.sim.APIPrefix()
			const key = "medic_resources.etl_orders.load"

			_, err := c.GetVariable(ctx, key)
			require.ErrorIs(t, err, airflow.ErrNotFound)
			require.Contains(t, err.Error(), "no variable with this key exists")
			require.False(t, airflow.IsRetryable(err))

			// Create: PATCH answers 404, then POST.
			require.NoError(t, c.SetVariable(ctx, key, `{"pool": "big_pool"}`, "set by medic"))
			got, err := c.GetVariable(ctx, key)
			require.NoError(t, err)
			require.JSONEq(t, `{"pool": "big_pool"}`, got)

			// Overwrite: PATCH alone.
			require.NoError(t, c.SetVariable(ctx, key, `{"pool": "bigger_pool", "queue": "highmem"}`, ""))
			got, ok := k.sim.Variable(key)
			require.True(t, ok)
			require.JSONEq(t, `{"pool": "bigger_pool", "queue": "highmem"}`, got)

			created := map[int]int{2: 200, 3: 201}[v]
			require.Equal(t, []string{
				"GET " + prefix + "/variables/" + key + " 404",
				"PATCH " + prefix + "/variables/" + key + " 404",
				"POST " + prefix + "/variables " + fmt.Sprint(created),
				"GET " + prefix + "/variables/" + key + " 200",
				"PATCH " + prefix + "/variables/" + key + " 200",
			}, variableCalls(k.sim))
		})
	}
}

// TestVariableKeysAreEscaped uses the stand-in without the validator: its
// router matches the decoded path, so it cannot route a %2F the spec allows.
func TestVariableKeysAreEscaped(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(fmt.Sprint("airflow ", v), func(t *testing.T) {
			t.Parallel()
			sim := airflowsim.New(airflowsim.Options{Version: v, Username: testUser, Password: testPassword})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			c, err := airflow.New(airflow.Options{
				Name: "sim", BaseURL: srv.URL, Version: fmt.Sprint(v), Username: testUser, Password: testPassword,
				Timeout: 5 * time.Second, RateLimit: -1, HTTPClient: srv.Client(), Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			ctx := context.Background()
			for _, key := range []string{"team/etl.orders", "a.b.c", "with space+plus?&#"} {
				require.NoError(t, c.SetVariable(ctx, key, "v1", ""), key)
				require.NoError(t, c.SetVariable(ctx, key, "v2", "d"), key)
				got, err := c.GetVariable(ctx, key)
				require.NoError(t, err, key)
				require.Equal(t, "v2", got, key)
				stored, ok := sim.Variable(key)
				require.True(t, ok, key)
				require.Equal(t, "v2", stored, key)
			}
			for _, r := range sim.Requests() {
				if strings.Contains(r.Path, "team") {
					require.Contains(t, r.Path, "team%2Fetl.orders", "the slash travels as %2F")
				}
			}
		})
	}
}

// TestSetVariableLosesCreateRace: another writer creates the variable between
// medic's PATCH (404) and POST (3.x: 409), so medic overwrites it.
func TestSetVariableLosesCreateRace(t *testing.T) {
	t.Parallel()
	const key = "medic_resources.etl_orders.load"
	sim := airflowsim.New(airflowsim.Options{Version: 3, Username: testUser, Password: testPassword})
	var raced atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && !raced.Swap(true) {
			// The PATCH finds nothing; the other writer's variable lands
			// before medic's POST.
			sim.ServeHTTP(w, r)
			seed := httptest.NewRequestWithContext(r.Context(), http.MethodPost, "/api/v2/variables",
				strings.NewReader(`{"key":"`+key+`","value":"theirs"}`))
			seed.Header.Set("Authorization", r.Header.Get("Authorization"))
			seed.Header.Set("Content-Type", "application/json")
			sim.ServeHTTP(httptest.NewRecorder(), seed)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := airflow.New(airflow.Options{
		Name: "sim", BaseURL: srv.URL, Version: "3", Username: testUser, Password: testPassword,
		Timeout: 5 * time.Second, RateLimit: -1, HTTPClient: srv.Client(), Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.NoError(t, c.SetVariable(context.Background(), key, "ours", ""))
	got, _ := sim.Variable(key)
	require.Equal(t, "ours", got)
	require.Equal(t, []string{
		"PATCH /api/v2/variables/" + key + " 404",
		"POST /api/v2/variables 201",
		"POST /api/v2/variables 409",
		"PATCH /api/v2/variables/" + key + " 200",
	}, variableCalls(sim))
}

func TestVariableKeyChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, http.NotFoundHandler(), nil)
	ctx := context.Background()
	for _, key := range []string{"", strings.Repeat("k", 251)} {
		require.Error(t, b.client.SetVariable(ctx, key, "v", ""))
		_, err := b.client.GetVariable(ctx, key)
		require.Error(t, err)
	}
	require.Zero(t, b.hits.Load(), "rejected before any request")
}
