package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/webhook"
	"github.com/medic-sh/medic/internal/report"
)

type delivery struct {
	header http.Header
	body   []byte
}

// receiver records deliveries and answers status.
type receiver struct {
	mu     sync.Mutex
	got    []delivery
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, delivery{header: r.Header.Clone(), body: body})
	w.WriteHeader(rc.status)
}

func update(reason string) notify.Update {
	inc := &incident.Incident{
		ID: "inc_1", Instance: "main", DagID: "orders_etl", RunID: "scheduled__1", FirstTaskID: "load",
		State: incident.StateResolved, Severity: incident.SeverityHigh, EventCount: 3, UpdatedAt: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	return notify.Update{Report: report.New(inc, nil, nil, "https://medic.example.com"), Reason: reason, Detail: "clear verified"}
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	secret := []byte("hook-secret-0123456789")
	tests := []struct {
		name    string
		status  int
		secret  []byte
		wantErr bool
	}{
		{name: "signed", status: http.StatusNoContent, secret: secret},
		{name: "unsigned", status: http.StatusOK},
		{name: "receiver fails", status: http.StatusBadGateway, secret: secret, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := &receiver{status: tt.status}
			srv := httptest.NewServer(rc)
			t.Cleanup(srv.Close)
			n := webhook.New(webhook.Config{Name: "bridge", URL: srv.URL, Secret: tt.secret})
			require.Equal(t, "webhook:bridge", n.Name())
			err := n.Notify(context.Background(), update("state:resolved"))
			if tt.wantErr {
				require.ErrorContains(t, err, "502")
			} else {
				require.NoError(t, err)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			require.Len(t, rc.got, 1)
			d := rc.got[0]
			require.Equal(t, "state:resolved", d.header.Get(webhook.EventHeader))
			require.Equal(t, "inc_1/state:resolved", d.header.Get(webhook.DeliveryHeader))
			if tt.secret != nil {
				require.NoError(t, ingest.VerifySignature(tt.secret, d.body, d.header.Get(webhook.SignatureHeader)))
			} else {
				require.Empty(t, d.header.Get(webhook.SignatureHeader))
			}
			var p webhook.Payload
			require.NoError(t, json.Unmarshal(d.body, &p))
			require.Equal(t, "inc_1", p.IncidentID)
			require.Equal(t, "resolved", p.State)
			require.Equal(t, "clear verified", p.Detail)
			require.Equal(t, 3, p.Failures)
			require.Equal(t, "https://medic.example.com/api/v1/incidents/inc_1", p.Link)
		})
	}
}

func TestWebhookDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := webhook.New(webhook.Config{Name: "gone", URL: url, Timeout: time.Second}).Notify(context.Background(), update(notify.ReasonTriaged))
	require.ErrorContains(t, err, "webhook:gone: post")
}
