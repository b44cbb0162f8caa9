package airflow

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		body          string
		title, detail string
	}{
		{
			"2.x problem with null detail",
			`{"detail": null, "status": 404, "title": "TaskInstance not found", "type": "https://airflow.apache.org/docs/apache-airflow/2.10.0/stable-rest-api-ref.html#section/Errors/NotFound"}`,
			"TaskInstance not found", "",
		},
		{
			"2.x problem with detail",
			`{"title":"Not Found","detail":"DAGRun with DAG ID: 'X' and DagRun ID: 'Y' not found","status":404,"type":"about:blank"}`,
			"Not Found", "DAGRun with DAG ID: 'X' and DagRun ID: 'Y' not found",
		},
		{"3.x string detail", `{"detail":"Token Expired"}`, "", "Token Expired"},
		{
			"3.x object detail",
			`{"detail":{"reason":"Unique constraint violation","statement":"hidden","orig_error":"hidden","message":"Serious error when handling your request."}}`,
			"", "Unique constraint violation: Serious error when handling your request.",
		},
		{"3.x object without known keys", `{"detail":{"b":2,"a":"x"}}`, "", "a=x b=2"},
		{
			"3.x 422 list never echoes input",
			`{"detail":[{"type":"missing","loc":["body","logical_date"],"msg":"Field required","input":{"password":"hunter2"}},{"type":"x","loc":["query","limit"],"msg":"bad"}]}`,
			"", "body.logical_date: Field required; query.limit: bad",
		},
		{"html from a proxy", "<html><body>502 Bad Gateway</body></html>\n", "", "<html><body>502 Bad Gateway</body></html>"},
		{"empty", "", "", ""},
		{"control characters", "{\"detail\":\"a\\u0000b\\nc\"}", "", "ab c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			title, detail := parseErrorBody([]byte(tt.body))
			require.Equal(t, tt.title, title)
			require.Equal(t, tt.detail, detail)
			require.NotContains(t, detail, "hunter2")
		})
	}
}

func FuzzParseError(f *testing.F) {
	for _, s := range []string{
		`{"detail":null,"status":401,"title":"Unauthorized","type":"x"}`,
		`{"detail":"Invalid JWT token"}`,
		`{"detail":{"reason":"r","message":"m"}}`,
		`{"detail":[{"loc":["body",0],"msg":"m","type":"t","input":"secret"}]}`,
		`{"detail":[1,"x",null,{"a":[]}]}`,
		`{"title":5,"detail":{"input":"secret"}}`,
		"\xff\xfe<html>",
		`{"message":"gateway"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		title, detail := parseErrorBody(body)
		for _, s := range []string{title, detail} {
			require.True(t, utf8.ValidString(s))
			require.LessOrEqual(t, len(s), maxErrorText+len("…"))
			require.False(t, strings.ContainsAny(s, "\n\r\x00"))
		}
		e := &APIError{Op: "op", Instance: "i", Status: 400, Title: title, Detail: detail}
		require.True(t, errors.Is(e, ErrBadRequest))
		_ = e.Error()
	})
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]error{
		http.StatusNotFound: ErrNotFound, http.StatusUnauthorized: ErrUnauthorized,
		http.StatusForbidden: ErrForbidden, http.StatusConflict: ErrConflict,
		http.StatusBadRequest: ErrBadRequest, http.StatusUnprocessableEntity: ErrBadRequest,
	} {
		err := error(&APIError{Status: status})
		require.ErrorIs(t, err, want)
		require.NotErrorIs(t, err, ErrConfig)
		for _, other := range []error{ErrNotFound, ErrUnauthorized, ErrForbidden, ErrConflict, ErrBadRequest} {
			if !errors.Is(other, want) {
				require.NotErrorIs(t, err, other)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"Wed, 01 Jan 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Wed, 01 Jan 2025 11:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	c := &Client{minBackoff: 10 * time.Millisecond, maxBackoff: time.Second, now: func() time.Time { return now }}
	require.Equal(t, time.Second, c.retryDelay(0, "3600"), "Retry-After is capped")
	for attempt := range 12 {
		d := c.retryDelay(attempt, "")
		ceiling := min(10*time.Millisecond<<attempt, time.Second)
		require.GreaterOrEqual(t, d, ceiling/2)
		require.LessOrEqual(t, d, ceiling)
	}
}
