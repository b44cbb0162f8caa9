package owners

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Tier is how much an asset matters: Tier1 is business-critical, Tier3 is
// best effort. The zero value means no source said.
type Tier int

// Tiers, most to least critical.
const (
	TierUnknown Tier = 0
	Tier1       Tier = 1
	Tier2       Tier = 2
	Tier3       Tier = 3
)

// String renders the tier as "tier1", or "unknown".
func (t Tier) String() string {
	if t < Tier1 || t > Tier3 {
		return "unknown"
	}
	return "tier" + strconv.Itoa(int(t))
}

// ParseTier reads a tier written as 1, 2 or 3, or as tier1, tier2 or tier3
// (case-insensitive, "tier-1" and "tier_1" too). Anything else is not a tier.
func ParseTier(s string) (Tier, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(s, "tier"); ok {
		s = strings.TrimLeft(rest, "-_ ")
	}
	switch s {
	case "1":
		return Tier1, true
	case "2":
		return Tier2, true
	case "3":
		return Tier3, true
	}
	return TierUnknown, false
}

// Owner is who answers for an asset and how to reach them.
type Owner struct {
	// Team is the owning team's name.
	Team string `json:"team,omitempty"`
	// SlackChannel is "#name" or a channel id such as C0123ABCD.
	SlackChannel string `json:"slack_channel,omitempty"`
	// SlackUsers are Slack member ids (U…/W…) to mention.
	SlackUsers []string `json:"slack_users,omitempty"`
	// Escalation is whom to page when the owner does not answer: an email
	// address, a rota name, a phone number.
	Escalation string `json:"escalation,omitempty"`
	// Tier is how critical the asset is.
	Tier Tier `json:"tier,omitempty"`
	// Runbook is an http(s) URL with the team's instructions.
	Runbook string `json:"runbook,omitempty"`
	// Contacts are people named by Airflow or dbt (a handle, a name, an
	// email address) that are not Slack ids; shown, never paged.
	Contacts []string `json:"contacts,omitempty"`
}

// IsZero reports whether the owner says nothing at all.
func (o Owner) IsZero() bool {
	return o.Team == "" && o.SlackChannel == "" && len(o.SlackUsers) == 0 && o.Escalation == "" &&
		o.Tier == TierUnknown && o.Runbook == "" && len(o.Contacts) == 0
}

// Reachable reports whether the owner names someone to notify.
func (o *Owner) Reachable() bool {
	return o.Team != "" || o.SlackChannel != "" || len(o.SlackUsers) > 0 || o.Escalation != ""
}

// Owner field names, as used in ownership files, JSON and Result.OwnerFrom.
const (
	FieldTeam         = "team"
	FieldSlackChannel = "slack_channel"
	FieldSlackUsers   = "slack_users"
	FieldEscalation   = "escalation"
	FieldTier         = "tier"
	FieldRunbook      = "runbook"
	FieldContacts     = "contacts"
)

// fill copies into o every field o lacks and from has, calling took with
// the name of each field taken. Contacts are a union instead: they are
// shown, not paged, so every source's people stay visible.
func (o *Owner) fill(from *Owner, took func(field string)) {
	set := func(field string, empty bool, assign func()) {
		if empty {
			assign()
			took(field)
		}
	}
	set(FieldTeam, o.Team == "" && from.Team != "", func() { o.Team = from.Team })
	set(FieldSlackChannel, o.SlackChannel == "" && from.SlackChannel != "", func() { o.SlackChannel = from.SlackChannel })
	set(FieldSlackUsers, len(o.SlackUsers) == 0 && len(from.SlackUsers) > 0, func() { o.SlackUsers = slices.Clone(from.SlackUsers) })
	set(FieldEscalation, o.Escalation == "" && from.Escalation != "", func() { o.Escalation = from.Escalation })
	set(FieldTier, o.Tier == TierUnknown && from.Tier != TierUnknown, func() { o.Tier = from.Tier })
	set(FieldRunbook, o.Runbook == "" && from.Runbook != "", func() { o.Runbook = from.Runbook })
	added := false
	for _, c := range from.Contacts {
		if !slices.Contains(o.Contacts, c) {
			o.Contacts = append(o.Contacts, c)
			added = true
		}
	}
	if added {
		took(FieldContacts)
	}
}

var (
	slackUserRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	slackChanIDRE  = regexp.MustCompile(`^[CG][A-Z0-9]{2,20}$`)
	slackChanNamRE = regexp.MustCompile(`^#[a-z0-9][a-z0-9_-]{0,79}$`)
)

// isSlackUserID reports whether s looks like a Slack member id (U012ABC).
func isSlackUserID(s string) bool { return slackUserRE.MatchString(s) }

func checkSlackChannel(s string) error {
	if slackChanNamRE.MatchString(s) || slackChanIDRE.MatchString(s) {
		return nil
	}
	return fmt.Errorf("%q is not a Slack channel: write \"#name\" (lowercase letters, digits, - and _) or a channel id such as C0123ABCD", s)
}

func checkSlackUser(s string) error {
	if isSlackUserID(s) {
		return nil
	}
	if strings.HasPrefix(s, "@") {
		return fmt.Errorf("%q is a handle, not a Slack member id: use the id from the member's profile (U012ABCDE)", s)
	}
	return fmt.Errorf("%q is not a Slack member id such as U012ABCDE", s)
}

func checkRunbook(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
