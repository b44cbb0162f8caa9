package logscan

import (
	"encoding/base64"
	"math"
	"strings"
)

// The checks in this file do what RE2 cannot: look before a match, weigh a
// value's randomness, and tell a key that names a secret from one that
// names a fact about it (token_type, password_file).

// afterScheme reports whether a "://" at i follows a URL scheme: a letter,
// then letters, digits, "+", "." or "-", not inside a longer word.
func afterScheme(text string, i, _ int) bool {
	j := i
	for j > 0 && j > i-41 && isSchemeByte(text[j-1]) {
		j--
	}
	if i-j < 2 || !isLetter(text[j]) {
		return false
	}
	return j == 0 || !isWordByte(text[j-1])
}

func isSchemeByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '+' || c == '.' || c == '-'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// inFlag reports whether the keyword at start ends a command-line flag:
// -password, --conn-password, preceded by a space or the start.
func inFlag(text string, start, _ int) bool {
	i := start
	for i > 0 && (isWordByte(text[i-1]) || text[i-1] == '-') {
		i--
	}
	return i < start && text[i] == '-' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t')
}

// inTag reports whether the keyword at start is in an XML tag name.
func inTag(text string, start, _ int) bool {
	i := start
	for i > 0 && (isWordByte(text[i-1]) || text[i-1] == ':' || text[i-1] == '.' || text[i-1] == '-') {
		i--
	}
	return i > 0 && text[i-1] == '<'
}

// metadataSuffixes end key names that hold facts about a secret rather
// than the secret: token_type, password_file, secret_name, max_tokens.
var metadataSuffixes = []string{
	"type", "uri", "url", "endpoint", "name", "names", "path", "file", "dir", "env", "length", "len", "count",
	"backend", "manager", "policy", "arn", "field", "header", "prefix", "format", "source", "mode", "version",
	"hint", "label", "required", "enabled", "provider", "store", "kind", "location", "scope", "scopes",
	"rotation", "strength", "changed", "reset", "auth", "authentication", "less", "missing", "invalid",
	"error", "exception", "warning", "failure", "failed", "expired", "notfound", "denied",
	".txt", ".json", ".yaml", ".yml", ".pem", ".key", ".env", ".py", ".cfg", ".ini", ".conf", ".sh",
}

// metadataWords anywhere in a key's suffix mark it as metadata too.
var metadataWords = []string{"expire", "expiry", "expiration", "ttl", "lifetime", "iz"}

// acceptKey reports whether a key's suffix (what follows "token" in
// "token_type") leaves it naming a secret.
func acceptKey(suffix string) bool {
	s := strings.ToLower(strings.TrimLeft(suffix, "_.-"))
	if s == "" {
		return true
	}
	if s == "s" {
		return false // tokens=, secrets=: counts and lists
	}
	for _, w := range metadataWords {
		if strings.Contains(s, w) {
			return false
		}
	}
	for _, w := range metadataSuffixes {
		if strings.HasSuffix(s, w) {
			return false
		}
	}
	return true
}

func acceptPair(m *match) bool {
	v := m.group("secret")
	if !acceptKey(m.group("suffix")) || exemptValue(v) {
		return false
	}
	// PWD=/home/airflow in an environment dump is the working directory;
	// PWD=x in an ODBC string is a password.
	if strings.EqualFold(m.group("kw"), "pwd") && strings.HasPrefix(v, "/") {
		return false
	}
	// /run/secrets/db_password: No such file: the key is part of a path.
	i := m.loc[0]
	for i > 0 && (isWordByte(m.text[i-1]) || m.text[i-1] == '-') {
		i--
	}
	return i == 0 || m.text[i-1] != '/'
}

// exemptValue reports whether a value is plainly not a secret: empty, a
// null or boolean, already masked (Airflow prints ***), or a reference to
// one (${VAR}, {{ var }}, %s, a bind parameter).
func exemptValue(v string) bool {
	switch strings.ToLower(v) {
	case "", "none", "null", "nil", "true", "false", "undefined", "%s", "?", "<redacted>", "redacted", "<hidden>", "<secret>":
		return true
	}
	if strings.Trim(v, "*") == "" || strings.HasPrefix(v, "{{") || strings.HasPrefix(v, "%(") {
		return true
	}
	if strings.HasPrefix(v, "$") {
		name := strings.TrimSuffix(strings.TrimPrefix(v[1:], "{"), "}")
		return isIdentifier(name)
	}
	if strings.HasPrefix(v, ":") {
		return isIdentifier(v[1:])
	}
	return false
}

func isIdentifier(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// looksLikeToken reports whether the word after "Bearer" is a credential
// rather than prose ("bearer authentication").
func looksLikeToken(v string) bool {
	return len(v) >= 32 || charClasses(v) >= 2
}

// charClasses counts which of lower case, upper case and digits occur in v.
func charClasses(v string) int {
	var lower, upper, digit int
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case 'a' <= c && c <= 'z':
			lower = 1
		case 'A' <= c && c <= 'Z':
			upper = 1
		case '0' <= c && c <= '9':
			digit = 1
		}
	}
	return lower + upper + digit
}

// isBasicCredential reports whether v is base64 of user:password.
func isBasicCredential(v string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil && strings.IndexByte(string(b), ':') > 0 {
			return true
		}
	}
	return false
}

func looksLikePath(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "~/") || strings.Contains(v, "://")
}

// highEntropy reports whether v looks random: mixed character classes and
// at least 3.3 bits of Shannon entropy per character. Random base64 of 16+
// characters scores about 3.8, hex about 3.7; identifiers and dates less.
func highEntropy(v string) bool {
	if charClasses(v) < 2 {
		return false
	}
	var counts [256]int
	for i := 0; i < len(v); i++ {
		counts[v[i]]++
	}
	h := 0.0
	n := float64(len(v))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.3
}
