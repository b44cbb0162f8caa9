package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/triage"
)

// instances holds one Airflow client per configured instance.
type instances struct {
	order   []string
	clients map[string]*airflow.Client
}

var _ triage.Instances = (*instances)(nil)

func newInstances(cfgs []config.AirflowInstance, hc *http.Client, logger *slog.Logger) (*instances, error) {
	in := &instances{clients: map[string]*airflow.Client{}}
	for _, c := range cfgs {
		cl, err := airflow.New(airflow.Options{
			Name: c.Name, BaseURL: c.URL, Version: c.Version, Username: c.Username, Password: c.Password.Reveal(),
			Token: c.Token.Reveal(), Timeout: c.Timeout, RateLimit: c.RateLimit, Burst: c.Burst,
			MaxConcurrency: c.MaxConcurrency, MaxRetries: c.MaxRetries, HTTPClient: hc, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("app: airflow instance %s: %w", c.Name, err)
		}
		in.order = append(in.order, c.Name)
		in.clients[c.Name] = cl
	}
	return in, nil
}

func (in *instances) Instance(name string) (triage.Airflow, bool) {
	c, ok := in.clients[name]
	if !ok {
		return nil, false
	}
	return c, true
}

// Airflow is the instance's client for remediation.
func (in *instances) Airflow(name string) (remediate.Airflow, bool) {
	c, ok := in.clients[name]
	if !ok {
		return nil, false
	}
	return c, true
}

func (in *instances) client(name string) (*airflow.Client, bool) {
	c, ok := in.clients[name]
	return c, ok
}

func (in *instances) names() []string { return in.order }

func (in *instances) defaultName() string {
	if len(in.order) > 0 {
		return in.order[0]
	}
	return "default"
}

// detect asks each instance for its version so a misconfiguration shows at
// start; an unreachable Airflow is logged, not fatal: medic keeps running and
// the client retries detection on its next call.
func (in *instances) detect(ctx context.Context, log *slog.Logger) {
	for _, name := range in.order {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := in.clients[name].Version(dctx)
		cancel()
		if err != nil {
			log.WarnContext(ctx, "airflow instance not reachable at start", "instance", name, "error", err)
			continue
		}
		log.InfoContext(ctx, "airflow instance detected", "instance", name, "major_version", v)
	}
}
