// Package webhook tells any HTTP endpoint about incidents: one JSON POST
// per update (the incident triaged, then each move), signed with
// HMAC-SHA256 like medic's own inbound webhook, so the receiver can check
// it came from medic.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/notify"
)

// Headers of every delivery.
const (
	// SignatureHeader is "sha256=<hex HMAC-SHA256 of the body>".
	SignatureHeader = ingest.SignatureHeader
	// EventHeader names the update: "triaged", "state:resolved", ...
	EventHeader = "X-Medic-Event"
	// DeliveryHeader is a stable id of the update, the same on a retry,
	// for the receiver to deduplicate.
	DeliveryHeader = "X-Medic-Delivery"
)

// Config configures one webhook.
type Config struct {
	Name    string
	URL     string
	Secret  []byte
	Timeout time.Duration
	Client  *http.Client
}

// Notifier posts updates to one URL.
type Notifier struct {
	cfg    Config
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a notifier.
func New(cfg Config) *Notifier {
	c := cfg.Client
	if c == nil {
		c = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Notifier{cfg: cfg, client: c}
}

// Name implements notify.Notifier: "webhook:<name>".
func (n *Notifier) Name() string { return "webhook:" + n.cfg.Name }

// Payload is the JSON body of a delivery. Every text in it is redacted
// report data.
type Payload struct {
	Event      string    `json:"event"`
	Detail     string    `json:"detail,omitempty"`
	IncidentID string    `json:"incident_id"`
	Instance   string    `json:"instance"`
	DagID      string    `json:"dag_id"`
	RunID      string    `json:"run_id"`
	TaskID     string    `json:"task_id,omitempty"`
	State      string    `json:"state"`
	Severity   string    `json:"severity"`
	Summary    string    `json:"summary,omitempty"`
	Failures   int       `json:"failures"`
	Link       string    `json:"link,omitempty"`
	RootCause  *Cause    `json:"root_cause,omitempty"`
	Owner      string    `json:"owner,omitempty"`
	NextAction string    `json:"next_action,omitempty"`
	Decision   string    `json:"decision,omitempty"`
	At         time.Time `json:"at"`
}

// Cause is the composed root cause.
type Cause struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	Summary    string  `json:"summary,omitempty"`
}

func payload(u notify.Update) Payload {
	r := u.Report
	inc := r.Incident
	p := Payload{
		Event: u.Reason, Detail: u.Detail, IncidentID: inc.ID, Instance: inc.Instance, DagID: inc.DagID, RunID: inc.RunID,
		TaskID: r.FocusTask(), State: string(inc.State), Severity: string(inc.Severity), Summary: inc.Summary,
		Failures: inc.EventCount, Link: r.Link, Owner: r.Owner(), At: inc.UpdatedAt,
	}
	if inv := r.Investigation; inv != nil {
		p.NextAction = inv.NextAction
		if rc := inv.RootCause; rc != nil {
			p.RootCause = &Cause{Label: string(rc.Label), Confidence: rc.Confidence, Summary: rc.Summary}
		}
	}
	if d := r.Decision(); d != nil {
		p.Decision = d.Outcome + " " + d.Action
	}
	return p
}

// Notify implements notify.Notifier. Any answer but 2xx is an error, so
// the job retries the delivery later with the same DeliveryHeader.
func (n *Notifier) Notify(ctx context.Context, u notify.Update) error {
	body, err := json.Marshal(payload(u))
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "medic")
	req.Header.Set(EventHeader, u.Reason)
	req.Header.Set(DeliveryHeader, u.Report.Incident.ID+"/"+u.Reason)
	if len(n.cfg.Secret) > 0 {
		req.Header.Set(SignatureHeader, ingest.Sign(n.cfg.Secret, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: post: %w", n.Name(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: the receiver answered %s", n.Name(), resp.Status)
	}
	return nil
}
