package airflow_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts airflow.Options
		want string
	}{
		{"no name", airflow.Options{BaseURL: "http://a"}, "name is required"},
		{"relative url", airflow.Options{Name: "x", BaseURL: "airflow:8080"}, "absolute http(s) URL"},
		{"credentials in url", airflow.Options{Name: "x", BaseURL: "http://u:" + testPassword + "@a"}, "must not contain credentials"},
		{"api suffix", airflow.Options{Name: "x", BaseURL: "http://a/api/v1/"}, "must not end in /api/v1"},
		{"bad version", airflow.Options{Name: "x", BaseURL: "http://a", Version: "4"}, `version "4"`},
		{"password without user", airflow.Options{Name: "x", BaseURL: "http://a", Password: testPassword}, "both username and password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := airflow.New(tt.opts)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testPassword)
		})
	}
}

func TestVersionDetection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v2, v1  int // status of /api/v2/version and /api/v1/version
		want    int
		wantErr error
	}{
		{name: "airflow 3", v2: 200, want: 3},
		{name: "airflow 2", v2: 404, v1: 200, want: 2},
		{name: "auth-protected v2 means 3", v2: 401, want: 3},
		{name: "auth-protected v1 means 2", v2: 404, v1: 403, want: 2},
		{name: "no airflow api", v2: 404, v1: 404, wantErr: airflow.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v1auth atomic.Value
			b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/api/v2/version":
					assert.Empty(t, r.Header.Get("Authorization"), "the v2 probe needs no credentials")
					if tt.v2 != 200 {
						writeJSON(w, tt.v2, map[string]any{"detail": "Not Found"})
						return
					}
					writeJSON(w, 200, map[string]any{"version": "3.0.2", "git_version": nil})
				case "/api/v1/version":
					v1auth.Store(r.Header.Get("Authorization"))
					if tt.v1 != 200 {
						problem(w, tt.v1, http.StatusText(tt.v1), nil)
						return
					}
					writeJSON(w, 200, map[string]any{"version": "2.10.5", "git_version": "abc"})
				default:
					t.Errorf("unexpected %s", r.URL.Path)
				}
			}), func(o *airflow.Options) { o.Version = "auto" })
			v, err := b.client.Version(context.Background())
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, err.Error(), "check the base url")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, v)
			if tt.v2 == 404 {
				require.True(t, strings.HasPrefix(v1auth.Load().(string), "Basic "), "the v1 probe uses basic auth")
			}
			hits := b.hits.Load()
			v, err = b.client.Version(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.want, v)
			require.Equal(t, hits, b.hits.Load(), "the version is detected once")
		})
	}
}

func TestFixedVersionSkipsDetection(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"2", "3"} {
		b := setup(t, http.NotFoundHandler(), func(o *airflow.Options) { o.Version = v })
		got, err := b.client.Version(context.Background())
		require.NoError(t, err)
		require.Equal(t, int(v[0]-'0'), got)
		require.Zero(t, b.hits.Load())
	}
}

func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*airflow.Options)
		want string
	}{
		{"basic auth on 2", nil, "Basic bWVkaWMtYm90OnMzY3JldC1QYTU1d29yZA=="},
		{"static token on 2", func(o *airflow.Options) { o.Token = testToken }, "Bearer " + testToken},
		{"static token on 3", func(o *airflow.Options) { o.Token, o.Version = testToken, "3" }, "Bearer " + testToken},
		{"anonymous", func(o *airflow.Options) { o.Username, o.Password = "", "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Value
			b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.NotEqual(t, "/auth/token", r.URL.Path, "a static token or basic auth never logs in")
				got.Store(r.Header.Get("Authorization"))
				writeJSON(w, 200, dagRunJSON("etl", "r1", "failed"))
			}), tt.mod)
			_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Load())
		})
	}
}

func TestPathSegmentsArePercentEncoded(t *testing.T) {
	t.Parallel()
	const runID = "manual__2024-05-01T00:00:00.123+00:00"
	var rawURI, path atomic.Value
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawURI.Store(r.RequestURI)
		path.Store(r.URL.Path)
		writeJSON(w, 200, tiJSON("my dag/x", runID, "t+1", "failed", 1))
	}), nil)
	ti, err := b.client.GetTaskInstance(context.Background(), "my dag/x", runID, "t+1")
	require.NoError(t, err)
	require.Equal(t, runID, ti.RunID)
	require.Equal(t,
		"/api/v1/dags/my%20dag%2Fx/dagRuns/manual__2024-05-01T00%3A00%3A00.123%2B00%3A00/taskInstances/t%2B1",
		rawURI.Load())
	require.Equal(t, "/api/v1/dags/my dag/x/dagRuns/"+runID+"/taskInstances/t+1", path.Load())
}

func TestDomainMapping(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run := dagRunJSON("etl", "r1", "failed")
		delete(run, "logical_date")
		run["execution_date"] = "2024-05-01T00:00:00+00:00" // pre-2.2 servers
		run["start_date"] = "2024-05-01T00:00:05.123456"    // no offset: UTC
		run["end_date"] = nil
		run["conf"] = map[string]any{"k": "v"}
		writeJSON(w, 200, run)
	}), nil)
	run, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	require.Equal(t, "failed", run.State)
	require.Equal(t, mustTime(t, "2024-05-01T00:00:00Z"), *run.LogicalDate)
	require.Equal(t, mustTime(t, "2024-05-01T00:00:05.123456Z"), *run.StartDate)
	require.Nil(t, run.EndDate)
	require.Equal(t, map[string]any{"k": "v"}, run.Conf)
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*airflow.Options)
		body string
	}{
		{"password echoed by a proxy", nil, `{"detail":"user medic-bot with password ` + testPassword + ` rejected"}`},
		{"token echoed", func(o *airflow.Options) { o.Token = testToken }, `{"title":"Bearer ` + testToken + ` is not valid","status":400}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(tt.body))
			}), tt.mod)
			_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
			require.ErrorIs(t, err, airflow.ErrBadRequest)
			require.NotContains(t, err.Error(), testPassword)
			require.NotContains(t, err.Error(), testToken)
			require.Contains(t, err.Error(), "[REDACTED]")
		})
	}
}
