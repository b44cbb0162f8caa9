package slack

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/report"
)

// Slack's Block Kit limits, in characters. Slack rejects a message that
// breaks one with invalid_blocks; the renderer summarises instead.
const (
	MaxBlocks       = 50
	MaxSectionText  = 3000
	MaxHeaderText   = 150
	MaxButtonText   = 75
	MaxFieldText    = 2000
	MaxContextText  = 2000
	MaxFallbackText = 4000 // Slack truncates at 40,000; a notification needs far less
)

// fallbackSummary bounds the root cause's line in a notification, which
// shows a line or two.
const fallbackSummary = 200

// Action IDs of the approval buttons, which the interactivity handler
// dispatches on.
const (
	ActionApprove = "medic_approve"
	ActionReject  = "medic_reject"
)

// Kinds of thread reply.
const (
	ReplyFinding      = "finding"
	ReplyAction       = "action"
	ReplyApproval     = "approval"
	ReplyVerification = "verification"
)

// Options says how to render an incident's parent message beyond what its
// report holds.
type Options struct {
	// DashboardURL links to the incident in medic; report.Link when empty.
	DashboardURL string
	// AirflowURL is the base URL of the Airflow UI, "" for none.
	AirflowURL string
	// Mentions maps an owner or team name to a Slack mention such as
	// "<!subteam^S123>" or "<@U123>". They come from configuration and
	// are used as they are.
	Mentions map[string]string
	// Approval is a pending approval to show Approve and Reject buttons
	// for, nil for none.
	Approval *Approval
	// DecidedBy is who approved or rejected, shown once decided: a user
	// mention like "<@U123>" or a name.
	DecidedBy string
	// Storm is set when the incident groups many failures.
	Storm *Storm
}

// Approval is a pending approval of a remediation.
type Approval struct {
	ID        string
	Action    string
	ExpiresAt time.Time
}

// Storm describes an incident that groups many failures with one cause.
type Storm struct {
	Tasks, Dags int
	Cause       string
}

// Rendered is a message ready to post: the fallback text notifications
// show and the blocks the channel shows.
type Rendered struct {
	Text   string
	Blocks []slackapi.Block
}

var stateEmoji = map[incident.State]string{
	incident.StateOpen:             ":red_circle:",
	incident.StateInvestigating:    ":mag:",
	incident.StateAwaitingApproval: ":raised_hand:",
	incident.StateRemediating:      ":hammer_and_wrench:",
	incident.StateVerifying:        ":hourglass_flowing_sand:",
	incident.StateResolved:         ":white_check_mark:",
	incident.StateEscalated:        ":rotating_light:",
}

// Parent renders an incident's parent message. Every text taken from the
// report is escaped, so that a log line cannot mention a channel or forge
// a link, and summarised to fit Slack's limits: the whole report is one
// click away on the dashboard.
func Parent(r *report.Report, o Options) Rendered {
	inc := r.Incident
	link := o.DashboardURL
	if link == "" {
		link = r.Link
	}
	if !webURL(link) {
		link = ""
	}
	more := linkTo(link, "full report")
	p := &parentBuilder{more: more}
	title := r.Incident.DagID + "." + r.FocusTask() + " failed"
	if o.Storm != nil {
		title = fmt.Sprintf("%d tasks in %d DAGs failed", o.Storm.Tasks, o.Storm.Dags)
		if o.Storm.Dags == 1 {
			title = fmt.Sprintf("%d tasks of %s failed", o.Storm.Tasks, r.Incident.DagID)
		}
		if o.Storm.Cause != "" {
			title += ": " + o.Storm.Cause
		}
	}
	p.add(slackapi.NewHeaderBlock(plainText(fitText(escapeText(title), MaxHeaderText, ""))))

	state := strings.ReplaceAll(string(inc.State), "_", " ")
	fields := []*slackapi.TextBlockObject{
		mrkdwnText(fitText("*State*\n"+stateEmoji[inc.State]+" "+escapeText(state), MaxFieldText, "")),
		mrkdwnText(fitText("*Severity*\n"+escapeText(strings.ToUpper(string(inc.Severity))), MaxFieldText, "")),
		mrkdwnText(fitText("*Owner*\n"+ownerText(r, o.Mentions), MaxFieldText, "")),
		mrkdwnText(fmt.Sprintf("*Failures*\n%d reported", inc.EventCount)),
	}
	p.add(slackapi.NewSectionBlock(nil, fields, nil))

	p.diagnosis(r)
	if dec := r.Decision(); dec != nil {
		p.section(decisionText(dec, inc.State, o.DecidedBy))
	}
	if a := o.Approval; a != nil && inc.State == incident.StateAwaitingApproval {
		text := "*Approval needed* to run " + escapeText(a.Action)
		if !a.ExpiresAt.IsZero() {
			text += " (expires " + a.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") + ")"
		}
		p.section(text)
		p.add(slackapi.NewActionBlock("medic_approval",
			buttonElement(ActionApprove, a.ID, "Approve "+a.Action, slackapi.StylePrimary),
			buttonElement(ActionReject, a.ID, "Reject", slackapi.StyleDanger),
		))
	}
	if inv := r.Investigation; inv != nil {
		if notes := notesText(inv.Partial, inv.Missing, inv.Warnings); notes != "" {
			p.context(notes)
		}
	}
	if links := linksText(r, o, link); links != "" {
		p.context(links)
	}
	p.context(fmt.Sprintf("medic · %s · run %s", escapeText(inc.ID), escapeText(inc.RunID)))
	return Rendered{Text: fallbackText(r, title, link), Blocks: p.done()}
}

// diagnosis is the root cause, impact and next action, or what is known
// before there are any.
func (p *parentBuilder) diagnosis(r *report.Report) {
	inv := r.Investigation
	if inv == nil {
		text := "*Investigating:* no diagnosis yet."
		if r.Incident.State == incident.StateOpen {
			text = "*Diagnosis:* not started yet."
		}
		if e := firstLineOf(r.ReportedError()); e != "" {
			text += "\n*Reported error:* " + escapeText(e)
		} else if r.Incident.Summary != "" {
			text += "\n" + escapeText(r.Incident.Summary)
		}
		p.section(text)
		return
	}
	if rc := inv.RootCause; rc != nil {
		text := fmt.Sprintf("*Root cause:* %s (%d%% confidence", escapeText(string(rc.Label)), percentOf(rc.Confidence))
		if rc.Source != "" {
			text += ", from " + escapeText(rc.Source)
		}
		text += ")"
		if rc.Summary != "" {
			text += "\n" + escapeText(rc.Summary)
		}
		p.section(text)
	} else {
		p.section("*Root cause:* unknown (no specialist gave a diagnosis)")
	}
	if imp := inv.Impact; imp != nil && imp.Summary != "" {
		p.section("*Impact:* " + escapeText(imp.Summary))
	}
	if inv.NextAction != "" {
		p.section("*Next action:* " + escapeText(inv.NextAction))
	}
}

// parentBuilder accumulates blocks within MaxBlocks.
type parentBuilder struct {
	blocks []slackapi.Block
	more   string
}

func (p *parentBuilder) add(b slackapi.Block) { p.blocks = append(p.blocks, b) }
func (p *parentBuilder) section(text string) {
	p.add(sectionBlock(fitText(text, MaxSectionText, p.more)))
}

func (p *parentBuilder) context(text string) {
	p.add(contextBlock(fitText(text, MaxContextText, p.more)))
}
func (p *parentBuilder) done() []slackapi.Block { return capBlocks(p.blocks, p.more) }

// capBlocks keeps at most MaxBlocks blocks, the last saying where the rest
// is.
func capBlocks(blocks []slackapi.Block, more string) []slackapi.Block {
	if len(blocks) <= MaxBlocks {
		return blocks
	}
	return append(blocks[:MaxBlocks-1:MaxBlocks-1], contextBlock("… "+more))
}

// ownerText is the owner's mention when one is configured, else their name.
func ownerText(r *report.Report, mentions map[string]string) string {
	name := r.Owner()
	if m, ok := mentions[name]; ok && m != "" {
		return m
	}
	if inv := r.Investigation; inv != nil && inv.Owner != nil {
		for _, c := range inv.Owner.Contacts {
			if m, ok := mentions[c]; ok && m != "" {
				return escapeText(name) + " (" + m + ")"
			}
		}
	}
	return escapeText(name)
}

// userMention is a Slack user mention, as the interactivity payload names
// who clicked; DecidedBy may be one, or a name, which is escaped.
var userMention = regexp.MustCompile(`^<@[UW][A-Z0-9]{2,20}>$`)

func decisionText(d *report.Decision, state incident.State, decidedBy string) string {
	what := d.Outcome
	if d.Action != "" && d.Action != d.Outcome {
		what += " " + d.Action
	}
	text := "*Remediation:* the policy decided to " + escapeText(what)
	if d.Proposed != "" && d.Proposed != d.Action {
		text += " (the diagnosis proposed " + escapeText(d.Proposed) + ")"
	}
	if d.Why != "" {
		text += "\n_" + escapeText(d.Why) + "_"
	}
	if decidedBy != "" && state != incident.StateAwaitingApproval {
		who := escapeText(decidedBy)
		if userMention.MatchString(decidedBy) {
			who = decidedBy
		}
		text += "\nDecided by " + who
	}
	return text
}

// notesText says what the report lacks and what to look at before trusting it.
func notesText(partial bool, missing []investigate.Missing, warnings []string) string {
	var parts []string
	if partial {
		what := ":warning: Partial report"
		if len(missing) > 0 {
			ms := make([]string, len(missing))
			for i, m := range missing {
				ms[i] = escapeText(m.Agent) + " " + escapeText(string(m.Status))
			}
			what += ", missing " + strings.Join(ms, ", ")
		}
		parts = append(parts, what)
	}
	for _, w := range warnings {
		parts = append(parts, ":warning: "+escapeText(firstLineOf(w)))
	}
	return strings.Join(parts, "\n")
}

// linksText is the dashboard, the run's Airflow grid and the runbook.
func linksText(r *report.Report, o Options, dashboard string) string {
	var parts []string
	if dashboard != "" {
		parts = append(parts, linkTo(dashboard, "View in medic"))
	}
	if o.AirflowURL != "" && r.Incident.DagID != "" {
		u := strings.TrimRight(o.AirflowURL, "/") + "/dags/" + url.PathEscape(r.Incident.DagID) + "/grid"
		if r.Incident.RunID != "" {
			u += "?dag_run_id=" + url.QueryEscape(r.Incident.RunID)
		}
		parts = append(parts, linkTo(u, "Airflow grid"))
	}
	if inv := r.Investigation; inv != nil {
		parts = append(parts, linkTo(inv.Diagnostic.RunbookLink, "Runbook"))
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}

// fallbackText is the notification text: one plain line, no blocks, no
// markup, so a summarised one ends with the dashboard's bare URL.
func fallbackText(r *report.Report, title, link string) string {
	text := "[" + strings.ToUpper(string(r.Incident.Severity)) + "] " + title
	if inv := r.Investigation; inv != nil && inv.RootCause != nil {
		text += fmt.Sprintf(" · %s (%d%%)", inv.RootCause.Label, percentOf(inv.RootCause.Confidence))
		if s := firstLineOf(inv.RootCause.Summary); s != "" {
			text += ": " + fitText(s, fallbackSummary, "")
		}
	}
	text += " · " + strings.ReplaceAll(string(r.Incident.State), "_", " ")
	return fitText(escapeText(text), MaxFallbackText, safeURL(link))
}

// Reply renders a thread reply of a kind (ReplyFinding, ReplyAction,
// ReplyApproval, ReplyVerification or another word) with escaped text.
func Reply(kind, text string) Rendered {
	emoji := map[string]string{
		ReplyFinding: ":mag:", ReplyAction: ":hammer_and_wrench:",
		ReplyApproval: ":raised_hand:", ReplyVerification: ":white_check_mark:",
	}[kind]
	label := kind
	if r, n := utf8.DecodeRuneInString(kind); n > 0 {
		label = string(unicode.ToUpper(r)) + kind[n:]
	}
	head := strings.TrimSpace(emoji + " *" + escapeText(label) + ":* ")
	body := fitText(head+" "+escapeText(text), MaxSectionText, "")
	return Rendered{
		Text:   fitText(escapeText(label+": "+text), MaxFallbackText, ""),
		Blocks: []slackapi.Block{sectionBlock(body)},
	}
}

func sectionBlock(text string) *slackapi.SectionBlock {
	return slackapi.NewSectionBlock(mrkdwnText(text), nil, nil)
}

func contextBlock(text string) *slackapi.ContextBlock {
	return slackapi.NewContextBlock("", mrkdwnText(text))
}

func buttonElement(actionID, value, text string, style slackapi.Style) *slackapi.ButtonBlockElement {
	return slackapi.NewButtonBlockElement(actionID, value, plainText(fitText(escapeText(text), MaxButtonText, ""))).WithStyle(style)
}

func mrkdwnText(text string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false)
}

func plainText(text string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, text, true, false)
}

// escapeText makes text from a report inert in Slack: the three characters
// Slack parses as control sequences become entities, so a log line cannot
// become <!channel> or a link, and control characters other than line
// breaks and tabs are dropped.
func escapeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// linkTo is a mrkdwn link to an http(s) URL, "" for anything else: a
// link starting "<!" or "<@" would be a mention, not a link.
func linkTo(u, label string) string {
	if !webURL(u) {
		return ""
	}
	return "<" + safeURL(u) + "|" + label + ">"
}

func webURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// safeURL keeps a URL from closing Slack's <url|label> early: spaces,
// control characters, angle brackets and bars are percent-encoded.
func safeURL(u string) string {
	var b strings.Builder
	for _, c := range []byte(strings.ToValidUTF8(u, "\uFFFD")) {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '|' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// textLength counts characters as Slack does, in UTF-16 code units (an emoji
// outside the BMP counts twice).
func textLength(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// fitText returns escaped text within limit characters: unchanged when it
// fits, else cut at the last word boundary, ended with "…" and more (a
// link to the full report) when that fits too. It never splits an entity
// like &amp; and splits a word only when one word is longer than half the
// room.
func fitText(s string, limit int, more string) string {
	if textLength(s) <= limit {
		return s
	}
	suffix := "…"
	if more != "" && textLength(more)+2 < limit/2 {
		suffix = "… " + more
	}
	room := limit - textLength(suffix)
	// cut is the byte offset of the room-th character.
	cut, n := 0, 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > room {
			cut = i
			break
		}
		n += w
	}
	head := s[:cut]
	if i := strings.LastIndexFunc(head, unicode.IsSpace); i >= len(head)/2 {
		head = head[:i]
	} else if amp := strings.LastIndexByte(head, '&'); amp >= 0 && !strings.Contains(head[amp:], ";") {
		head = head[:amp]
	}
	return strings.TrimRightFunc(head, unicode.IsSpace) + suffix
}

func percentOf(c float64) int { return int(math.Round(c * 100)) }

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
