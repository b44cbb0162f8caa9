package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const (
	slackSecret   = "8f742231b10e8888abcd99yyyzzz85a5"
	slackApprover = "U0APPROVER"
)

func withSlack(d *httpapi.Deps) {
	d.Slack = httpapi.SlackInteractions{SigningSecret: config.NewSecret(slackSecret), Approvers: []string{slackApprover}}
}

// click is Slack's form body for a click on one of medic's buttons.
func click(t *testing.T, user, actionID, approvalID string) []byte {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions",
		"user": map[string]any{"id": user, "name": "alice"},
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "medic_approval", "value": approvalID, "type": "button",
		}},
	})
	require.NoError(t, err)
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

func (b *testBundle) postSlack(t *testing.T, body []byte, secret string, at time.Time) *response {
	t.Helper()
	ts := at.Unix()
	return b.do(t, http.MethodPost, "/api/v1/slack/interactions", "", body,
		"Content-Type", "application/x-www-form-urlencoded",
		"X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10),
		"X-Slack-Signature", httpapi.SignSlack([]byte(secret), ts, body))
}

func TestSlackInteractions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		user   string
		action string
		secret string
		age    time.Duration
		status int
		want   incident.ApprovalStatus
	}{
		{name: "approve", user: slackApprover, action: "medic_approve", secret: slackSecret, status: http.StatusOK, want: incident.ApprovalApproved},
		{name: "reject", user: slackApprover, action: "medic_reject", secret: slackSecret, status: http.StatusOK, want: incident.ApprovalRejected},
		{name: "forged", user: slackApprover, action: "medic_approve", secret: "not-the-secret", status: http.StatusUnauthorized, want: incident.ApprovalPending},
		{name: "stale", user: slackApprover, action: "medic_approve", secret: slackSecret, age: 6 * time.Minute, status: http.StatusUnauthorized, want: incident.ApprovalPending},
		{name: "from the future", user: slackApprover, action: "medic_approve", secret: slackSecret, age: -6 * time.Minute, status: http.StatusUnauthorized, want: incident.ApprovalPending},
		{name: "not an approver", user: "U0SOMEONE", action: "medic_approve", secret: slackSecret, status: http.StatusOK, want: incident.ApprovalPending},
		{name: "another button", user: slackApprover, action: "something_else", secret: slackSecret, status: http.StatusOK, want: incident.ApprovalPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withSlack)
			a := b.approval(t, "clear_failed_tasks:k1", "medic (policy)", time.Hour)
			got := b.postSlack(t, click(t, tt.user, tt.action, a.ID), tt.secret, time.Now().Add(-tt.age))
			require.Equal(t, tt.status, got.status, "%s", got.raw)
			stored, err := b.store.ApprovalGet(context.Background(), a.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, stored.Status)
			if tt.want != incident.ApprovalPending {
				require.Equal(t, "slack:"+slackApprover+" (alice)", stored.DecidedBy, "the message can say who decided")
			}
			entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "approval.refused"})
			require.NoError(t, err)
			require.Equal(t, tt.name == "not an approver", len(entries) == 1, "a click from a non-approver is audited")
		})
	}
}

func TestSlackInteractionReplayAfterTheDecision(t *testing.T) {
	t.Parallel()
	b := setup(t, withSlack)
	a := b.approval(t, "clear_failed_tasks:k1", "medic (policy)", time.Hour)
	body, at := click(t, slackApprover, "medic_reject", a.ID), time.Now()
	require.Equal(t, http.StatusOK, b.postSlack(t, body, slackSecret, at).status)
	// The same signed request again, and an approve click on the decided one.
	require.Equal(t, http.StatusOK, b.postSlack(t, body, slackSecret, at).status)
	require.Equal(t, http.StatusOK, b.postSlack(t, click(t, slackApprover, "medic_approve", a.ID), slackSecret, time.Now()).status)
	stored, err := b.store.ApprovalGet(context.Background(), a.ID)
	require.NoError(t, err)
	require.Equal(t, incident.ApprovalRejected, stored.Status, "decided once")
}

func TestSlackInteractionsNeedASecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.do(t, http.MethodPost, "/api/v1/slack/interactions", "", []byte("payload=%7B%7D"), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusNotFound, got.status, "no endpoint without a signing secret")
}

func TestSlackInteractionBadPayloads(t *testing.T) {
	t.Parallel()
	b := setup(t, withSlack)
	for _, body := range []string{"", "payload=", "payload=%7Bnot-json", "nothing=here"} {
		got := b.postSlack(t, []byte(body), slackSecret, time.Now())
		require.Equal(t, http.StatusBadRequest, got.status, "%q: %s", body, got.raw)
	}
}
