package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/ingest"
)

// callbackSender plays the part of medic's Airflow on_failure_callback: it
// posts each failed try to the webhook, signed, fire-and-forget with a short
// timeout, and redelivers some of them the way a retrying HTTP client would.
type callbackSender struct {
	url    string
	secret []byte
	log    *slog.Logger
	hc     *http.Client

	wg     sync.WaitGroup
	mu     sync.Mutex
	sent   int
	failed int
	seen   int
}

func newCallbackSender(url string, secret []byte, log *slog.Logger) *callbackSender {
	return &callbackSender{url: url, secret: secret, log: log, hc: &http.Client{Timeout: 5 * time.Second}}
}

// send is called by the stand-in for every failed try. Like Airflow's
// on_failure_callback it does not fire for a try that will be retried.
func (c *callbackSender) send(f airflowsim.TaskFailure) {
	if f.WillRetry {
		return
	}
	body, err := json.Marshal(payload(f))
	if err != nil {
		return
	}
	c.mu.Lock()
	c.seen++
	deliveries := 1
	if c.seen%3 == 1 {
		deliveries = 3 // an at-least-once sender retrying: medic must keep one event
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for range deliveries {
			c.post(body)
		}
	}()
}

func payload(f airflowsim.TaskFailure) map[string]any {
	p := map[string]any{
		"dag_id": f.DagID, "run_id": f.RunID, "task_id": f.TaskID, "try_number": f.TryNumber,
		"exception": f.Exception, "log_url": f.LogURL, "owner": f.Owner, "tags": f.Tags, "state": "failed",
		"occurred_at": f.EndDate.UTC().Format(time.RFC3339Nano),
	}
	if !f.LogicalDate.IsZero() {
		p["logical_date"] = f.LogicalDate.UTC().Format(time.RFC3339)
	}
	return p
}

func (c *callbackSender) post(body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.count(false)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ingest.SignatureHeader, ingest.Sign(c.secret, body))
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Warn("callback delivery failed", "error", err)
		c.count(false)
		return
	}
	_ = resp.Body.Close()
	ok := resp.StatusCode == http.StatusAccepted
	if !ok {
		c.log.Warn("callback rejected", "status", fmt.Sprint(resp.StatusCode))
	}
	c.count(ok)
}

func (c *callbackSender) count(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.sent++
	} else {
		c.failed++
	}
}

func (c *callbackSender) wait() { c.wg.Wait() }

func (c *callbackSender) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.failed
}
