package ingest_test

import (
	"testing"
	"time"

	"github.com/medic-sh/medic/internal/ingest"
)

func BenchmarkDecodeAndVerifyCallback(b *testing.B) {
	body := []byte(`{"dag_id":"orders_etl","run_id":"scheduled__2026-05-01T02:00:00+00:00","task_id":"load","try_number":2,` +
		`"exception":"psycopg2.errors.UndefinedColumn: column \"x\" does not exist","owner":"data-eng","tags":["tier1","finance"]}`)
	secret := []byte("bench-secret-0123456789")
	sig := ingest.Sign(secret, body)
	now := time.Now()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := ingest.VerifySignature(secret, body, sig); err != nil {
			b.Fatal(err)
		}
		if _, err := ingest.DecodeCallback(body, "main", now); err != nil {
			b.Fatal(err)
		}
	}
}
