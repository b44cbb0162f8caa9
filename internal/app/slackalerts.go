package app

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/store"
)

// newSlackAlerts builds the Slack alert channel watcher and its
// alert-thread notifier, nil when ingest.slack_alerts is off.
func newSlackAlerts(cfg *config.Config, rec *ingest.Service, st store.Store, in *instances, reg prometheus.Registerer, opts Options) (*slackalert.Watcher, notify.Notifier, error) {
	sa := cfg.Ingest.SlackAlerts
	if !sa.Enabled {
		return nil, nil, nil
	}
	var patterns []slackalert.Pattern
	for _, p := range sa.CustomPatterns() {
		re, err := p.Compile()
		if err != nil {
			return nil, nil, fmt.Errorf("app: ingest.slack_alerts.patterns: %w", err)
		}
		patterns = append(patterns, slackalert.Pattern{Name: p.Name, Regexp: re})
	}
	parser, err := slackalert.NewParser(sa.Formats, patterns)
	if err != nil {
		return nil, nil, fmt.Errorf("app: ingest.slack_alerts: %w", err)
	}
	instance := sa.Instance
	if instance == "" {
		instance = in.defaultName()
	}
	w := slackalert.New(parser, rec, st, slackalert.Options{
		Token: sa.Token.Reveal(), APIURL: sa.APIURL, Channels: sa.Channels, Interval: sa.Interval, Lookback: sa.Lookback,
		Instance: instance, Instances: in.names(), ReplyUnmatched: sa.ReplyUnmatched, BaseURL: cfg.Server.PublicURL,
		Runs: func(name string) slackalert.Runs {
			if c, ok := in.client(name); ok {
				return c
			}
			return nil
		},
		HTTPClient: opts.HTTPClient, Logger: opts.Logger, Registerer: reg, Now: opts.Now,
	})
	n := slackalert.NewThreadNotifier(slackalert.ThreadConfig{Token: sa.Token.Reveal(), APIURL: sa.APIURL, HTTPClient: opts.HTTPClient}, st, opts.Logger)
	return w, n, nil
}

// SlackAlerts is the Slack alert channel watcher, nil when it is off.
func (a *App) SlackAlerts() *slackalert.Watcher { return a.slackAlerts }

// sources is how reading failures goes, for GET /api/v1/sources.
func (a *App) sources() httpapi.Sources {
	var out httpapi.Sources
	for _, p := range a.pollers {
		out.Pollers = append(out.Pollers, p.State())
	}
	if a.slackAlerts != nil {
		st := a.slackAlerts.State()
		out.SlackAlerts = &st
	}
	return out
}
