package template

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// maxTemplateBytes bounds a template's text: masking can triple a byte
// ("1" becomes "<*>"), plus the final "<*>" of a cut line.
func maxTemplateBytes(o Options) int { return 3*o.MaxLineBytes + 8 }

func TestMinerEmptyInput(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	a := m.Add("")
	b := m.Add(" \t ")
	require.Equal(t, "", a.Template)
	require.Equal(t, a.ID, b.ID)
	require.Equal(t, 1, m.Len())
}

// TestMinerHugeLine: one 50 MB line costs what its first MaxLineBytes cost.
func TestMinerHugeLine(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("word 1234 ", 5<<20) // 50 MB
	m := New(Options{})
	start := time.Now()
	got := m.Add(huge)
	again := m.Add(huge[:len(huge)-10] + "other tail")
	elapsed := time.Since(start)
	require.Less(t, elapsed, 2*time.Second, "a huge line must cost bounded time")
	require.LessOrEqual(t, len(got.Template), maxTemplateBytes(m.opts))
	require.True(t, strings.HasSuffix(got.Template, " <*>"), "a cut line ends in <*>")
	require.Equal(t, got.ID, again.ID, "only the first bytes of a huge line count")

	// One huge token, no spaces at all.
	blob := strings.Repeat("x", 50<<20)
	require.LessOrEqual(t, len(m.Add(blob).Template), maxTemplateBytes(m.opts))
}

func TestMinerBinaryGarbage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	opts := Options{MaxTemplates: 300}
	m := New(opts)
	start := time.Now()
	buf := make([]byte, 512)
	for range 3000 {
		n := rng.IntN(len(buf))
		for i := range buf[:n] {
			buf[i] = byte(rng.UintN(256))
		}
		res := m.Add(string(buf[:n]))
		require.True(t, utf8.ValidString(res.Template), "templates are valid UTF-8")
		require.LessOrEqual(t, len(res.Template), maxTemplateBytes(m.opts))
	}
	require.Less(t, time.Since(start), 10*time.Second)
	require.LessOrEqual(t, m.Len(), opts.MaxTemplates)
	snap, err := m.Snapshot()
	require.NoError(t, err)
	require.NoError(t, New(Options{}).Restore(snap))
}
