package ingest

import "github.com/prometheus/client_golang/prometheus"

// pollerCollector exports the pollers' health, so that an Airflow medic
// cannot poll (down, a refused password) can page without reading logs.
type pollerCollector struct {
	pollers     []*Poller
	up, success *prometheus.Desc
}

// NewPollerCollector exports medic_poller_up and
// medic_poller_last_success_timestamp_seconds for each poller.
func NewPollerCollector(pollers []*Poller) prometheus.Collector {
	return &pollerCollector{
		pollers: pollers,
		up: prometheus.NewDesc("medic_poller_up",
			"1 when the last poll of the Airflow instance read every failed run, 0 when it failed; absent before the first poll.",
			[]string{"instance"}, nil),
		success: prometheus.NewDesc("medic_poller_last_success_timestamp_seconds",
			"When the Airflow instance was last polled in full, in Unix seconds; 0 before the first success.",
			[]string{"instance"}, nil),
	}
}

func (c *pollerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.success
}

func (c *pollerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pollers {
		st := p.State()
		if !st.LastPoll.IsZero() {
			up := 0.0
			if st.LastError == "" {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, st.Instance)
		}
		var last float64
		if !st.LastSuccess.IsZero() {
			last = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, last, st.Instance)
	}
}
