package airflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/medic-sh/medic/internal/airflow"
)

// fakeAuth3 is the Airflow 3 auth behaviour of AIRFLOW.md §1: POST
// /auth/token answers 201 {"access_token"}; an expired token is 401 "Token
// Expired", an unknown one 403 "Invalid JWT token".
type fakeAuth3 struct {
	t   *testing.T
	now func() time.Time
	ttl time.Duration

	mu        sync.Mutex
	logins    int
	valid     map[string]bool
	expired   map[string]bool
	alwaysExp bool // every token is reported expired
	forbidden bool // authenticated but not permitted
	data      atomic.Int64
}

func newFakeAuth3(t *testing.T) *fakeAuth3 {
	return &fakeAuth3{t: t, now: time.Now, ttl: 24 * time.Hour, valid: map[string]bool{}, expired: map[string]bool{}}
}

func (f *fakeAuth3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/auth/token" {
		assert.Equal(f.t, http.MethodPost, r.Method)
		assert.Empty(f.t, r.Header.Get("Authorization"))
		var body map[string]string
		assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&body))
		assert.Len(f.t, body, 2, "LoginBody is strict: username and password only")
		if body["username"] != testUser || body["password"] != testPassword {
			writeJSON(w, 401, map[string]any{"detail": "Invalid credentials"})
			return
		}
		f.mu.Lock()
		f.logins++
		tok := fakeJWT(f.now().Add(f.ttl), itoa(f.logins))
		f.valid[tok] = true
		f.mu.Unlock()
		writeJSON(w, 201, map[string]any{"access_token": tok})
		return
	}
	f.data.Add(1)
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid, expired, alwaysExp, forbidden := f.valid[tok], f.expired[tok], f.alwaysExp, f.forbidden
	f.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, 401, map[string]any{"detail": "Not authenticated"})
	case expired || alwaysExp:
		writeJSON(w, 401, map[string]any{"detail": "Token Expired"})
	case !valid:
		writeJSON(w, 403, map[string]any{"detail": "Invalid JWT token"})
	case forbidden:
		writeJSON(w, 403, map[string]any{"detail": "Forbidden"})
	default:
		writeJSON(w, 200, dagRunJSON("etl", "r1", "failed"))
	}
}

func (f *fakeAuth3) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.valid {
		f.expired[tok] = true
	}
}

func (f *fakeAuth3) loginCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

func v3(o *airflow.Options) { o.Version = "3" }

func TestLoginOnceAndReuseToken(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	b := setup(t, f, v3)
	g, ctx := errgroup.WithContext(context.Background())
	for range 8 {
		g.Go(func() error { _, err := b.client.GetDagRun(ctx, "etl", "r1"); return err })
	}
	require.NoError(t, g.Wait())
	_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	require.Equal(t, 1, f.loginCount(), "concurrent calls share one login")
	require.EqualValues(t, 9, f.data.Load())
}

func TestExpiredTokenReloginOnce(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	b := setup(t, f, v3)
	_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	f.expireAll()
	_, err = b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	require.Equal(t, 2, f.loginCount())
	require.EqualValues(t, 3, f.data.Load(), "one refused request, one retry")
	require.Contains(t, b.logs.String(), "logging in again")
}

func TestTokenRefusedRightAfterLoginIsConfigError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(*fakeAuth3)
		sentinel error
		logins   int
		requests int64
	}{
		// Expired on first use, and again after the re-login: clocks or the
		// jwt_secret disagree; retrying more would loop.
		{"always expired", func(f *fakeAuth3) { f.alwaysExp = true }, airflow.ErrUnauthorized, 1, 1},
		{"forbidden", func(f *fakeAuth3) { f.forbidden = true }, airflow.ErrForbidden, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAuth3(t)
			tt.setup(f)
			b := setup(t, f, v3)
			_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
			require.ErrorIs(t, err, tt.sentinel)
			require.ErrorIs(t, err, airflow.ErrConfig)
			require.False(t, airflow.IsRetryable(err))
			require.Contains(t, err.Error(), "a token just issued by /auth/token was refused")
			require.Equal(t, tt.logins, f.loginCount())
			require.Equal(t, tt.requests, f.data.Load(), "no retry")
			require.NotContains(t, err.Error(), "eyJ", "no token in the message")
		})
	}
}

func TestExpiredCachedTokenThenRefusedAgain(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	b := setup(t, f, v3)
	_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	f.mu.Lock()
	f.alwaysExp = true
	f.mu.Unlock()
	_, err = b.client.GetDagRun(context.Background(), "etl", "r1")
	require.ErrorIs(t, err, airflow.ErrConfig)
	require.Equal(t, 2, f.loginCount(), "re-login exactly once")
	require.EqualValues(t, 3, f.data.Load())
}

func TestBadPassword(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	b := setup(t, f, func(o *airflow.Options) { o.Version, o.Password = "3", "wrong-password-x" })
	_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.ErrorIs(t, err, airflow.ErrUnauthorized)
	require.ErrorIs(t, err, airflow.ErrConfig)
	require.Contains(t, err.Error(), "check the instance's username/password")
	require.Contains(t, err.Error(), "Invalid credentials")
	require.NotContains(t, err.Error(), "wrong-password-x")
	require.Zero(t, f.data.Load())
}

func TestProactiveRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	var nowNanos atomic.Int64
	nowNanos.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, nowNanos.Load()) }
	f := newFakeAuth3(t)
	f.now, f.ttl = clock, time.Hour
	b := setup(t, f, func(o *airflow.Options) { o.Version, o.Clock = "3", clock })
	_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	nowNanos.Add(int64(30 * time.Minute))
	_, err = b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	require.Equal(t, 1, f.loginCount(), "still valid for 30 minutes")
	nowNanos.Add(int64(29*time.Minute + 30*time.Second))
	_, err = b.client.GetDagRun(context.Background(), "etl", "r1")
	require.NoError(t, err)
	require.Equal(t, 2, f.loginCount(), "refreshed in the last minute before exp")
	require.EqualValues(t, 3, f.data.Load(), "no request was refused")
}

func TestLoginErrorNamesTheOperation(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	b := setup(t, f, func(o *airflow.Options) { o.Version, o.Password = "3", "wrong-password-x" })
	_, err := b.client.ListTaskInstances(context.Background(), "etl", "r1")
	require.ErrorContains(t, err, "airflow test: list task instances of etl/r1: log in (POST /auth/token): 401 Unauthorized: Invalid credentials")
}

func TestTokenExpiredByOurClockIsStillUsed(t *testing.T) {
	t.Parallel()
	f := newFakeAuth3(t)
	f.ttl = -time.Hour // the server's clock is behind ours
	b := setup(t, f, v3)
	for range 3 {
		_, err := b.client.GetDagRun(context.Background(), "etl", "r1")
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.loginCount(), "no login before every request")
	require.Contains(t, b.logs.String(), "check clock sync")
}
