package airflow_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
)

const logPath = "/api/v1/dags/etl/dagRuns/r1/taskInstances/load/logs/1"

func fetchLog(t *testing.T, b *testBundle, opts airflow.LogOptions) *airflow.Log {
	t.Helper()
	l, err := b.client.TaskLog(context.Background(), "etl", "r1", "load", 1, opts)
	require.NoError(t, err)
	require.True(t, utf8.ValidString(l.Text))
	require.NotContains(t, l.Text, "\x00")
	return l
}

func TestTaskLogAirflow2PlainText(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, logPath, r.URL.Path)
		assert.Equal(t, "text/plain", r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "worker-1\n*** Found local files:\n***   * /opt/airflow/logs/dag_id=etl/attempt=1.log\n"+
			"[2024-03-13, 15:19:53 UTC] {taskinstance.py:441} INFO - hello\n"+
			"[2024-03-13, 15:19:54 UTC] {taskinstance.py:1776} ERROR - Task failed with exception\n")
	}), nil)
	l := fetchLog(t, b, airflow.LogOptions{})
	require.Equal(t, "[2024-03-13, 15:19:53 UTC] {taskinstance.py:441} INFO - hello\n"+
		"[2024-03-13, 15:19:54 UTC] {taskinstance.py:1776} ERROR - Task failed with exception", l.Text)
	require.Equal(t, []string{"/opt/airflow/logs/dag_id=etl/attempt=1.log"}, l.Sources)
	require.False(t, l.Truncated)
	require.Equal(t, 2, l.Lines)
}

func TestTaskLogAirflow2JSONRepr(t *testing.T) {
	t.Parallel()
	content := `[('worker-1', '*** Found logs in s3:\n***   * s3://logs/etl/attempt=1.log\nline 1\nit\'s caf\xe9 \u2603\n'), ` +
		`('worker-2', "second host's part")]`
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A proxy that ignores Accept and answers JSON.
		writeJSON(w, 200, map[string]any{
			"continuation_token": "eyJlbmRfb2ZfbG9nIjp0cnVlLCJsb2dfcG9zIjoxNn0.c2ln", "content": content,
		})
	}), nil)
	l := fetchLog(t, b, airflow.LogOptions{})
	require.Equal(t, "line 1\nit's café ☃\nsecond host's part", l.Text)
	require.Equal(t, []string{"s3://logs/etl/attempt=1.log"}, l.Sources)
	require.EqualValues(t, 1, b.hits.Load(), "end_of_log: no follow-up")
}

const ndjsonSample = `{"event":"::group::Log message source details","sources":["/opt/airflow/logs/dag_id=etl/attempt=1.log"]}
{"event":"::endgroup::"}
{"timestamp":"2025-01-01T00:00:00.123456Z","level":"info","event":"Executing task","logger":"airflow.task","dag_id":"etl","ti_id":"01"}
{"timestamp":"2025-01-01T00:00:01Z","level":"error","event":"Task failed with exception","logger":"task","error_detail":[{"exc_type":"ValueError","exc_value":"bad row 7","exc_notes":[],"syntax_error":null,"is_cause":false,"frames":[{"filename":"/dags/etl.py","lineno":12,"name":"load"}],"is_group":false,"exceptions":[]},{"exc_type":"KeyError","exc_value":"'id'","is_cause":true,"frames":[{"filename":"/dags/etl.py","lineno":7,"name":"parse","line":"row['id']"}]}]}
{"timestamp":"2025-01-01T00:00:02","level":"info","event":"Process exited","logger":"supervisor","pid":42,"exit_code":1,"signal_sent":"SIGKILL please"}
not json at all
`

const ndjsonRendered = `[2025-01-01T00:00:00.123456Z] {airflow.task} INFO - Executing task
[2025-01-01T00:00:01Z] {task} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/dags/etl.py", line 7, in parse
    row['id']
KeyError: 'id'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/dags/etl.py", line 12, in load
ValueError: bad row 7
[2025-01-01T00:00:02] {supervisor} INFO - Process exited exit_code=1 pid=42 signal_sent="SIGKILL please"
not json at all`

func TestTaskLogAirflow3NDJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/v2/dags/etl/dagRuns/r1/taskInstances/load/logs/1", r.URL.Path)
		assert.Equal(t, "application/x-ndjson", r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, ndjsonSample)
	}), v3Static)
	l := fetchLog(t, b, airflow.LogOptions{})
	require.Equal(t, ndjsonRendered, l.Text)
	require.Equal(t, []string{"/opt/airflow/logs/dag_id=etl/attempt=1.log"}, l.Sources)
}

func TestTaskLogAirflow3JSONFallback(t *testing.T) {
	t.Parallel()
	var entries []json.RawMessage
	for _, line := range strings.Split(strings.TrimSpace(ndjsonSample), "\n") {
		if json.Valid([]byte(line)) {
			entries = append(entries, json.RawMessage(line))
		} else {
			b, _ := json.Marshal(line)
			entries = append(entries, b)
		}
	}
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"content": entries, "continuation_token": nil})
	}), v3Static)
	l := fetchLog(t, b, airflow.LogOptions{})
	require.Equal(t, ndjsonRendered, l.Text)
}

func v3Static(o *airflow.Options) { o.Version, o.Token = "3", testToken }

// endless writes chunk repeatedly until size bytes or the client leaves.
func endless(contentType string, chunk []byte, size int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

func TestTaskLogHugeBodyIsBounded(t *testing.T) {
	t.Parallel()
	var plain, nd bytes.Buffer
	for i := 0; plain.Len() < 1<<20; i++ {
		fmt.Fprintf(&plain, "[2024-03-13, 15:19:53 UTC] {etl.py:%d} INFO - processed row batch %d\n", i, i)
	}
	event := strings.Repeat("x", 4000)
	for nd.Len() < 1<<20 {
		fmt.Fprintf(&nd, `{"timestamp":"2025-01-01T00:00:00Z","level":"info","event":"%s"}`+"\n", event)
	}
	tests := []struct {
		name string
		h    http.Handler
		mod  func(*airflow.Options)
	}{
		{"airflow 2 text", endless("text/plain", plain.Bytes(), 200<<20), nil},
		{"airflow 3 ndjson", endless("application/x-ndjson", nd.Bytes(), 200<<20), v3Static},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.h, tt.mod)
			const maxBytes = 64 << 10
			l := fetchLog(t, b, airflow.LogOptions{MaxBytes: maxBytes, MaxLines: 500})
			require.True(t, l.Truncated)
			require.LessOrEqual(t, len(l.Text), maxBytes)
			require.LessOrEqual(t, strings.Count(l.Text, "\n")+1, 500)
			require.Greater(t, l.Bytes, int64(32<<20), "it read far into the log")
			require.LessOrEqual(t, l.Bytes, int64(200<<20), "and stopped at the hard limit")
			lines := strings.Split(l.Text, "\n")
			require.Contains(t, lines[0], "INFO - ", "starts at a line boundary")
		})
	}
}

func TestTaskLogBinaryBytes(t *testing.T) {
	t.Parallel()
	body := append([]byte("worker\nstart\n"), []byte{0, 0, 0xff, 0xfe, 'x', 0x1b, '[', '3', '1', 'm', 'r', 'e', 'd', '\r', '\n'}...)
	body = append(body, bytes.Repeat([]byte{0x00, 0x01, 0x02, 0x80}, 100)...)
	body = append(body, "\nend\n"...)
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}), nil)
	l := fetchLog(t, b, airflow.LogOptions{})
	require.Equal(t, "start\n\uFFFDxred\n\uFFFD\nend", l.Text)
}

func TestTaskLogCurrentTryAndMapIndex(t *testing.T) {
	t.Parallel()
	var logURL atomic.Value
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/dags/etl/dagRuns/r1/taskInstances/load/3":
			writeJSON(w, 200, tiJSON("etl", "r1", "load", "failed", 2))
		case "/api/v1/dags/etl/dagRuns/r1/taskInstances/load/logs/2":
			logURL.Store(r.URL.RequestURI())
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "host\nmapped log\n")
		default:
			t.Errorf("unexpected %s", r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}), nil)
	l, err := b.client.TaskLog(context.Background(), "etl", "r1", "load", 0, airflow.LogOptions{MapIndex: ptr(3)})
	require.NoError(t, err)
	require.Equal(t, "mapped log", l.Text)
	require.Equal(t, "/api/v1/dags/etl/dagRuns/r1/taskInstances/load/logs/2?map_index=3", logURL.Load())
}

func TestTaskLogFollowsContinuationBounded(t *testing.T) {
	t.Parallel()
	notEnd := base64.RawURLEncoding.EncodeToString([]byte(`{"end_of_log":false,"log_pos":1}`)) + ".sig"
	var tokens []string
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens = append(tokens, r.URL.Query().Get("token")) // requests are sequential
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Airflow-Continuation-Token", notEnd) // a task that keeps running
		fmt.Fprintf(w, `{"event":"page %d"}`+"\n", len(tokens))
	}), v3Static)
	l := fetchLog(t, b, airflow.LogOptions{MaxLines: 2})
	require.Equal(t, "page 49\npage 50", l.Text)
	require.True(t, l.Truncated)
	require.Len(t, tokens, 50, "bounded")
	require.Equal(t, []string{"", notEnd}, tokens[:2])
}

func TestTaskLogErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem(w, 404, "TaskInstance not found", nil)
	}), nil)
	_, err := b.client.TaskLog(context.Background(), "etl", "r1", "load", 1, airflow.LogOptions{})
	require.ErrorIs(t, err, airflow.ErrNotFound)
	require.ErrorContains(t, err, "fetch log etl/r1/load try 1: 404 TaskInstance not found")
}
