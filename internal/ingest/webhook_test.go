package ingest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

var now = time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// payload renders a minimal valid callback body with fields overridden (a nil
// value removes the field).
func payload(t testing.TB, over map[string]any) []byte {
	t.Helper()
	m := map[string]any{"dag_id": "etl", "run_id": "manual__1", "task_id": "load", "try_number": 1}
	for k, v := range over {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestDecodeCallbackAccepts(t *testing.T) {
	t.Parallel()
	logical := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	occurred := time.Date(2026, 5, 1, 2, 11, 0, 500_000_000, time.UTC)
	manyTags := make([]string, 0, 80)
	for i := range 80 {
		manyTags = append(manyTags, fmt.Sprintf("tag%02d", i))
	}
	tests := []struct {
		name  string
		body  []byte
		check func(t *testing.T, ev *incident.FailureEvent)
	}{
		{"minimal, defaults applied", payload(t, nil), func(t *testing.T, ev *incident.FailureEvent) {
			require.Equal(t, incident.Key{Instance: "main", DagID: "etl", RunID: "manual__1", TaskID: "load", TryNumber: 1}, ev.Key)
			require.Equal(t, -1, ev.MapIndex)
			require.Equal(t, incident.SourceCallback, ev.Source)
			require.Equal(t, now, ev.ReceivedAt)
			require.Equal(t, now, ev.OccurredAt)
			require.Nil(t, ev.LogicalDate)
			require.Empty(t, ev.Tags)
		}},
		{"airflow 2.x payload", readFixture(t, "callback_airflow2.json"), func(t *testing.T, ev *incident.FailureEvent) {
			require.Equal(t, "main", ev.Instance)
			require.Equal(t, 2, ev.TryNumber)
			require.Equal(t, &logical, ev.LogicalDate, "execution_date stands in for logical_date")
			require.Equal(t, []string{"orders", "tier1"}, ev.Tags)
			require.Equal(t, "data-eng", ev.Owner)
			require.Contains(t, ev.Exception, "Connection refused")
			require.Equal(t, -1, ev.MapIndex)
		}},
		{"airflow 3.x payload", readFixture(t, "callback_airflow3.json"), func(t *testing.T, ev *incident.FailureEvent) {
			require.Equal(t, "prod", ev.Instance)
			require.Equal(t, 3, ev.MapIndex)
			require.Nil(t, ev.LogicalDate)
			require.Equal(t, occurred, ev.OccurredAt)
			require.Empty(t, ev.Tags)
		}},
		{"explicit nulls for optional fields", payload(t, map[string]any{
			"logical_date": json.RawMessage("null"), "map_index": json.RawMessage("null"), "exception": json.RawMessage("null"),
			"tags": json.RawMessage("null"), "instance": json.RawMessage("null"), "occurred_at": json.RawMessage("null"),
		}), func(t *testing.T, ev *incident.FailureEvent) {
			require.Nil(t, ev.LogicalDate)
			require.Equal(t, -1, ev.MapIndex)
			require.Equal(t, "main", ev.Instance)
		}},
		{
			"time zone offsets are normalised to UTC", payload(t, map[string]any{"logical_date": "2026-05-01T02:00:00+02:00"}),
			func(t *testing.T, ev *incident.FailureEvent) { require.Equal(t, &logical, ev.LogicalDate) },
		},
		{
			"a future occurred_at is clamped to receipt", payload(t, map[string]any{"occurred_at": "2030-01-01T00:00:00Z"}),
			func(t *testing.T, ev *incident.FailureEvent) { require.Equal(t, now, ev.OccurredAt) },
		},
		{
			"huge exception truncated on a rune boundary", payload(t, map[string]any{"exception": strings.Repeat("é", incident.MaxExceptionLen)}),
			func(t *testing.T, ev *incident.FailureEvent) {
				require.LessOrEqual(t, len(ev.Exception), incident.MaxExceptionLen)
				require.True(t, utf8.ValidString(ev.Exception))
				require.True(t, strings.HasSuffix(ev.Exception, ingest.TruncatedMarker))
				require.True(t, strings.HasPrefix(ev.Exception, "éé"))
			},
		},
		{
			"exception at the limit kept whole", payload(t, map[string]any{"exception": strings.Repeat("x", incident.MaxExceptionLen)}),
			func(t *testing.T, ev *incident.FailureEvent) { require.Len(t, ev.Exception, incident.MaxExceptionLen) },
		},
		{"tags capped in number", payload(t, map[string]any{"tags": manyTags}), func(t *testing.T, ev *incident.FailureEvent) {
			require.Len(t, ev.Tags, ingest.MaxTags)
			require.Equal(t, manyTags[:ingest.MaxTags], ev.Tags)
		}},
		{
			"tags trimmed, deduplicated and shortened", payload(t, map[string]any{"tags": []string{" a ", "a", "", strings.Repeat("ü", 150)}}),
			func(t *testing.T, ev *incident.FailureEvent) {
				require.Equal(t, []string{"a", strings.Repeat("ü", ingest.MaxTagLen)}, ev.Tags)
			},
		},
		{
			"unknown fields of any shape are ignored", payload(t, map[string]any{"future": map[string]any{"x": []int{1}}, "note": 3}),
			func(t *testing.T, ev *incident.FailureEvent) { require.Equal(t, "etl", ev.DagID) },
		},
		{
			"retry and upstream states are failures", payload(t, map[string]any{"state": "upstream_failed", "event": "task_failed"}),
			func(t *testing.T, ev *incident.FailureEvent) { require.Equal(t, "load", ev.TaskID) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ingest.DecodeCallback(tt.body, "main", now)
			require.NoError(t, err)
			require.NoError(t, ev.Validate())
			tt.check(t, ev)
		})
	}
}

func TestDecodeCallbackRejects(t *testing.T) {
	t.Parallel()
	valid := string(payload(t, nil))
	tests := []struct {
		name     string
		body     string
		field    string
		message  string // exact, when set
		contains string
	}{
		{name: "missing dag_id", body: string(payload(t, map[string]any{"dag_id": nil})), field: "dag_id", message: "dag_id is required"},
		{name: "blank run_id", body: string(payload(t, map[string]any{"run_id": "  "})), field: "run_id", message: "run_id is required"},
		{name: "missing task_id", body: string(payload(t, map[string]any{"task_id": nil})), field: "task_id", message: "task_id is required"},
		{name: "missing try_number", body: string(payload(t, map[string]any{"try_number": nil})), field: "try_number", message: "try_number is required"},
		{
			name: "try_number string", body: string(payload(t, map[string]any{"try_number": "abc"})), field: "try_number",
			message: `try_number must be an integer >= 1, got "abc"`,
		},
		{name: "try_number numeric string", body: string(payload(t, map[string]any{"try_number": "2"})), field: "try_number", contains: `got "2"`},
		{
			name: "try_number zero", body: string(payload(t, map[string]any{"try_number": 0})), field: "try_number",
			message: "try_number must be an integer >= 1, got 0",
		},
		{name: "try_number fraction", body: string(payload(t, map[string]any{"try_number": 1.5})), field: "try_number", contains: "got 1.5"},
		{name: "try_number overflow", body: string(payload(t, map[string]any{"try_number": json.RawMessage("99999999999999999999")})), field: "try_number"},
		{name: "dag_id number", body: string(payload(t, map[string]any{"dag_id": 42})), field: "dag_id", message: "dag_id must be a string, got 42"},
		{name: "map_index below -1", body: string(payload(t, map[string]any{"map_index": -2})), field: "map_index", contains: "got -2"},
		{name: "tags not an array", body: string(payload(t, map[string]any{"tags": "a,b"})), field: "tags", contains: "must be an array of strings"},
		{name: "tag not a string", body: string(payload(t, map[string]any{"tags": []any{"a", 1}})), field: "tags[1]", message: "tags[1] must be a string, got 1"},
		{name: "logical_date words", body: string(payload(t, map[string]any{"logical_date": "yesterday"})), field: "logical_date", contains: "RFC 3339"},
		{name: "logical_date without zone", body: string(payload(t, map[string]any{"logical_date": "2026-05-01T00:00:00"})), field: "logical_date", contains: "time zone"},
		{name: "occurred_at number", body: string(payload(t, map[string]any{"occurred_at": 1714521600})), field: "occurred_at"},
		{name: "exception object", body: string(payload(t, map[string]any{"exception": map[string]string{"type": "KeyError"}})), field: "exception"},
		{name: "not a failure state", body: string(payload(t, map[string]any{"state": "success"})), field: "state", contains: `"success" is not a failure state`},
		{name: "unsupported event", body: string(payload(t, map[string]any{"event": "dag_failed"})), field: "event", contains: "not supported"},
		{name: "javascript log_url", body: string(payload(t, map[string]any{"log_url": "javascript:alert(1)"})), field: "log_url", contains: "http or https"},
		{name: "relative log_url", body: string(payload(t, map[string]any{"log_url": "/log?x=1"})), field: "log_url"},
		{name: "forbidden character in an id", body: string(payload(t, map[string]any{"run_id": "a|b"})), contains: "run_id contains a forbidden character"},
		{name: "id too long", body: string(payload(t, map[string]any{"dag_id": strings.Repeat("d", 251)})), contains: "dag_id is longer than 250"},
		{name: "trailing garbage", body: valid + " garbage", contains: "data after the JSON object"},
		{name: "two objects", body: valid + valid, contains: "data after the JSON object"},
		{name: "array", body: "[" + valid + "]", message: "body must be a JSON object, got an array"},
		{name: "string", body: `"hello"`, message: "body must be a JSON object, got a string"},
		{name: "null", body: "null", message: "body must be a JSON object, got null"},
		{name: "number", body: "42", message: "body must be a JSON object, got a number"},
		{name: "empty", body: "", message: "body is empty: want a JSON object"},
		{name: "whitespace only", body: " \n", message: "body is empty: want a JSON object"},
		{name: "truncated", body: valid[:len(valid)-1], contains: "ends before the object is complete"},
		{name: "syntax error", body: `{"dag_id": etl}`, contains: "not valid JSON"},
		{name: "invalid UTF-8", body: `{"dag_id": "etl` + "\xff\xfe" + `", "run_id": "r", "task_id": "t", "try_number": 1}`, message: "body is not valid UTF-8"},
		{
			name: "duplicate member", body: `{"dag_id": "a", "dag_id": "b", "run_id": "r", "task_id": "t", "try_number": 1}`,
			field: `"dag_id"`, message: `"dag_id" appears more than once`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ingest.DecodeCallback([]byte(tt.body), "main", now)
			require.Nil(t, ev)
			require.ErrorIs(t, err, incident.ErrInvalid)
			var de *ingest.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.field, de.Field)
			if tt.message != "" {
				require.Equal(t, tt.message, err.Error())
			}
			require.Contains(t, err.Error(), tt.contains)
		})
	}
}

func TestDecodeCallbackNeedsAnInstance(t *testing.T) {
	t.Parallel()
	_, err := ingest.DecodeCallback(payload(t, nil), "", now)
	var de *ingest.DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "instance", de.Field)

	ev, err := ingest.DecodeCallback(payload(t, map[string]any{"instance": "prod"}), "", now)
	require.NoError(t, err)
	require.Equal(t, "prod", ev.Instance)
}

func TestDecodeErrorWrapsJSONError(t *testing.T) {
	t.Parallel()
	_, err := ingest.DecodeCallback([]byte(`{"dag_id": ]`), "main", now)
	var syn *json.SyntaxError
	require.ErrorAs(t, err, &syn, "the JSON cause stays reachable")
	require.ErrorIs(t, err, incident.ErrInvalid)
}

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	idx := 2
	logical := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	body, err := json.Marshal(ingest.CallbackPayload{
		Instance: "prod", DagID: "d", RunID: "r", TaskID: "t", TryNumber: 3, MapIndex: &idx, LogicalDate: &logical,
		Exception: "boom", LogURL: "https://airflow/log", Owner: "o", Tags: []string{"x"}, State: "failed",
	})
	require.NoError(t, err)
	ev, err := ingest.DecodeCallback(body, "main", now)
	require.NoError(t, err)
	require.Equal(t, incident.Key{Instance: "prod", DagID: "d", RunID: "r", TaskID: "t", TryNumber: 3}, ev.Key)
	require.Equal(t, 2, ev.MapIndex)
	require.Equal(t, &logical, ev.LogicalDate)
	require.Equal(t, "https://airflow/log", ev.LogURL)
}
