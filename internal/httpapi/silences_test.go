package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// silenceTimes puts times relative to now into a request body: START is
// in an hour (given with an offset), END in four, PAST0 and PAST1 are a
// window that ended an hour ago. The store checks a silence has not ended
// against the real clock.
func silenceTimes(now time.Time, body string) string {
	return strings.NewReplacer(
		"START", now.Add(time.Hour).In(time.FixedZone("", 3600)).Format(time.RFC3339),
		"END", now.Add(4*time.Hour).Format(time.RFC3339),
		"PAST0", now.Add(-5*time.Hour).Format(time.RFC3339),
		"PAST1", now.Add(-time.Hour).Format(time.RFC3339),
	).Replace(body)
}

func TestCreateSilence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		token   string
		body    string
		status  int
		code    string
		field   string
		message string
		// want is the stored matcher and window (after now), when created.
		want   incident.SilenceMatcher
		starts time.Duration
		ends   time.Duration
	}{
		{
			name: "for a duration from now", token: operatorToken, body: `{"dag":"finance_*","reason":"warehouse migration","duration":"2h"}`,
			status: http.StatusCreated, want: incident.SilenceMatcher{DagGlob: "finance_*"}, ends: 2 * time.Hour,
		},
		{
			name: "until a time, narrowed", token: adminToken,
			body:   `{"dag":"*","instance":"prod","severity":"medium","reason":"upgrade","starts_at":"START","ends_at":"END"}`,
			status: http.StatusCreated, want: incident.SilenceMatcher{DagGlob: "*", Instance: "prod", Severity: incident.SeverityMedium},
			starts: time.Hour, ends: 4 * time.Hour,
		},
		{name: "viewer may not", token: viewerToken, body: `{"dag":"*","reason":"x","duration":"1h"}`, status: http.StatusForbidden, code: "forbidden"},
		{name: "unknown field", token: operatorToken, body: `{"dag":"*","reason":"x","for":"1h"}`, status: http.StatusBadRequest, code: "invalid_payload", message: `unknown field "for"`},
		{name: "no dag", token: operatorToken, body: `{"reason":"x","duration":"1h"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "dag", message: "dag is required"},
		{name: "bad glob", token: operatorToken, body: `{"dag":"fin[","reason":"x","duration":"1h"}`, status: http.StatusBadRequest, code: "invalid_payload", message: "not a valid pattern"},
		{name: "no reason", token: operatorToken, body: `{"dag":"*","duration":"1h"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "reason", message: "reason is required"},
		{name: "no end", token: operatorToken, body: `{"dag":"*","reason":"x"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "ends_at", message: "or duration"},
		{
			name: "both ends", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"1h","ends_at":"END"}`,
			status: http.StatusBadRequest, code: "invalid_payload", field: "duration", message: "not both",
		},
		{name: "bad duration", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"2 hours"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "duration", message: `"2h"`},
		{name: "negative duration", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"-1h"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "duration"},
		{name: "bad time", token: operatorToken, body: `{"dag":"*","reason":"x","ends_at":"tomorrow"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "ends_at", message: "RFC 3339"},
		{name: "bad start", token: operatorToken, body: `{"dag":"*","reason":"x","starts_at":"5pm","duration":"1h"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "starts_at"},
		{name: "too long", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"721h"}`, status: http.StatusBadRequest, code: "invalid_payload", message: "longer than 720h0m0s"},
		{name: "ends before it starts", token: operatorToken, body: `{"dag":"*","reason":"x","starts_at":"END","ends_at":"START"}`, status: http.StatusBadRequest, code: "invalid_payload", message: "not after it starts"},
		{name: "already ended", token: operatorToken, body: `{"dag":"*","reason":"x","starts_at":"PAST0","ends_at":"PAST1"}`, status: http.StatusBadRequest, code: "invalid_payload", message: "which has passed"},
		{name: "unknown severity", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"1h","severity":"urgent"}`, status: http.StatusBadRequest, code: "invalid_payload", field: "severity"},
		{name: "unknown instance", token: operatorToken, body: `{"dag":"*","reason":"x","duration":"1h","instance":"staging"}`, status: http.StatusUnprocessableEntity, code: "unknown_instance"},
		{name: "duration is a string", token: operatorToken, body: `{"dag":"*","reason":"x","duration":7200}`, status: http.StatusBadRequest, code: "invalid_payload", message: "duration must be a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := time.Now().UTC().Truncate(time.Second)
			res := b.do(t, http.MethodPost, "/api/v1/silences", tt.token, []byte(silenceTimes(now, tt.body)))
			after := time.Now().UTC()
			require.Equal(t, tt.status, res.status, string(res.raw))
			list, err := b.store.SilenceList(context.Background(), &store.SilenceListParams{})
			require.NoError(t, err)
			if tt.code != "" {
				require.Equal(t, tt.code, res.errorCode())
				require.Contains(t, res.errorMessage(), tt.message)
				if tt.field != "" {
					details, _ := res.body["error"].(map[string]any)["details"].(map[string]any)
					require.Equal(t, tt.field, details["field"])
				}
				require.Empty(t, list, "a refused silence is not stored")
				return
			}
			require.Len(t, list, 1)
			got := list[0]
			require.Equal(t, got.ID, res.body["id"])
			require.Equal(t, tt.want, got.Matcher)
			if tt.starts == 0 { // from now
				require.WithinRange(t, got.StartsAt, now, after)
				require.Equal(t, tt.ends, got.EndsAt.Sub(got.StartsAt))
			} else {
				require.Equal(t, now.Add(tt.starts), got.StartsAt)
				require.Equal(t, now.Add(tt.ends), got.EndsAt)
			}
			require.Contains(t, []string{"ci-operator", "ci-admin"}, got.CreatedBy)
			require.Equal(t, got.CreatedBy, res.body["created_by"])
		})
	}
}

func TestListAndExpireSilences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now().UTC()
	create := func(body string) string {
		t.Helper()
		res := b.do(t, http.MethodPost, "/api/v1/silences", operatorToken, []byte(silenceTimes(start, body)))
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		return res.body["id"].(string)
	}
	now := create(`{"dag":"finance_*","reason":"warehouse migration","duration":"2h"}`)
	later := create(`{"dag":"*","reason":"release","starts_at":"START","duration":"1h"}`)

	ids := func(query string) []string {
		t.Helper()
		res := b.do(t, http.MethodGet, "/api/v1/silences"+query, viewerToken, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		var out []string
		for _, s := range res.body["silences"].([]any) {
			out = append(out, s.(map[string]any)["id"].(string))
		}
		return out
	}
	require.Equal(t, []string{later, now}, ids(""), "all, newest first")
	require.Equal(t, []string{now}, ids("?active=true"), "active now")
	require.Equal(t, []string{later}, ids("?limit=1"))

	for _, tt := range []struct {
		name, path, token, body string
		status                  int
		code, message           string
	}{
		{name: "bad active", path: "/api/v1/silences?active=yes", token: viewerToken, status: http.StatusBadRequest, code: "invalid_parameter"},
		{name: "unknown parameter", path: "/api/v1/silences?dag=x", token: viewerToken, status: http.StatusBadRequest, code: "invalid_parameter", message: "known parameters are active, limit"},
		{name: "no token", path: "/api/v1/silences", status: http.StatusUnauthorized, code: "unauthorized"},
		{name: "viewer may not expire", path: "/api/v1/silences/" + now + "/expire", token: viewerToken, body: `{}`, status: http.StatusForbidden, code: "forbidden"},
		{name: "expire takes no fields", path: "/api/v1/silences/" + now + "/expire", token: operatorToken, body: `{"reason":"x"}`, status: http.StatusBadRequest, code: "invalid_payload", message: "takes no fields"},
		{name: "expire needs an object", path: "/api/v1/silences/" + now + "/expire", token: operatorToken, body: `[]`, status: http.StatusBadRequest, code: "invalid_payload"},
		{name: "unknown silence", path: "/api/v1/silences/sil_nope/expire", token: operatorToken, body: `{}`, status: http.StatusNotFound, code: "not_found", message: "silence sil_nope not found"},
	} {
		method := http.MethodGet
		var body []byte
		if tt.body != "" {
			method, body = http.MethodPost, []byte(tt.body)
		}
		res := b.do(t, method, tt.path, tt.token, body)
		require.Equal(t, tt.status, res.status, "%s: %s", tt.name, res.raw)
		require.Equal(t, tt.code, res.errorCode(), tt.name)
		require.Contains(t, res.errorMessage(), tt.message, tt.name)
	}

	res := b.do(t, http.MethodPost, "/api/v1/silences/"+now+"/expire", operatorToken, []byte(`{}`))
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, "ci-operator", res.body["expired_by"])
	expiredAt, err := time.Parse(time.RFC3339, res.body["expired_at"].(string))
	require.NoError(t, err)
	require.WithinRange(t, expiredAt, start, time.Now())
	require.Empty(t, ids("?active=true"), "an expired silence is not active")

	res = b.do(t, http.MethodPost, "/api/v1/silences/"+now+"/expire", adminToken, []byte(`{}`))
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Equal(t, "conflict", res.errorCode())
	require.Contains(t, res.errorMessage(), "already expired by ci-operator")

	entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "silence."})
	require.NoError(t, err)
	actions := make([]string, len(entries))
	for i, e := range entries {
		actions[i] = e.Action + " by " + e.Actor
	}
	require.Equal(t, []string{"silence.created by ci-operator", "silence.created by ci-operator", "silence.expired by ci-operator"}, actions)
}
