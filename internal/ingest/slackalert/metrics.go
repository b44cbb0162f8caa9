package slackalert

import "github.com/prometheus/client_golang/prometheus"

// stateCollector exports the watcher's health, so that an alert on a
// channel medic cannot read (a revoked token, a bot not invited) fires
// without anyone reading logs.
type stateCollector struct {
	w           *Watcher
	up, success *prometheus.Desc
}

func newStateCollector(w *Watcher) *stateCollector {
	return &stateCollector{
		w: w,
		up: prometheus.NewDesc("medic_slack_alert_channel_up",
			"1 when the last poll of the Slack alert channel succeeded, 0 when it failed (revoked token, missing channel, Slack down).",
			[]string{"channel"}, nil),
		success: prometheus.NewDesc("medic_slack_alert_channel_last_success_timestamp_seconds",
			"When the Slack alert channel was last read in full, in Unix seconds; 0 before the first success.",
			[]string{"channel"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.success
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.w.State()
	for _, cs := range st.Channels {
		up := 0.0
		if !cs.LastPoll.IsZero() && cs.LastError == "" && st.TokenError == "" {
			up = 1
		}
		var last float64
		if !cs.LastSuccess.IsZero() {
			last = float64(cs.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, cs.Channel)
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, last, cs.Channel)
	}
}
