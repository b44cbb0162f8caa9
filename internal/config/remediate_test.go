package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRemediateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		path string // "" means valid
	}{
		{"defaults with a policy", "remediate:\n  allow: [etl_*]\n  autonomy:\n    - {dag: etl_*, class: INFRA, level: auto}\n", ""},
		{"bad glob", "remediate:\n  allow: ['etl_[']\n", "remediate.allow[0]"},
		{"empty deny glob", "remediate:\n  deny: ['']\n", "remediate.deny[0]"},
		{"bad level", "remediate:\n  autonomy:\n    - {dag: '*', class: '*', level: yolo}\n", "remediate.autonomy[0].level"},
		{"bad class", "remediate:\n  autonomy:\n    - {dag: '*', class: OOPS, level: auto}\n", "remediate.autonomy[0].class"},
		{"bad except class", "remediate:\n  environments:\n    production: {approval_required: true, except_classes: ['*']}\n", "remediate.environments.production.except_classes[0]"},
		{"except without approval", "remediate:\n  environments:\n    staging: {except_classes: [INFRA]}\n", "remediate.environments.staging.except_classes"},
		{"zero budget", "remediate:\n  budgets: {per_task_instance: 0}\n", "remediate.budgets.per_task_instance"},
		{"zero rate", "remediate:\n  rate_limit: {actions: 0}\n", "remediate.rate_limit.actions"},
		{"threshold range", "remediate:\n  gate:\n    similarity: {default: 1.5}\n", "remediate.gate.similarity.default"},
		{"threshold key", "remediate:\n  gate:\n    confidence: {INFRAA: 0.5}\n", "remediate.gate.confidence.INFRAA"},
		{"backoff order", "remediate:\n  backoff: {base: 1h, max: 1m}\n", "remediate.backoff.max"},
		{"inline schema not JSON", "remediate:\n  conf_schemas:\n    reports_*: '{nope'\n", "remediate.conf_schemas.reports_*"},
		{"empty resources", "remediate:\n  resources:\n    heavy_*: {}\n", "remediate.resources.heavy_*"},
		{"executor_config not JSON", "remediate:\n  resources:\n    heavy_*: {executor_config: '[1]'}\n", "remediate.resources.heavy_*.executor_config"},
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
			require.NotNil(t, requireFieldError(t, err, tt.path))
		})
	}
}

func TestRemediateDefaultsNeverAct(t *testing.T) {
	t.Parallel()
	r := Default().Remediate
	require.Empty(t, r.Allow, "no DAG is allowed by default")
	require.Equal(t, []AutonomyRule{{DAG: "*", Class: "*", Level: AutonomySuggest}}, r.Autonomy)
	require.True(t, r.Environments["production"].ApprovalRequired)
}
