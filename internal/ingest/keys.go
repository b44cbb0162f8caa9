package ingest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
)

// maxHostsPerEvent bounds the host keys one error text yields; a text that
// names more hosts than this is a dump, not a connection error.
const maxHostsPerEvent = 3

// maxCause bounds an incident's cause, in runes.
const maxCause = 200

// coalesceKeys returns an event's structured keys ("kind:value") for the
// kinds enabled, in the order they are tried, and the cause it would give an
// incident it opens. ev.Exception must be redacted already. Everything here
// is computed from the event's fields by fixed rules, never from generated
// text. Only OpenLineage events name datasets (the ones the failed task read
// or wrote), so for other sources the dataset kind yields nothing.
func coalesceKeys(ev *incident.FailureEvent, kinds []string) (keys []string, cause string) {
	var root *extract.Block
	if strings.TrimSpace(ev.Exception) != "" {
		root = extract.Extract(strings.Split(ev.Exception, "\n")).Root
	}
	for _, kind := range kinds {
		switch kind {
		case config.CoalesceKeyRun:
			keys = append(keys, kind+":"+ev.RunKey())
		case config.CoalesceKeySignature:
			if root == nil {
				continue
			}
			if sig := signature.Of(root); !sig.Generic {
				keys = append(keys, kind+":"+sig.ID)
			}
		case config.CoalesceKeyHost:
			for _, h := range Hosts(ev.Exception) {
				keys = append(keys, kind+":"+h)
			}
		case config.CoalesceKeyDataset:
			for _, d := range ev.Datasets {
				keys = append(keys, kind+":"+d)
			}
		}
	}
	return keys, causeOf(ev.Exception, root)
}

// causeOf is the first line of an error: the root block's exception type
// and message when extraction found one, else the first non-empty line.
func causeOf(exception string, root *extract.Block) string {
	var c string
	if root != nil {
		c = firstLine(root.Message)
		if root.ExceptionType != "" {
			c = root.ExceptionType + ": " + c
		}
	} else {
		c = firstLine(exception)
	}
	if utf8.RuneCountInString(c) > maxCause {
		c = string([]rune(c)[:maxCause-1]) + "…"
	}
	return c
}

func firstLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// Host patterns, each with a "host" group and optionally a "port" group.
// Only hosts in a connection context are taken: a URL's authority, a
// host=/port= pair, "server at", "connect to", "resolve", or a bare
// host:port. A dotted name elsewhere (a quoted table
// "ANALYTICS.PUBLIC.ORDERS") is never a host.
var (
	hostName = `(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})\.)+[A-Za-z][A-Za-z0-9-]{0,62})`
	q        = `['"]?`
	hostREs  = []*regexp.Regexp{
		// scheme://user:pass@host:port/… (JDBC, SQLAlchemy, redis://, https://).
		regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://(?:[^\s/@'"]*@)?(?P<host>` + hostName + `)(?::(?P<port>\d{1,5}))?`),
		// psycopg2/libpq: connection to server at "h" (10.0.0.1), port 5432;
		// older: on host "h" (10.0.0.1) and accepting TCP/IP connections on port 5432.
		regexp.MustCompile(`(?i)\b(?:server at|on host|to the host|to host)\s+` + q + `(?P<host>` + hostName + `)` + q +
			`(?:\s*\([^)]*\))?(?:,?\s*(?:and accepting TCP/IP connections on )?port\s+(?P<port>\d{1,5}))?`),
		// host=h port=5432, host='h', port=443 (libpq DSNs, urllib3 pools).
		regexp.MustCompile(`(?i)\bhost(?:name)?\s*[=:]\s*` + q + `(?P<host>` + hostName + `)` + q +
			`(?:[,;\s]+port\s*[=:]\s*` + q + `(?P<port>\d{1,5}))?`),
		// Can't connect to MySQL server on 'h' (111), Could not connect to 'h',
		// Failed to resolve 'h', Unknown host h, getaddrinfo ENOTFOUND h.
		regexp.MustCompile(`(?i)\b(?:server on|connect(?:ing)? to|connection to|resolve|unknown host|ENOTFOUND|EAI_AGAIN)\s+` +
			`(?:[A-Za-z]+ (?:server )?(?:at|on) )?` + q + `(?P<host>` + hostName + `)` + q + `(?::(?P<port>\d{1,5}))?`),
		// bare host:port, or Kafka's host/10.0.0.5:9092.
		regexp.MustCompile(`(?:^|[\s(\[<'"=,@])(?P<host>` + hostName + `)(?:/[0-9.]+)?:(?P<port>\d{1,5})\b`),
	}
)

// fileExts are name endings that make a dotted word a file (a stack
// frame's etl.py:42), not a host.
var fileExts = []string{
	"py", "pyc", "java", "scala", "kt", "class", "jar", "sql", "go", "js", "ts", "rb", "sh", "c", "h", "cc", "cpp",
	"yaml", "yml", "json", "log", "txt", "csv", "parquet", "ipynb", "html", "xml", "conf", "cfg", "ini", "md", "jinja", "j2",
}

// Hosts returns the upstream hosts an error text names in a connection
// context, lower-cased, in order of appearance, at most three. A host is
// keyed by name alone, so that drivers that print the port and those that do
// not agree, except for loopback addresses, which are keyed with their port
// (every local sidecar is on localhost).
func Hosts(text string) []string {
	type hit struct {
		at   int
		key  string
		port bool
	}
	var hits []hit
	for _, re := range hostREs {
		hi, pi := re.SubexpIndex("host"), re.SubexpIndex("port")
		for _, m := range re.FindAllStringSubmatchIndex(text, 16) {
			host := strings.TrimSuffix(strings.ToLower(text[m[2*hi]:m[2*hi+1]]), ".")
			port := ""
			if pi >= 0 && m[2*pi] >= 0 {
				port = text[m[2*pi]:m[2*pi+1]]
			}
			if key, ok := hostKey(host, port); ok {
				hits = append(hits, hit{at: m[2*hi], key: key, port: port != ""})
			}
		}
	}
	// Patterns overlap; of the hits at one place, the one that read a port
	// comes first and the rest are dropped.
	slices.SortStableFunc(hits, func(a, b hit) int {
		if a.at != b.at {
			return a.at - b.at
		}
		return b2i(b.port) - b2i(a.port)
	})
	var out []string
	for i, h := range hits {
		if i > 0 && hits[i-1].at == h.at {
			continue
		}
		if !slices.Contains(out, h.key) {
			out = append(out, h.key)
		}
		if len(out) == maxHostsPerEvent {
			break
		}
	}
	return out
}

// hostKey validates a candidate and returns its key.
func hostKey(host, port string) (string, bool) {
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	if host == "" || strings.Contains(host, "redacted") {
		return "", false
	}
	if i := strings.LastIndexByte(host, '.'); i >= 0 && !isIPv4(host) {
		if slices.Contains(fileExts, host[i+1:]) {
			return "", false
		}
	}
	if isIPv4(host) {
		for o := range strings.SplitSeq(host, ".") {
			if n, _ := strconv.Atoi(o); n > 255 {
				return "", false
			}
		}
	}
	loopback := host == "localhost" || strings.HasPrefix(host, "127.") || host == "0.0.0.0" || host == "[::1]"
	if loopback && port != "" {
		return host + ":" + port, true
	}
	return host, true
}

func isIPv4(h string) bool {
	return strings.Count(h, ".") == 3 && strings.Trim(h, "0123456789.") == ""
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
