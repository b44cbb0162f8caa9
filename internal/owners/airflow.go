package owners

import (
	"fmt"
	"strings"
)

// Tag keys medic reads from Airflow DAG tags, written "key:value" or
// "key=value" (the key case-insensitive): team:payments, tier:1,
// owner:@alice, owner:U012ABCDE, slack:#payments-oncall. A bare tier1,
// tier-1 or tier_1 tag is a tier too. Other tags are ignored.
const (
	TagTeam  = "team"
	TagTier  = "tier"
	TagOwner = "owner"
	TagSlack = "slack"
)

// defaultAirflowOwner is what Airflow fills in when a DAG names no owner;
// it names nobody.
const defaultAirflowOwner = "airflow"

// maxTagLen bounds a tag medic reads; Airflow itself allows 100 characters.
const maxTagLen = 200

// fromTags reads an owner from DAG tags by the conventions above. It
// returns what the tags say, one line of evidence per tag used, and a line
// per conflicting tag (the first tag of a key wins).
func fromTags(tags []string) (o Owner, evidence, conflicts []string) {
	for _, raw := range tags {
		tag := strings.TrimSpace(raw)
		if tag == "" || len(tag) > maxTagLen {
			continue
		}
		key, value, ok := cutTag(tag)
		if !ok {
			if t, isTier := ParseTier(tag); isTier && strings.HasPrefix(strings.ToLower(tag), "tier") {
				key, value, ok = TagTier, t.String(), true
			}
		}
		if !ok || value == "" {
			continue
		}
		used := fmt.Sprintf("tag %q", tag)
		conflict := func(field, have string) {
			conflicts = append(conflicts, fmt.Sprintf("tag %q ignored: %s is already %q from an earlier tag", tag, field, have))
		}
		switch key {
		case TagTeam:
			if o.Team != "" && o.Team != value {
				conflict(FieldTeam, o.Team)
				continue
			}
			o.Team = value
		case TagTier:
			t, okTier := ParseTier(value)
			if !okTier {
				conflicts = append(conflicts, fmt.Sprintf("tag %q ignored: %q is not a tier (1, 2, 3 or tier1…tier3)", tag, value))
				continue
			}
			if o.Tier != TierUnknown && o.Tier != t {
				conflict(FieldTier, o.Tier.String())
				continue
			}
			o.Tier = t
		case TagOwner:
			if isSlackUserID(value) {
				o.SlackUsers = appendNew(o.SlackUsers, value)
			} else {
				o.Contacts = appendNew(o.Contacts, value)
			}
		case TagSlack:
			ch := value
			if !strings.HasPrefix(ch, "#") && !slackChanIDRE.MatchString(ch) {
				ch = "#" + ch
			}
			if checkSlackChannel(ch) != nil {
				conflicts = append(conflicts, fmt.Sprintf("tag %q ignored: %q is not a Slack channel", tag, value))
				continue
			}
			if o.SlackChannel != "" && o.SlackChannel != ch {
				conflict(FieldSlackChannel, o.SlackChannel)
				continue
			}
			o.SlackChannel = ch
		default:
			continue
		}
		evidence = append(evidence, used)
	}
	return o, evidence, conflicts
}

// cutTag splits "key:value" or "key=value", whichever separator comes
// first, and lowercases the key.
func cutTag(tag string) (key, value string, ok bool) {
	i := strings.IndexAny(tag, ":=")
	if i <= 0 {
		return "", "", false
	}
	return strings.ToLower(strings.TrimSpace(tag[:i])), strings.TrimSpace(tag[i+1:]), true
}

// fromDagOwners reads the DAG's owners list: Slack member ids become Slack
// users, anything else a contact. An entry "alice,bob" (Airflow joins task
// owners so) is split; Airflow's placeholder owner "airflow" names nobody
// and is skipped.
func fromDagOwners(owners []string) (o Owner, evidence []string) {
	for _, entry := range owners {
		for _, name := range strings.Split(entry, ",") {
			name = strings.TrimSpace(name)
			if name == "" || len(name) > maxTagLen || strings.EqualFold(name, defaultAirflowOwner) {
				continue
			}
			if isSlackUserID(name) {
				o.SlackUsers = appendNew(o.SlackUsers, name)
			} else {
				o.Contacts = appendNew(o.Contacts, name)
			}
			evidence = append(evidence, fmt.Sprintf("DAG owner %q", name))
		}
	}
	return o, evidence
}

func appendNew(list []string, s string) []string {
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}
