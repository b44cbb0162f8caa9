package template

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMiner feeds arbitrary text, one line per '\n', to a miner with small
// bounds and checks after every line that:
//
//   - the template it got is valid UTF-8 and at most maxTemplateBytes long;
//   - the template accepts the line's masked tokens: same token count and
//     every position matching, or, for a variable-length template, its head,
//     tail and a run of variables in between; an untracked template (the
//     miner is full) is exactly the masked line;
//   - a Snapshot restores to the same templates.
func FuzzMiner(f *testing.F) {
	for _, s := range []string{
		"",
		"PacketResponder 1 for block blk_38865049064139660 terminating\nPacketResponder 0 for block blk_-1 terminating",
		"removing a\nremoving b\nremoving c\nremoving d\nremoving e\nremoving f\nremoving g\nremoving h\nremoving i",
		"ask 1.2.3.4:5 to delete blk_1 blk_2\nask 1.2.3.4:5 to delete blk_1 blk_2 blk_3 blk_4",
		"Link error\nLink ok\neth0 up\neth1 up\nchdir(/a/b) failed\nchdir(pwd) failed",
		"\x00\xff\xfe binary \x01\x02 \xc3\x28 garbage",
		"GET /a HTTP/1.1\" 5 KB, on Fri Jul 01 08:16:53 PDT 2005 0x1f 2607:f140::1",
		"<*> <*><*> <*>.<*> <<*>> * <",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		opts := Options{MaxLineBytes: 256, MaxTokens: 16, MaxTemplates: 64, MaxCacheBytes: 4096}
		m := New(opts)
		check := newMasker(opts.MaxLineBytes, opts.MaxTokens)
		for _, line := range strings.Split(text, "\n") {
			res := m.Add(line)
			if !utf8.ValidString(res.Template) {
				t.Fatalf("template %q is not valid UTF-8", res.Template)
			}
			if len(res.Template) > maxTemplateBytes(m.opts) {
				t.Fatalf("template of %d bytes exceeds %d", len(res.Template), maxTemplateBytes(m.opts))
			}
			check.mask(line)
			toks := check.tokens()
			c, ok := m.byID[res.ID]
			if !ok {
				if res.Template != string(check.line) {
					t.Fatalf("untracked template %q is not the masked line %q", res.Template, check.line)
				}
				continue
			}
			c = c.resolve()
			if c.isVar {
				if !c.varMatch(toks) {
					t.Fatalf("variable-length template %q does not accept %q", c.text(), toks)
				}
				continue
			}
			if len(c.tokens) != len(toks) {
				t.Fatalf("template %q has %d tokens, line %q has %d", c.text(), len(c.tokens), toks, len(toks))
			}
			for i, tok := range toks {
				if !c.accepts(i, tok) && !digitVariant(c.tokens[i], tok) {
					t.Fatalf("template %q does not accept token %d %q of %q", c.text(), i, tok, line)
				}
			}
		}
		snap, err := m.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		r := New(opts)
		if err := r.Restore(snap); err != nil {
			t.Fatalf("restore own snapshot: %v", err)
		}
		a, b := m.Templates(), r.Templates()
		if len(a) != len(b) {
			t.Fatalf("restored %d templates, had %d", len(b), len(a))
		}
		for i := range a {
			if a[i].ID != b[i].ID || a[i].Template != b[i].Template || a[i].Count != b[i].Count {
				t.Fatalf("restored %+v, had %+v", b[i], a[i])
			}
		}
	})
}
