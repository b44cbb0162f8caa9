package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlackAlertsValidate(t *testing.T) {
	t.Parallel()
	const on = "ingest:\n  slack_alerts:\n    enabled: true\n    token: xoxb-0123456789\n    channels: [C0ALERTS]\n"
	tests := []struct {
		name string
		yaml string
		path string // "" means valid
		msg  string // part of the message
	}{
		{"off by default", "", "", ""},
		{"enabled", on, "", ""},
		{"token from notify.slack", "notify:\n  slack: {token: xoxb-0123456789}\ningest:\n  slack_alerts: {enabled: true, channels: [C0ALERTS]}\n", "", ""},
		{"no token", "ingest:\n  slack_alerts: {enabled: true, channels: [C0ALERTS]}\n", "ingest.slack_alerts.token", "is required"},
		{"no channels", "ingest:\n  slack_alerts: {enabled: true, token: xoxb-0123456789}\n", "ingest.slack_alerts.channels", "is empty"},
		{"own api url", on + "    api_url: https://slack.example.com/api/\n", "", ""},
		{"channel by name", "ingest:\n  slack_alerts: {enabled: true, token: xoxb-0123456789, channels: ['#alerts']}\n", "ingest.slack_alerts.channels[0]", "channel id"},
		{"twice", "ingest:\n  slack_alerts: {enabled: true, token: xoxb-0123456789, channels: [C0A1, C0A1]}\n", "ingest.slack_alerts.channels[1]", "twice"},
		{"bad interval", on + "    interval: 0s\n", "ingest.slack_alerts.interval", "positive"},
		{"unknown format", on + "    formats: [airflow_email, pagerduty]\n", "ingest.slack_alerts.formats", "pagerduty"},
		{"custom pattern", on + "    patterns:\n      - {name: etl_bot, regex: 'FAILED (?P<dag_id>\\S+)\\.(?P<task_id>\\S+)'}\n", "", ""},
		{"pattern lacks task_id", on + "    patterns:\n      - {name: etl_bot, regex: 'FAILED (?P<dag_id>\\S+)'}\n", "ingest.slack_alerts.patterns[0].regex", `"etl_bot" lacks the named groups task_id`},
		{"pattern lacks both", on + "    patterns:\n      - {name: etl_bot, regex: 'FAILED'}\n", "ingest.slack_alerts.patterns[0].regex", "dag_id, task_id"},
		{"pattern does not compile", on + "    patterns:\n      - {name: broken, regex: '(?P<dag_id>'}\n", "ingest.slack_alerts.patterns[0].regex", `"broken"`},
		{"pattern unknown group", on + "    patterns:\n      - {name: typo, regex: '(?P<dag_id>\\S+) (?P<task_id>\\S+) (?P<runid>\\S+)'}\n", "ingest.slack_alerts.patterns[0].regex", `unknown named group "runid"`},
		{"patterns without custom", on + "    formats: [airflow_slack]\n    patterns:\n      - {name: etl_bot, regex: '(?P<dag_id>\\S+) (?P<task_id>\\S+)'}\n", "ingest.slack_alerts.formats", "never tried"},
		{"unknown instance", on + "    instance: nowhere\n", "ingest.slack_alerts.instance", "airflow.instances"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.yaml), "medic.yaml")
			require.NoError(t, err)
			err = c.Validate()
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			fe := requireFieldError(t, err, tt.path)
			require.ErrorContains(t, fe, tt.msg)
		})
	}
}

func TestSlackAlertsDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("notify:\n  slack: {token: xoxb-0123456789, api_url: 'http://127.0.0.1:9/api/'}\n"), "medic.yaml")
	require.NoError(t, err)
	s := c.Ingest.SlackAlerts
	require.False(t, s.Enabled)
	require.Equal(t, "xoxb-0123456789", s.Token.Reveal(), "the token defaults to notify.slack.token")
	require.Equal(t, "http://127.0.0.1:9/api/", s.APIURL)
	require.Equal(t, SlackAlertFormats, s.Formats)
	require.Equal(t, "[redacted]", s.Token.String(), "the token never prints")

	c, err = ParseEnv([]byte("notify:\n  slack: {token: xoxb-notify}\ningest:\n  slack_alerts: {token_env: ALERTS_TOKEN}\n"), "medic.yaml",
		fakeEnv(map[string]string{"ALERTS_TOKEN": "xoxb-alerts"}))
	require.NoError(t, err)
	require.Equal(t, "xoxb-alerts", c.Ingest.SlackAlerts.Token.Reveal(), "its own token wins")
}
