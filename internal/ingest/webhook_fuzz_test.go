package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

func FuzzDecodeCallback(f *testing.F) {
	f.Add(readFixture(f, "callback_airflow2.json"))
	f.Add(readFixture(f, "callback_airflow3.json"))
	f.Add(payload(f, nil))
	f.Add(payload(f, map[string]any{"tags": []string{"a", "a", " b "}, "map_index": 7, "state": "failed"}))
	f.Add(payload(f, map[string]any{"exception": strings.Repeat("é", incident.MaxExceptionLen)}))
	f.Add([]byte(`{"dag_id":"d","run_id":"r","task_id":"t","try_number":1} {}`))
	f.Add([]byte(`{"dag_id":"d","dag_id":"e"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte("{\"dag_id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ingest.DecodeCallback(body, "main", now)
		if err != nil {
			var de *ingest.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, incident.ErrInvalid) {
				t.Fatalf("error is not a *DecodeError matching ErrInvalid: %v", err)
			}
			if ev != nil {
				t.Fatal("an event was returned with an error")
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("accepted event fails Validate: %v", err)
		}
		if ev.Source != incident.SourceCallback || !ev.ReceivedAt.Equal(now) || ev.OccurredAt.After(now) {
			t.Fatalf("bad provenance: %+v", ev)
		}
		if len(ev.Tags) > ingest.MaxTags {
			t.Fatalf("%d tags", len(ev.Tags))
		}
		for _, tag := range ev.Tags {
			if tag == "" || utf8.RuneCountInString(tag) > ingest.MaxTagLen {
				t.Fatalf("tag %q out of bounds", tag)
			}
		}
		for _, s := range []string{ev.Exception, ev.Owner, ev.LogURL, ev.DagID, ev.RunID, ev.TaskID, ev.Instance} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %q", s)
			}
		}
		if ev.LogURL != "" && !strings.HasPrefix(ev.LogURL, "http://") && !strings.HasPrefix(ev.LogURL, "https://") {
			t.Fatalf("log_url %q is not http(s)", ev.LogURL)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	secret := []byte("s3cret")
	body := []byte(`{"dag_id":"etl"}`)
	f.Add(secret, body, ingest.Sign(secret, body))
	f.Add(secret, body, "")
	f.Add([]byte{}, body, "sha256=")
	f.Add(secret, []byte{}, "sha256=zz")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		err := ingest.VerifySignature(secret, body, header)
		if err == nil && (len(secret) == 0 || header == "") {
			t.Fatal("verified without a secret or a header")
		}
		if err != nil && !errors.Is(err, ingest.ErrSignatureMissing) && !errors.Is(err, ingest.ErrSignatureInvalid) {
			t.Fatalf("untyped error: %v", err)
		}
		if len(secret) > 0 {
			if err := ingest.VerifySignature(secret, body, ingest.Sign(secret, body)); err != nil {
				t.Fatalf("own signature rejected: %v", err)
			}
		}
	})
}
