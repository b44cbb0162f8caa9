// Package storm is the harness behind `medic bench storm`: it replays a
// storm of synthetic task failures (a few causes across many DAGs and runs,
// from a fixed seed) through the webhook's decode and signature check and
// the ingest service, on a temporary SQLite database, and measures ingest
// throughput, latency per event, events lost and how many incidents storm
// coalescing made of them. It never touches a network service.
package storm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

// Options configures a run.
type Options struct {
	// Events is how many failures are sent.
	Events int
	// Seed makes the storm reproducible.
	Seed uint64
	// Senders is how many failures are in flight at once (webhook callers).
	Senders int
	// Dir holds the temporary database; os.TempDir when empty.
	Dir string
}

// Result is what a run measured.
type Result struct {
	Events    int `json:"events"`
	Causes    int `json:"causes"`
	DAGs      int `json:"dags"`
	Senders   int `json:"senders"`
	Recorded  int `json:"recorded"`
	Lost      int `json:"lost"`
	Incidents int `json:"incidents"`
	// IncidentSizes are the incidents' event counts, largest first.
	IncidentSizes []int   `json:"incident_sizes"`
	Seconds       float64 `json:"seconds"`
	EventsPerSec  float64 `json:"events_per_sec"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	Seed          uint64  `json:"seed"`
}

var secret = []byte("bench-storm-secret-0123456789")

// causes are the failures of the storm: most of it one warehouse outage,
// the rest a few unrelated failures, each its own incident.
var causes = []struct {
	weight int
	text   func(r *rand.Rand) string
}{
	{70, func(r *rand.Rand) string {
		return fmt.Sprintf(`psycopg2.OperationalError: connection to server at "warehouse.internal" (10.2.3.4), port 5432 failed: Connection refused (after %d ms)`, r.IntN(900)+100)
	}},
	{15, func(r *rand.Rand) string {
		return fmt.Sprintf(`requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.partner.io', port=443): Max retries exceeded with url: /v2/orders/%d`, r.IntN(1e6))
	}},
	{10, func(r *rand.Rand) string {
		return fmt.Sprintf("Traceback (most recent call last):\n  File \"/opt/airflow/dags/transform.py\", line 88, in clean\n    row[%q]\nKeyError: 'customer_ref_%d'", "customer_ref", r.IntN(9))
	}},
	{5, func(r *rand.Rand) string {
		return fmt.Sprintf(`redis.exceptions.ConnectionError: Error 111 connecting to cache01.internal:6379. Connection refused. (pool %d)`, r.IntN(4))
	}},
}

// Run replays the storm.
func Run(ctx context.Context, o Options) (_ *Result, err error) {
	if o.Events < 1 {
		return nil, fmt.Errorf("storm of %d events: want at least 1", o.Events)
	}
	if o.Senders < 1 {
		o.Senders = 8
	}
	dir, err := os.MkdirTemp(o.Dir, "medic-bench-storm-")
	if err != nil {
		return nil, fmt.Errorf("temporary database: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "medic.db")})
	if err != nil {
		return nil, fmt.Errorf("open temporary database: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	svc := ingest.NewService(st, 24*time.Hour, slog.New(slog.DiscardHandler), nil, ingest.WithCoalesce(config.DefaultCoalesce()))

	bodies, dags := generate(o)
	lat := make([]time.Duration, len(bodies))
	var (
		mu   sync.Mutex
		next int
	)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range o.Senders {
		g.Go(func() error {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(bodies) {
					return nil
				}
				t0 := time.Now()
				if err := deliver(gctx, svc, bodies[i]); err != nil {
					return err
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)

	res := &Result{Events: o.Events, Causes: len(causes), DAGs: dags, Senders: o.Senders, Seed: o.Seed, Seconds: elapsed.Seconds()}
	if err := count(ctx, st, res); err != nil {
		return nil, err
	}
	res.Lost = res.Events - res.Recorded
	res.EventsPerSec = float64(o.Events) / elapsed.Seconds()
	slices.Sort(lat)
	res.P50Ms = ms(lat[len(lat)*50/100])
	res.P99Ms = ms(lat[min(len(lat)*99/100, len(lat)-1)])
	return res, nil
}

// deliver is what the webhook does with one body: check its signature,
// decode it and record it.
func deliver(ctx context.Context, svc *ingest.Service, body []byte) error {
	if err := ingest.VerifySignature(secret, body, ingest.Sign(secret, body)); err != nil {
		return fmt.Errorf("verify callback: %w", err)
	}
	ev, err := ingest.DecodeCallback(body, "main", time.Now())
	if err != nil {
		return fmt.Errorf("decode callback: %w", err)
	}
	if _, err := svc.RecordEvent(ctx, ev); err != nil {
		return err
	}
	return nil
}

// generate builds the callback bodies: every failure a distinct task try,
// spread over many DAGs and runs, each run failing of one cause.
func generate(o Options) ([][]byte, int) {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	total := 0
	for _, c := range causes {
		total += c.weight
	}
	dags := max(1, o.Events/40)
	seen := map[string]bool{}
	out := make([][]byte, o.Events)
	for i := range out {
		w, cause := r.IntN(total), 0
		for w >= causes[cause].weight {
			w -= causes[cause].weight
			cause++
		}
		dag := fmt.Sprintf("c%d_dag_%03d", cause, r.IntN(dags))
		seen[dag] = true
		body, _ := json.Marshal(map[string]any{
			"dag_id": dag, "run_id": fmt.Sprintf("scheduled__2026-06-01T%02d:00:00+00:00", r.IntN(6)),
			"task_id": fmt.Sprintf("task_%05d", i), "try_number": 1, "exception": causes[cause].text(r),
		})
		out[i] = body
	}
	return out, len(seen)
}

// count reads back how many failures were stored and in how many
// incidents.
func count(ctx context.Context, st store.Store, res *Result) error {
	p := &store.IncidentListParams{Limit: store.MaxListLimit}
	for {
		page, err := st.IncidentList(ctx, p)
		if err != nil {
			return fmt.Errorf("count incidents: %w", err)
		}
		for _, in := range page.Incidents {
			res.Incidents++
			res.Recorded += in.EventCount
			res.IncidentSizes = append(res.IncidentSizes, in.EventCount)
		}
		if page.NextCursor == "" {
			slices.SortFunc(res.IncidentSizes, func(a, b int) int { return b - a })
			return nil
		}
		p.Cursor = page.NextCursor
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteTable prints the result for people.
func (r *Result) WriteTable(w io.Writer) error {
	_, err := fmt.Fprintf(w, "medic bench storm: %d failures of %d causes across %d DAGs, %d senders, seed %d\n"+
		"ingest: %.0f events/s (%.2f s), latency p50 %.2f ms, p99 %.2f ms\n"+
		"recorded: %d, lost: %d\nincidents: %d (events each: %v)\n",
		r.Events, r.Causes, r.DAGs, r.Senders, r.Seed, r.EventsPerSec, r.Seconds, r.P50Ms, r.P99Ms, r.Recorded, r.Lost, r.Incidents,
		r.IncidentSizes)
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteJSON prints the result as one JSON line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
