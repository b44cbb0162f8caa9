package logscan

import (
	"strings"
)

// ruleDef is a RedactRule plus what the built-in rules need beyond it.
//
// Built-in patterns are anchored: each match starts exactly back bytes
// before an occurrence of one of the rule's keywords (usually back is 0 and
// the pattern starts with the keyword), and the pattern is tried only
// there. This is what keeps keyword-dense text fast: the regular
// expressions confirm candidates instead of scanning. Context before the
// match that a pattern would need a look-behind for (a word boundary, the
// scheme of a URL, the dashes of a flag) is checked by boundary and accept.
type ruleDef struct {
	RedactRule
	search   bool // an operator rule: searched for anywhere in the line
	back     int
	boundary bool
	// pre is a cheap necessary condition checked before the pattern runs,
	// given the candidate's start and the end of its keyword.
	pre    func(text string, start, kwEnd int) bool
	accept func(m *match) bool
}

// BuiltinRules returns the built-in rules, in the order they are applied
// (specific token formats first, generic key/value rules last); overlapping
// secrets are merged into one placeholder named after the earliest. Their
// patterns are anchored at a keyword occurrence (see ruleDef), which
// operator rules need not be.
func BuiltinRules() []RedactRule {
	out := make([]RedactRule, len(builtinRules))
	for i, d := range builtinRules {
		out[i] = d.RedactRule
		out[i].Keywords = append([]string(nil), d.Keywords...)
	}
	return out
}

// IsBuiltinRule reports whether name is the name of a built-in rule.
func IsBuiltinRule(name string) bool {
	for _, d := range builtinRules {
		if d.Name == name {
			return true
		}
	}
	return false
}

// Pieces shared by the key/value rules.
const (
	// keyEnd closes a quoted key: "password": 'password': \"password\":
	keyEnd = `(?:\\?["'])?`
	// sep is an assignment: = : => := ==, with spaces.
	sep = `\s*(?:=>|:=|==|[:=])\s*`
	// value is a quoted string (JSON with escapes, single quotes, JSON
	// escaped inside JSON) or a bare word up to a delimiter.
	value = `(?:"(?P<secret>(?:[^"\\\r\n]|\\.)*)"` +
		`|'(?P<secret>[^'\r\n]*)'` +
		`|\\"(?P<secret>(?:[^"\\\r\n]|\\[^"\r\n])*)\\"` +
		"|(?P<secret>[^\\s\"'`,;&)}\\]<>{\\[(\\\\][^\\s\"'`,;&)}\\]<>]*))"
	// suffix is the rest of a key after its secret-ish word: _FILE, Type.
	suffix = `(?P<suffix>[\w.\-]*)`
	// quoteOpt is an optional opening quote before a value.
	quoteOpt = `(?:\\?["'])?`
)

// pair builds a key/value rule for keys containing one of words.
func pair(name string, words ...string) ruleDef {
	return ruleDef{
		RedactRule: RedactRule{
			Name:     name,
			Keywords: words,
			Pattern:  `(?i)(?P<kw>` + strings.Join(words, "|") + `)` + suffix + keyEnd + sep + value,
		},
		pre:    sepFollows,
		accept: acceptPair,
	}
}

// token builds a rule for a token with a fixed prefix, which must not
// follow a word character.
func token(name, pattern string, keywords ...string) ruleDef {
	return ruleDef{RedactRule: RedactRule{Name: name, Keywords: keywords, Pattern: pattern}, boundary: true}
}

// keyed builds a rule whose pattern starts with one of its keywords.
func keyed(name, pattern string, keywords ...string) ruleDef {
	return ruleDef{RedactRule: RedactRule{Name: name, Keywords: keywords, Pattern: pattern}}
}

// assigned builds a rule whose pattern is a key starting with one of its
// keywords, an assignment and a value.
func assigned(name, pattern string, keywords ...string) ruleDef {
	d := keyed(name, pattern, keywords...)
	d.pre = sepFollows
	return d
}

// sepFollows reports whether the key starting at a keyword is followed by
// an assignment (= or :), as every key/value pattern requires: the rest of
// the key ([\w.-]*), an optional quote, then spaces.
func sepFollows(text string, _, kwEnd int) bool {
	i := kwEnd
	for i < len(text) && (isWordByte(text[i]) || text[i] == '.' || text[i] == '-') {
		i++
	}
	if i < len(text) && text[i] == '\\' {
		i++
	}
	if i < len(text) && (text[i] == '"' || text[i] == '\'') {
		i++
	}
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n' || text[i] == '\f') {
		i++
	}
	return i < len(text) && (text[i] == '=' || text[i] == ':')
}

// withNext returns prefix+c+suffix for each character c of chars: keywords
// for a literal too short to be selective on its own ("sk" then a hex digit).
func withNext(prefix, chars, suffix string) []string {
	out := make([]string, len(chars))
	for i := range chars {
		out[i] = prefix + chars[i:i+1] + suffix
	}
	return out
}

const (
	hexDigits = "0123456789abcdef"
	digits    = "0123456789"
)

var builtinRules = []ruleDef{
	// Private keys: a PEM block on one line (or with \n escapes, as in a
	// service-account JSON) is matched here; blocks over many lines are
	// handled by redactAll.
	keyed(pemRuleName, `-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)`,
		"-----begin"),
	token("age_secret_key", `AGE-SECRET-KEY-1[0-9A-Z]{40,}`, "age-secret-key-1"),

	// Cloud providers.
	token("aws_access_key", `(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AROA|AIDA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b`,
		"a3t", "akia", "asia", "abia", "acca", "aroa", "aida", "anpa", "anva", "apka"),
	assigned("aws_secret_key", `(?i)secret[_-]?(?:access[_-]?)?key`+keyEnd+sep+quoteOpt+`(?P<secret>[A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)`,
		"secret"),
	assigned("aws_session_token", `(?i)(?:session|security)[_-]?token`+keyEnd+sep+quoteOpt+`(?P<secret>[A-Za-z0-9/+=%]{32,})`,
		"session", "security"),
	token("gcp_api_key", `AIza[0-9A-Za-z_-]{35}`, "aiza"),
	assigned("gcp_private_key_id", `(?i)private_key_id`+keyEnd+sep+quoteOpt+`(?P<secret>[0-9a-f]{40})`, "private_key_id"),
	token("gcp_oauth_client_secret", `GOCSPX-[0-9A-Za-z_-]{20,}`, "gocspx-"),
	token("google_oauth_token", `ya29\.[0-9A-Za-z_-]{20,}`, "ya29."),
	{
		RedactRule: RedactRule{
			Name:     "azure_storage_key",
			Keywords: []string{"accountkey", "sharedaccesskey"},
			Pattern:  `(?i)(?:AccountKey|SharedAccessKey)\s*=\s*(?P<secret>[A-Za-z0-9+/=]{20,})`,
		},
		boundary: true,
	},
	{
		RedactRule: RedactRule{
			Name:     "azure_sas_signature",
			Keywords: []string{"sig="},
			Pattern:  `[?&;](?i:sig)=(?P<secret>[A-Za-z0-9%+/=_-]{16,})`,
		},
		back: 1,
	},
	{
		RedactRule: RedactRule{
			Name:     "azure_client_secret",
			Keywords: withNext("", digits, "q~"),
			Pattern:  `[0-9A-Za-z_~.-]{3}[0-9]Q~[0-9A-Za-z_~.-]{31,34}`,
		},
		back: 3, boundary: true,
	},
	token("databricks_token", `dapi[0-9a-f]{32}(?:-[0-9]+)?\b`, "dapi"),
	token("digitalocean_token", `do[por]_v1_[0-9a-f]{64}\b`, "dop_v1_", "doo_v1_", "dor_v1_"),

	// Chat, code hosting and package registries.
	token("slack_token", `xox[a-z]{1,2}[.-][0-9A-Za-z.-]{10,}`, "xox"),
	token("slack_app_token", `xapp-[0-9]-[0-9A-Za-z]+-[0-9]+-[0-9A-Za-z]+`, "xapp-"),
	keyed("slack_webhook", `(?i)hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[0-9A-Za-z+/_-]{8,})`, "hooks.slack.com"),
	token("github_pat", `ghp_[0-9A-Za-z]{30,}`, "ghp_"),
	token("github_oauth_token", `gho_[0-9A-Za-z]{30,}`, "gho_"),
	token("github_app_token", `gh[us]_[0-9A-Za-z]{30,}`, "ghu_", "ghs_"),
	token("github_refresh_token", `ghr_[0-9A-Za-z]{30,}`, "ghr_"),
	token("github_fine_grained_pat", `github_pat_[0-9A-Za-z_]{22,}`, "github_pat_"),
	token("gitlab_pat", `glpat-[0-9A-Za-z_-]{20,}`, "glpat-"),
	token("gitlab_runner_token", `(?:glrt-[0-9A-Za-z_-]{20,}|GR1348941[0-9A-Za-z_-]{20,})`, "glrt-", "gr1348941"),
	token("gitlab_token", `gl(?:dt|ptt|cbt|ft|soat|imt|agent|oas|wt|ffct)-[0-9A-Za-z_-]{20,}`,
		"gldt-", "glptt-", "glcbt-", "glft-", "glsoat-", "glimt-", "glagent-", "gloas-", "glwt-", "glffct-"),
	token("npm_token", `npm_[0-9A-Za-z]{36}\b`, "npm_"),
	token("pypi_token", `pypi-AgE[0-9A-Za-z_-]{50,}`, "pypi-age"),
	token("docker_hub_token", `dckr_pat_[0-9A-Za-z_-]{20,}`, "dckr_pat_"),
	token("huggingface_token", `hf_[A-Za-z]{34}\b`, "hf_"),
	token("vault_token", `hv[sbr]\.[0-9A-Za-z_-]{24,}`, "hvs.", "hvb.", "hvr."),
	token("grafana_token", `(?:glsa_[0-9A-Za-z]{32}_[0-9A-Fa-f]{8}|glc_[0-9A-Za-z+/]{32,}={0,2})`, "glsa_", "glc_"),
	token("shopify_token", `shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}\b`, "shpat_", "shpss_", "shpca_", "shppa_"),

	// Payments, messaging, AI.
	token("stripe_key", `(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}`, "sk_live_", "sk_test_", "rk_live_", "rk_test_"),
	token("stripe_webhook_secret", `whsec_[0-9A-Za-z+/=]{24,}`, "whsec_"),
	token("twilio_api_key", `SK[0-9a-fA-F]{32}\b`, withNext("sk", hexDigits, "")...),
	assigned("twilio_auth_token", `(?i)twilio[\w.-]*`+keyEnd+sep+quoteOpt+`(?P<secret>[0-9a-f]{32})\b`, "twilio"),
	token("sendgrid_api_key", `SG\.[0-9A-Za-z_-]{16,32}\.[0-9A-Za-z_-]{16,64}`, "sg."),
	token("anthropic_api_key", `sk-ant-[0-9A-Za-z]+[0-9]{2}-[0-9A-Za-z_-]{32,}`, "sk-ant-"),
	token("openai_api_key", `sk-(?:proj-|svcacct-|admin-|None-)?[0-9A-Za-z_-]{20,}`, "sk-"),

	// Tokens by shape.
	token("jwt", `eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.[0-9A-Za-z_-]*`, "eyj"),

	// HTTP authentication: Authorization and Proxy-Authorization headers in
	// any casing, in a header dump, a curl -H or a Python dict.
	assigned("auth_header", `(?i)authorization`+keyEnd+sep+quoteOpt+
		`(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|api-key|sso-key|key|hmac|otp|aws4-hmac-sha256)\s+)?`+
		`(?P<secret>[^\s"',;\\]+)`, "authorization"),
	{
		RedactRule: RedactRule{Name: "bearer_token", Keywords: []string{"bearer"}, Pattern: `(?i)bearer\s+(?P<secret>[0-9A-Za-z._~+/=-]{8,})`},
		boundary:   true,
		accept:     func(m *match) bool { return looksLikeToken(m.group("secret")) },
	},
	{
		RedactRule: RedactRule{Name: "basic_auth", Keywords: []string{"basic"}, Pattern: `(?i)basic\s+(?P<secret>[0-9A-Za-z+/]{6,}={0,2})`},
		boundary:   true,
		accept:     func(m *match) bool { return isBasicCredential(m.group("secret")) },
	},
	assigned("cookie_header", `(?i)cookie`+keyEnd+`\s*(?:=>|[:=])\s*`+quoteOpt+`(?P<secret>[^\s"'\\][^"'\r\n\\]{0,1000})`, "cookie"),

	// Passwords in URLs, for any scheme: postgres://u:p@h, AIRFLOW_CONN_X=...,
	// airflow connections add --conn-uri ..., https://u:p@h. The password
	// runs to the last "@" before the host, so one with a raw "@" is caught.
	{
		RedactRule: RedactRule{
			Name:     "url_password",
			Keywords: []string{"://"},
			Pattern:  `://[^\s:/@?#'"<>]*:(?P<secret>[^\s/]+?)@[0-9A-Za-z._~%\[\]-]+(?:[^@0-9A-Za-z._~%\[\]-]|$)`,
		},
		pre: afterScheme,
	},

	// Command-line flags: --password x, airflow connections add --conn-password x.
	{
		RedactRule: RedactRule{
			Name:     "cli_secret_flag",
			Keywords: []string{"password", "passwd", "token", "secret", "api-key", "apikey", "passphrase"},
			Pattern: `(?i)(?:password|passwd|token|secret|api-key|apikey|passphrase)\s+` +
				`(?:"(?P<secret>[^"\r\n]*)"|'(?P<secret>[^'\r\n]*)'|(?P<secret>[^\s"'-][^\s"']*))`,
		},
		pre:    inFlag,
		accept: func(m *match) bool { return !exemptValue(m.group("secret")) },
	},
	// SQL: ALTER USER x WITH PASSWORD 'p', CREATE USER x IDENTIFIED BY 'p'.
	{
		RedactRule: RedactRule{
			Name:     "sql_password",
			Keywords: []string{"password", "identified"},
			Pattern:  `(?i)(?:password|identified\s+by)\s+(?:"(?P<secret>[^"\r\n]+)"|'(?P<secret>[^'\r\n]+)')`,
		},
		boundary: true,
	},
	// XML and HTML: <password>p</password>, <ns:apiToken>p</ns:apiToken>.
	{
		RedactRule: RedactRule{
			Name:     "xml_secret",
			Keywords: []string{"password", "passwd", "secret", "token", "apikey", "api_key", "passphrase", "credential"},
			Pattern: `(?i)(?P<kw>password|passwd|secret|token|apikey|api_key|passphrase|credentials?)` + suffix +
				`(?:\s+[\w:.-]+\s*=\s*"[^"<>]*")*\s*>(?P<secret>[^<]+)</`,
		},
		pre:    inTag,
		accept: acceptPair,
	},
	{
		RedactRule: RedactRule{
			Name:     "auth_tuple",
			Keywords: []string{"auth"},
			Pattern:  `(?i)auth\s*=\s*\(\s*['"][^'"\r\n]*['"]\s*,\s*(?:"(?P<secret>[^"\r\n]+)"|'(?P<secret>[^'\r\n]+)')`,
		},
		boundary: true,
	},

	// key=value pairs in every spelling: password=x, "password": "x",
	// password: x, :password => 'x', password='x', PASSWORD="x", -p is not.
	// The key may have any prefix (SNOWFLAKE_PASSWORD, db.password) and a
	// suffix (password_hash), except suffixes that name metadata
	// (token_type, password_file, secret_name): see acceptPair.
	pair("password_pair", "password", "passwd", "passphrase", "pwd"),
	{
		RedactRule: RedactRule{
			Name:     "api_key_pair",
			Keywords: []string{"api", "access", "private", "secret", "auth", "account", "master", "encryption", "signing", "client"},
			Pattern: `(?i)(?P<kw>(?:api|access|private|secret|auth|account|master|encryption|signing|client)[_-]?key)` +
				suffix + keyEnd + sep + value,
		},
		pre:    sepFollows,
		accept: acceptPair,
	},
	{
		RedactRule: RedactRule{
			Name:     "secret_pair",
			Keywords: []string{"secret", "credential"},
			Pattern:  `(?i)(?P<kw>secret|credentials?)` + suffix + keyEnd + sep + value,
		},
		pre:    sepFollows,
		accept: acceptPair,
	},
	pair("token_pair", "token"),
	{
		// Anything long and random after a key that sounds secret but is
		// too common to trust alone (key, auth, session, salt, ...).
		RedactRule: RedactRule{
			Name: "high_entropy_value",
			Keywords: []string{
				"key", "auth", "cred", "sig", "salt", "session", "cookie", "fernet", "pass", "seed", "cipher",
				"encrypt", "private", "dsn",
			},
			Pattern: `(?i)(?P<kw>key|auth|cred|sig|salt|session|cookie|fernet|pass|seed|cipher|encrypt|private|dsn)` + suffix + keyEnd + sep +
				quoteOpt + `(?P<secret>[0-9A-Za-z+/=_~.!@#$%^*-]+)`,
		},
		pre: sepFollows,
		accept: func(m *match) bool {
			v := m.group("secret")
			return len(v) >= 16 && acceptKey(m.group("suffix")) && !looksLikePath(v) && highEntropy(v)
		},
	},
}
