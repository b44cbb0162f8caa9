package logscan_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

// requireGone fails unless no run of 8 or more bytes of secret survives in
// out: a wrapped secret must lose every part, not only the first.
func requireGone(t *testing.T, out, secret string) {
	t.Helper()
	for i := 0; i+8 <= len(secret); i++ {
		require.NotContains(t, out, secret[i:i+8], "part of the secret survives in\n%s", out)
	}
}

// wrap cuts s into lines of width bytes, as a terminal or a log shipper
// does.
func wrap(s string, width int) []string {
	var out []string
	for len(s) > width {
		out = append(out, s[:width])
		s = s[width:]
	}
	return append(out, s)
}

func TestRedactIsIdempotent(t *testing.T) {
	t.Parallel()
	for name, cases := range ruleCases() {
		for _, c := range cases {
			once := logscan.Redact(c.in)
			require.Equal(t, once, logscan.Redact(once), "rule %s, input %q", name, c.in)
		}
	}
	in := "[REDACTED:password_pair] password=[REDACTED:password_pair] postgres://u:[REDACTED:url_password]@h Bearer [REDACTED:jwt]"
	require.Equal(t, in, logscan.Redact(in), "placeholders never match a rule")
}

func TestRedactEmpty(t *testing.T) {
	t.Parallel()
	require.Empty(t, logscan.Redact(""))
	require.Empty(t, logscan.RedactLines(nil))
	require.Equal(t, []string{"", ""}, logscan.RedactLines([]string{"", ""}))
	require.Equal(t, "\n\n", logscan.Redact("\n\n"))
}

func TestRedactWrappedSecrets(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9." + fake(70, alnum+"_-", 180) + "." + fake(71, alnum+"_-", 342)
	akia := "AKIA" + fake(72, upperNum, 16)
	pw := "Zq8" + fake(73, alnum, 14) + "x1"
	pad := "[2026-05-01, 02:00:03 UTC] {http.py:175} DEBUG - "
	tests := []struct {
		name   string
		lines  []string
		secret string
		keep   []string // text that must survive
	}{
		{
			name:   "jwt at 80 columns",
			lines:  append(wrap(pad+"Authorization: Bearer "+jwt+" sent", 80), "[2026-05-01, 02:00:04 UTC] INFO - done"),
			secret: jwt, keep: []string{"Authorization: Bearer", "INFO - done"},
		},
		{
			name:   "bare jwt at 120 columns",
			lines:  wrap(pad+"id_token="+jwt, 120),
			secret: jwt, keep: []string{"id_token="},
		},
		{
			name:   "aws key split after the keyword",
			lines:  []string{pad + "using credentials " + akia[:9], akia[9:] + " for s3://bucket"},
			secret: akia, keep: []string{"for s3://bucket"},
		},
		{
			name:   "keyword split by the wrap",
			lines:  []string{pad + "using credentials xx AK", akia[2:] + " for s3"},
			secret: akia, keep: []string{"for s3"},
		},
		{
			name:   "password pair",
			lines:  []string{pad + "connecting with password=" + pw[:7], pw[7:] + " host=db"},
			secret: pw, keep: []string{"host=db"},
		},
		{
			name: "url password",
			lines: []string{
				pad + "AIRFLOW_CONN_DWH=postgres://etl:" + pw[:5],
				pw[5:] + "@db.internal:5432/dwh",
			},
			secret: pw, keep: []string{"@db.internal:5432/dwh"},
		},
		{
			name: "escaped private key in json over many lines",
			lines: wrap(`{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n`+
				strings.Repeat(fake(74, b64, 64)+`\n`, 40)+`-----END PRIVATE KEY-----\n", "client_email": "etl@x.iam.gserviceaccount.com"}`, 120),
			secret: strings.Repeat(fake(74, b64, 64)+`\n`, 40), keep: []string{`"client_email": "etl@x.iam.gserviceaccount.com"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := strings.Join(tt.lines, "\n")
			out := logscan.RedactLines(append([]string(nil), tt.lines...))
			require.Len(t, out, len(tt.lines))
			joined := strings.Join(out, "\n")
			requireGone(t, joined, tt.secret)
			for _, k := range tt.keep {
				require.Contains(t, strings.ReplaceAll(joined, "\n", ""), k)
			}
			require.Equal(t, joined, logscan.Redact(text), "Redact and RedactLines agree")
			require.Equal(t, joined, logscan.Redact(joined), "idempotent")
		})
	}
}

func TestRedactDoesNotJoinUnrelatedLines(t *testing.T) {
	t.Parallel()
	lines := []string{
		"[2026-05-01, 02:00:03 UTC] {base.py:84} INFO - connecting with password=Sup3rSecretValue1",
		"[2026-05-01, 02:00:04 UTC] {base.py:84} INFO - connected",
		"short token=abc123xyz",
		"Traceback (most recent call last):",
		"[2026-05-01, 02:00:04 UTC] {base.py:84} INFO - a long line that ends in a word but has no secret at all",
		"Continuation of prose",
	}
	out := logscan.RedactLines(append([]string(nil), lines...))
	require.Equal(t, "[2026-05-01, 02:00:03 UTC] {base.py:84} INFO - connecting with password=[REDACTED:password_pair]", out[0])
	require.Equal(t, "short token=[REDACTED:token_pair]", out[2])
	require.Equal(t, []string{lines[1], lines[3], lines[4], lines[5]}, []string{out[1], out[3], out[4], out[5]})
}

func TestRedactPrivateKeyAcrossLines(t *testing.T) {
	t.Parallel()
	body := []string{fake(80, b64, 64), fake(81, b64, 64), fake(82, b64, 64), fake(83, b64, 20) + "=="}
	block := append(append([]string{"-----BEGIN RSA PRIVATE KEY-----"}, body...), "-----END RSA PRIVATE KEY-----")
	t.Run("bare block", func(t *testing.T) {
		t.Parallel()
		lines := append(append([]string{"INFO - loaded key:"}, block...), "INFO - next step")
		out := logscan.RedactLines(append([]string(nil), lines...))
		require.Len(t, out, len(lines))
		require.Equal(t, "INFO - loaded key:", out[0])
		require.Equal(t, "INFO - next step", out[len(out)-1])
		for _, l := range out[1 : len(out)-1] {
			require.Equal(t, "[REDACTED:private_key]", l)
		}
		require.Equal(t, strings.Join(out, "\n"), logscan.Redact(strings.Join(lines, "\n")))
	})
	t.Run("with log prefixes, encrypted headers and CRLF", func(t *testing.T) {
		t.Parallel()
		lines := []string{
			"[2026-05-01, 02:00:03 UTC] {key.py:1} INFO - -----BEGIN ENCRYPTED PRIVATE KEY-----\r",
			"Proc-Type: 4,ENCRYPTED\r",
			"DEK-Info: AES-256-CBC,0123456789ABCDEF\r",
			"\r",
		}
		for _, b := range body {
			lines = append(lines, "[2026-05-01, 02:00:03 UTC] {key.py:1} INFO - "+b+"\r")
		}
		lines = append(lines, "-----END ENCRYPTED PRIVATE KEY----- done\r")
		out := logscan.RedactLines(append([]string(nil), lines...))
		joined := strings.Join(out, "\n")
		for _, b := range body {
			requireGone(t, joined, b)
		}
		require.Equal(t, "Proc-Type: 4,ENCRYPTED\r", out[1])
		require.Equal(t, "[REDACTED:private_key] done\r", out[len(out)-1])
		require.Contains(t, out[4], "{key.py:1} INFO - [REDACTED:private_key]")
	})
	t.Run("truncated block ends at ordinary text", func(t *testing.T) {
		t.Parallel()
		lines := []string{"-----BEGIN PRIVATE KEY-----", body[0], body[1], "INFO - Task exited with return code 1", "INFO - after"}
		out := logscan.RedactLines(append([]string(nil), lines...))
		require.Equal(t, []string{"[REDACTED:private_key]", "[REDACTED:private_key]", "[REDACTED:private_key]", lines[3], lines[4]}, out)
	})
	t.Run("certificates are kept", func(t *testing.T) {
		t.Parallel()
		lines := []string{"-----BEGIN CERTIFICATE-----", body[0], "-----END CERTIFICATE-----"}
		require.Equal(t, lines, logscan.RedactLines(append([]string(nil), lines...)))
	})
}

func TestOperatorRules(t *testing.T) {
	t.Parallel()
	r, err := logscan.NewRedactor([]logscan.RedactRule{
		{Name: "acme_token", Keywords: []string{"acme_"}, Pattern: `\bacme_[0-9a-f]{32}\b`},
		{Name: "employee_id", Keywords: []string{"EMP-"}, Pattern: `(?i)\b(emp-)(\d{6})\b`, SecretGroup: 2},
	})
	require.NoError(t, err)
	tok := "acme_" + fake(90, lowerHex, 32)
	require.Equal(t, "using [REDACTED:acme_token] now", r.Redact("using "+tok+" now"))
	require.Equal(t, "badge emp-[REDACTED:employee_id] and EMP-[REDACTED:employee_id]", r.Redact("badge emp-123456 and EMP-654321"))
	require.Equal(t, "password=[REDACTED:password_pair]", r.Redact("password=Sup3rSecret1"), "built-in rules still apply")
	require.Equal(t, "using "+tok+" now", logscan.Redact("using "+tok+" now"), "the default redactor is unchanged")
}

func TestNewRedactorRejectsBadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []logscan.RedactRule
		field string
	}{
		{"bad name", []logscan.RedactRule{{Name: "Acme Token", Keywords: []string{"a"}, Pattern: "a"}}, "name"},
		{"built-in name", []logscan.RedactRule{{Name: "jwt", Keywords: []string{"a"}, Pattern: "a"}}, "name"},
		{"duplicate", []logscan.RedactRule{
			{Name: "acme", Keywords: []string{"a"}, Pattern: "a"},
			{Name: "acme", Keywords: []string{"b"}, Pattern: "b"},
		}, "name"},
		{"no keywords", []logscan.RedactRule{{Name: "acme", Pattern: "a"}}, "keywords"},
		{"empty keyword", []logscan.RedactRule{{Name: "acme", Keywords: []string{" "}, Pattern: "a"}}, "keywords"},
		{"no pattern", []logscan.RedactRule{{Name: "acme", Keywords: []string{"a"}}}, "pattern"},
		{"bad pattern", []logscan.RedactRule{{Name: "acme", Keywords: []string{"a"}, Pattern: "a(b"}}, "pattern"},
		{"empty match", []logscan.RedactRule{{Name: "acme", Keywords: []string{"a"}, Pattern: "a*"}}, "pattern"},
		{"group out of range", []logscan.RedactRule{{Name: "acme", Keywords: []string{"a"}, Pattern: "(a)", SecretGroup: 2}}, "secret_group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := logscan.NewRedactor(tt.rules)
			var re *logscan.RuleError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.field, re.Field)
			require.Contains(t, err.Error(), "redaction rule")
		})
	}
}

// TestSetDefault is not parallel: it changes the package's default.
func TestSetDefault(t *testing.T) {
	r, err := logscan.NewRedactor([]logscan.RedactRule{{Name: "acme_token", Keywords: []string{"acme_"}, Pattern: `acme_\d{8}`}})
	require.NoError(t, err)
	logscan.SetDefault(r)
	t.Cleanup(func() { logscan.SetDefault(nil) })
	require.Same(t, r, logscan.Default())
	require.Equal(t, "[REDACTED:acme_token]", logscan.Redact("acme_12345678"))
	require.Equal(t, []string{"x [REDACTED:acme_token]"}, logscan.RedactLines([]string{"x acme_12345678"}))
	logscan.SetDefault(nil)
	require.Equal(t, "acme_12345678", logscan.Redact("acme_12345678"))
}

// TestRedactHugeLine is not parallel: it holds about 150 MB, and tests
// elsewhere in the package measure allocations.
func TestRedactHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB line")
	}
	size := 50 << 20
	if raceEnabled {
		size = 8 << 20
	}
	akia := "AKIA" + fake(91, upperNum, 16)
	// Ordinary log text full of keywords, as one line, with a secret at
	// its end and one across a window boundary: the worst case for the
	// prefilter, which selects rules in every window.
	filler := "INFO key=return_value token_type=bearer Token Expired password authentication failed {taskinstance.py:1157} "
	var b strings.Builder
	b.Grow(size + 200)
	for b.Len() < size {
		if b.Len() >= logscan.MaxWindow-logscan.WindowOverlap-10 && b.Len() < logscan.MaxWindow-logscan.WindowOverlap+len(filler) {
			b.WriteString(" password=Hunter2Secret99 ")
		}
		b.WriteString(filler)
	}
	b.WriteString(" aws " + akia)
	line := b.String()
	start := time.Now()
	out := logscan.Redact(line)
	elapsed := time.Since(start)
	t.Logf("%d MB line in %s", size>>20, elapsed)
	require.Less(t, elapsed, 60*time.Second)
	require.True(t, strings.HasSuffix(out, " aws [REDACTED:aws_access_key]"))
	require.NotContains(t, out, "Hunter2Secret99")
	require.Contains(t, out, filler, "ordinary text is kept")
	require.Equal(t, []string{out}, logscan.RedactLines([]string{line}))
}

func TestRedactBinaryGarbage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		b := make([]byte, 1+rng.IntN(64<<10))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		// Salt the garbage with keywords, newlines and half-secrets.
		s := string(b)
		for _, k := range []string{"password=", "\n-----BEGIN PRIVATE KEY-----\n", "://u:", "eyJ", "AKIA", "[REDACTED:", "Bearer "} {
			at := rng.IntN(len(s) + 1)
			s = s[:at] + k + s[at:]
		}
		out := logscan.Redact(s)
		require.Equal(t, out, logscan.Redact(out))
	}
}

func TestRuleErrorIsAnError(t *testing.T) {
	t.Parallel()
	err := error(&logscan.RuleError{Rule: "x", Field: "pattern", Msg: "does not compile"})
	var re *logscan.RuleError
	require.True(t, errors.As(err, &re))
	require.Equal(t, `redaction rule "x": pattern: does not compile`, err.Error())
}
