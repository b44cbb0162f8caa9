package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

// BenchmarkEventRecord measures recording failure events: every fourth is a
// new incident (with its session, audit entry and triage job), the rest join
// it, and each is delivered twice (the second a duplicate).
func BenchmarkEventRecord(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "medic.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	b.ResetTimer()
	for i := range b.N {
		ev := storetest.Event("etl", fmt.Sprintf("run%d", i/4), fmt.Sprintf("task%d", i%4), 1)
		for range 2 {
			if _, err := st.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
