package ingest_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

func FuzzDecodeOpenLineage(f *testing.F) {
	for _, name := range []string{
		"openlineage_fail.json", "openlineage_fail_airflow2_mapped.json", "openlineage_start.json",
		"openlineage_complete.json", "openlineage_dag_fail.json",
	} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"eventType":"FAIL","eventTime":"2026-05-01T00:00:00","run":{"runId":"r","facets":{"airflow":{` +
		`"dag":{"dag_id":"d"},"dagRun":{"run_id":"r"},"task":{},"taskInstance":{"try_number":1,"map_index":null}}}},` +
		`"job":{"namespace":"main","name":"d.t"},"inputs":[{"namespace":"s3://b","name":"k"},{"namespace":"s3://b","name":"k"}]}`))
	f.Add([]byte(`{"run":{"facets":{"airflow":[]}},"job":{}}`))
	f.Add([]byte(`{"dataset":{"namespace":"s3://b","name":"k"}}`))
	f.Add([]byte(`{"eventType":"FAIL","run":{"runId":"r","runId":"s"}}`))
	f.Add([]byte("{\"eventType\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ingest.DecodeOpenLineage(body, "main", olInstances, olNow)
		if err != nil {
			var de *ingest.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, incident.ErrInvalid) {
				t.Fatalf("error is not a *DecodeError matching ErrInvalid: %v", err)
			}
			if res != nil {
				t.Fatal("a result was returned with an error")
			}
			return
		}
		if (res.Event == nil) == (res.Ignored == "") {
			t.Fatalf("want exactly one of an event and an ignore reason: %+v", res)
		}
		ev := res.Event
		if ev == nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("accepted event fails Validate: %v", err)
		}
		if ev.Source != incident.SourceOpenLineage || !ev.ReceivedAt.Equal(olNow) || ev.OccurredAt.After(olNow) {
			t.Fatalf("bad provenance: %+v", ev)
		}
		if ev.Instance != "main" && ev.Instance != "prod" {
			t.Fatalf("instance %q is not configured", ev.Instance)
		}
		seen := map[string]bool{}
		for _, d := range ev.Datasets {
			if seen[d] {
				t.Fatalf("dataset %q twice", d)
			}
			seen[d] = true
		}
		for _, s := range append([]string{ev.Exception, ev.Owner, ev.LogURL, ev.DagID, ev.RunID, ev.TaskID}, ev.Datasets...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %q", s)
			}
		}
	})
}
