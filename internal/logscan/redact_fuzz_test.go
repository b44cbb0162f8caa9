package logscan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

// fuzzSecrets are fake secrets planted into fuzzed text, each standing
// alone (between spaces) so that it must be redacted whatever surrounds it.
var fuzzSecrets = []struct{ planted, secret string }{
	{" AKIAQ7FUZZ2KEY5EXMPL ", "AKIAQ7FUZZ2KEY5EXMPL"},
	{" ghp_FuzzFuzzFuzzFuzzFuzzFuzzFuzz0123456789 ", "ghp_FuzzFuzzFuzzFuzzFuzzFuzzFuzz0123456789"},
	{" password=Fz9kQ2mW7xLp ", "Fz9kQ2mW7xLp"},
	{" postgres://etl:Hq4Zt8Wv2Kx@db:5432/x ", "Hq4Zt8Wv2Kx"},
	{" eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.Zm9vYmFyYmF6cXV4 ", "eyJzdWIiOiJmdXp6In0"},
}

func FuzzRedact(f *testing.F) {
	f.Add("password=hunter2 and AKIAIOSFODNN7EXAMPLE", uint(3), uint8(0))
	f.Add("postgres://u:p@h/db", uint(0), uint8(1))
	f.Add("-----BEGIN PRIVATE KEY-----\nabc", uint(30), uint8(2))
	f.Add("[REDACTED:jwt] [REDACTED:x password=[REDACTED:password_pair]", uint(5), uint8(3))
	f.Add(strings.Repeat("a", 70)+"\n"+strings.Repeat("b", 70), uint(70), uint8(4))
	f.Add("Authorization: Bearer "+strings.Repeat("eyJx", 20)+"\nrest", uint(9), uint8(0))
	f.Add("\x00\xff\xfe\r\n-----END PRIVATE KEY-----", uint(1), uint8(2))
	// Once found: redaction lengthened a line past a width the wrap logic
	// used to require, so the second pass joined lines the first did not.
	f.Add("00000000000000 BeArer 0000\n000A", uint(9), uint8(92))
	f.Fuzz(func(t *testing.T, s string, at uint, which uint8) {
		out := logscan.Redact(s)
		require.Equal(t, out, logscan.Redact(out), "redaction is idempotent")
		lines := strings.Split(s, "\n")
		require.Equal(t, out, strings.Join(logscan.RedactLines(lines), "\n"), "Redact and RedactLines agree")

		p := fuzzSecrets[int(which)%len(fuzzSecrets)]
		i := int(at % uint(len(s)+1))
		planted := s[:i] + p.planted + s[i:]
		if strings.Count(planted, p.secret) != 1 {
			return // the fuzzer wrote the secret itself, maybe where it is not one
		}
		out = logscan.Redact(planted)
		require.NotContains(t, out, p.secret, "planted secret survives in %q", out)
		require.Equal(t, out, logscan.Redact(out), "idempotent with a planted secret")
	})
}
