package slackalert

import (
	"regexp"
	"strings"

	slackapi "github.com/slack-go/slack"
)

// Bounds on what one message may make the parser read, so that a huge or
// hostile message costs little.
const (
	maxTextBytes = 64 << 10
	maxLines     = 2000
)

// line is one line of a message's text with Slack's markup undone, and
// the targets of the links it held.
type line struct {
	text string
	urls []string
}

// MessageText gathers the text a Slack message shows, as mrkdwn, one line
// per line: its text, its attachments (pretext, title, text, fields, and
// the fallback of an attachment with nothing else) and its blocks
// (section, header, context, rich_text). Bots post alerts in any of them.
func MessageText(msg *slackapi.Message) string {
	var b textBuilder
	b.add(msg.Text)
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		n := b.n
		b.add(a.Pretext)
		if a.TitleLink != "" {
			b.add("<" + a.TitleLink + "|" + a.Title + ">")
		} else {
			b.add(a.Title)
		}
		b.add(a.Text)
		for _, f := range a.Fields {
			b.add(f.Title + ": " + f.Value)
		}
		if b.n == n {
			b.add(a.Fallback)
		}
	}
	for _, blk := range msg.Blocks.BlockSet {
		b.block(blk)
	}
	return b.String()
}

type textBuilder struct {
	strings.Builder
	n int
}

func (b *textBuilder) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" || b.Len() >= maxTextBytes {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(s)
	b.n++
}

func (b *textBuilder) object(t *slackapi.TextBlockObject) {
	if t == nil {
		return
	}
	if t.Type == slackapi.PlainTextType {
		b.add(escape(t.Text))
		return
	}
	b.add(t.Text)
}

func (b *textBuilder) block(blk slackapi.Block) {
	switch v := blk.(type) {
	case *slackapi.SectionBlock:
		b.object(v.Text)
		for _, f := range v.Fields {
			b.object(f)
		}
	case *slackapi.HeaderBlock:
		b.object(v.Text)
	case *slackapi.ContextBlock:
		for _, e := range v.ContextElements.Elements {
			if t, ok := e.(*slackapi.TextBlockObject); ok {
				b.object(t)
			}
		}
	case *slackapi.RichTextBlock:
		for _, e := range v.Elements {
			b.richText(e)
		}
	}
}

func (b *textBuilder) richText(e slackapi.RichTextElement) {
	switch v := e.(type) {
	case *slackapi.RichTextSection:
		b.add(sectionText(v.Elements))
	case *slackapi.RichTextQuote:
		b.add(sectionText(v.Elements))
	case *slackapi.RichTextPreformatted:
		b.add(sectionText(v.Elements))
	case *slackapi.RichTextList:
		for _, item := range v.Elements {
			b.richText(item)
		}
	}
}

// sectionText renders rich text elements as mrkdwn: rich text is raw, so
// it is escaped, and links become <url|text>.
func sectionText(elems []slackapi.RichTextSectionElement) string {
	var s strings.Builder
	for _, el := range elems {
		switch v := el.(type) {
		case *slackapi.RichTextSectionTextElement:
			s.WriteString(escape(v.Text))
		case *slackapi.RichTextSectionLinkElement:
			s.WriteString("<" + v.URL)
			if v.Text != "" {
				s.WriteString("|" + escape(v.Text))
			}
			s.WriteString(">")
		}
	}
	return s.String()
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// markup is Slack's angle-bracket markup: links, mentions and commands.
var markup = regexp.MustCompile(`<([^<>\n]*)>`)

// plainLines splits mrkdwn into lines with the markup undone: <url|text>
// becomes text (the url is kept with the line), <@U1> becomes @U1,
// <#C1|ops> becomes #ops, <!here> becomes @here, and &amp; &lt; &gt; are
// unescaped last, so that an escaped "<TaskInstance: ...>" survives as
// text.
func plainLines(mrkdwn string) []line {
	if len(mrkdwn) > maxTextBytes {
		mrkdwn = mrkdwn[:maxTextBytes]
	}
	raw := strings.Split(mrkdwn, "\n")
	if len(raw) > maxLines {
		raw = raw[:maxLines]
	}
	out := make([]line, 0, len(raw))
	for _, r := range raw {
		var l line
		text := markup.ReplaceAllStringFunc(r, func(m string) string {
			inner := m[1 : len(m)-1]
			target, label, hasLabel := strings.Cut(inner, "|")
			switch {
			case strings.HasPrefix(target, "@"):
				return target
			case strings.HasPrefix(target, "#"):
				if hasLabel {
					return "#" + label
				}
				return target
			case strings.HasPrefix(target, "!"):
				name, _, _ := strings.Cut(target[1:], "^")
				return "@" + name
			case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "mailto:"):
				l.urls = append(l.urls, unescaper.Replace(target))
				if hasLabel && label != "" {
					return label
				}
				return target
			}
			// Not markup Slack writes (it escapes a literal "<"): a bot
			// that did not escape; keep it as it was.
			return m
		})
		l.text = strings.TrimSpace(unescaper.Replace(text))
		out = append(out, l)
	}
	return out
}
