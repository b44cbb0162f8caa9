package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// SlackInteractions configures POST /api/v1/slack/interactions, where
// Slack sends the clicks on the Approve and Reject buttons of medic's
// messages. The endpoint exists only with a signing secret.
type SlackInteractions struct {
	// SigningSecret is the Slack app's signing secret: every request must
	// carry its v0 HMAC-SHA256 signature.
	SigningSecret config.Secret
	// Approvers are the Slack user ids allowed to decide approvals.
	Approvers []string
}

// The buttons' action ids (internal/notify/slack).
const (
	slackApproveAction = "medic_approve"
	slackRejectAction  = "medic_reject"
)

// SignSlack returns the X-Slack-Signature of body at ts, as Slack computes
// it: for tests and tools that play Slack.
func SignSlack(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// verifySlack checks a request's signature and that its timestamp is
// within five minutes (slack-go's verifier).
func (s *server) verifySlack(r *http.Request, body []byte) error {
	v, err := slackapi.NewSecretsVerifier(r.Header, string(s.slack.secret))
	if err != nil {
		return err
	}
	if _, err := v.Write(body); err != nil {
		return err
	}
	return v.Ensure()
}

// postSlackInteraction takes a click on Approve or Reject and decides the
// approval as the Slack user who clicked, when that user is an approver.
// The incident's message is then edited by the notification of its move.
func (s *server) postSlackInteraction(w http.ResponseWriter, r *http.Request) error {
	// Slack posts a form; the signature is what stops a forged one.
	body, err := s.readBodyOf(w, r, "application/x-www-form-urlencoded")
	if err != nil {
		return err
	}
	if err := s.verifySlack(r, body); err != nil {
		s.log.WarnContext(r.Context(), "slack interaction refused", "error", err, "request_id", requestIDFrom(r.Context()))
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: "slack interaction refused: " + err.Error()}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "want a form with a payload field, as Slack sends"}
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "payload is not Slack's interaction JSON: " + err.Error()}
	}
	if cb.Type != slackapi.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != slackApproveAction && a.ActionID != slackRejectAction {
			continue
		}
		if err := s.slackDecide(r, &cb, a); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) slackDecide(r *http.Request, cb *slackapi.InteractionCallback, a *slackapi.BlockAction) error {
	ctx := r.Context()
	approve := a.ActionID == slackApproveAction
	who := "slack:" + cb.User.ID
	if cb.User.Name != "" {
		who += " (" + cb.User.Name + ")"
	}
	if !slices.Contains(s.slack.approvers, cb.User.ID) {
		s.log.WarnContext(ctx, "slack user is not an approver", "slack_user", cb.User.ID, "approval_id", a.Value)
		d := audit.Detail{
			RequestedBy: who, Decision: "refused", Reasons: []string{"the Slack user is not in notify.slack.approvers"},
			Update: map[string]string{"approval_id": clip(a.Value, 100), "action": a.ActionID},
		}
		detail, err := d.JSON()
		if err != nil {
			return err
		}
		var incidentID string
		if ap, err := s.store.ApprovalGet(ctx, a.Value); err == nil {
			incidentID = ap.IncidentID
		}
		_, err = s.store.AuditAppend(ctx, &incident.AuditEntry{At: s.now(), Actor: who, Action: "approval.refused", IncidentID: incidentID, Detail: detail})
		return err
	}
	verb := "rejected"
	if approve {
		verb = "approved"
	}
	_, err := s.store.ApprovalDecide(ctx, &store.ApprovalDecideParams{
		ID: a.Value, Approve: approve, By: who, Role: string(config.RoleOperator), Now: s.now(),
		Reason: verb + " in Slack", ForbidSelfApproval: s.environment == productionEnvironment,
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrForbidden):
		// Slack shows the button to everyone in the channel: a click on a
		// decided or expired approval is answered, not failed.
		s.log.InfoContext(ctx, "slack decision not applied", "slack_user", cb.User.ID, "approval_id", a.Value, "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("decide approval %s from slack: %w", a.Value, err)
	}
	s.log.InfoContext(ctx, "approval decided in slack", "approval_id", a.Value, "slack_user", cb.User.ID, "approve", approve)
	return nil
}

// slackConfig is the resolved SlackInteractions.
type slackConfig struct {
	secret    []byte
	approvers []string
}

func newSlackConfig(c SlackInteractions) *slackConfig {
	if !c.SigningSecret.IsSet() {
		return nil
	}
	var ids []string
	for _, id := range c.Approvers {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return &slackConfig{secret: []byte(c.SigningSecret.Reveal()), approvers: ids}
}
