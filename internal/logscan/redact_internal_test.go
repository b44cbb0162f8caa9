package logscan

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrefilterFindsEveryKeyword checks the automaton against a plain
// substring search: a missed keyword is a missed secret.
func TestPrefilterFindsEveryKeyword(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	r := Default()
	var keywords []string
	for _, d := range builtinRules {
		keywords = append(keywords, d.Keywords...)
	}
	randStr := func(n int) string {
		const alphabet = "aksxyzAKIA_-:/.eEjJ"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(randStr(rng.IntN(12)))
			k := keywords[rng.IntN(len(keywords))]
			if rng.IntN(2) == 0 {
				k = strings.ToUpper(k)
			}
			b.WriteString(k)
		}
		s := b.String()
		l, _ := r.prefilter(s)
		got := map[string]bool{}
		for _, k := range l.kws {
			got[string(r.keywords[k])] = true
		}
		l.release()
		for _, d := range builtinRules {
			for _, k := range d.Keywords {
				require.Equal(t, strings.Contains(strings.ToLower(s), k), got[k], "rule %s keyword %q in %q", d.Name, k, s)
			}
		}
	}
}

func TestBuiltinKeywordsAreLowerCase(t *testing.T) {
	t.Parallel()
	for _, d := range builtinRules {
		require.NotEmpty(t, d.Keywords, d.Name)
		for _, k := range d.Keywords {
			require.Equal(t, asciiLower(k), k, d.Name)
		}
		require.Empty(t, CheckRule(RedactRule{Name: d.Name + "_x", Keywords: d.Keywords, Pattern: d.Pattern, SecretGroup: d.SecretGroup}), d.Name)
	}
}
