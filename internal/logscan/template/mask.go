package template

// Masking replaces the variable substrings of one whitespace-free token with
// "<*>" and keeps the punctuation around them ("port:<*>", "(<*>)",
// "<*>:<*>"), so the canonical rules can then produce Loghub-style templates.
// Every rule is a generic shape of log variables; none knows a system, host
// or product name:
//
//   - URLs: "scheme://rest" keeps "scheme://" and masks the rest;
//   - paths starting a segment (at the start or after = : ( [ { " ' , < | @):
//     "/a/b", "./a", "../a", "C:\a", "\\host\a" and other paths with two
//     backslashes, and dotted names joined by a slash
//     ("com.example.app/.Main"); a path ends at a quote, an unbalanced
//     closing bracket or trailing , ; : and a final ":port" stays outside;
//   - UUIDs, MAC and IPv6 addresses become one "<*>";
//   - IPv4 addresses (and comma-separated lists of them) and host names
//     ending in a common top-level domain become "<*>", a ":port" after
//     them ":<*>"; e-mail addresses become "<*>";
//   - numbers, with a leading minus sign when it is not a range dash, and
//     any alphanumeric run that starts with a digit ("33MHz", "2048K",
//     "003a90fc", "0x1f") become "<*>", except a number glued to a
//     camelCase word ("0userId"), which is kept;
//   - letter-led runs that are long hex ("ffffffff", "e1000", "c6b3"),
//     versions ("v1.2.3") and generated identifiers with a digit inside
//     ("IO80211Family", "jA9J1UvC") become "<*>";
//   - other letter-led words are kept even when they end in digits ("eth0",
//     "CPU0"): whether they vary is the miner's call, not the masker's.
//
// Digits after an underscore start a new run, so "blk_-42" and "rdd_2_0" are
// masked ("blk_<*>", "rdd_<*>_<*>"), and the canonical rules then make the
// whole piece "<*>". Quoted strings are not masked as such: a quoted
// identifier with digits ('attempt_01_m_3') is, through the rules above, and a
// quoted word ('Active') usually belongs to the message.

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }
func isHex(c byte) bool    { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

// isSegStart reports bytes after which a path or URL may begin.
func isSegStart(c byte) bool {
	switch c {
	case '=', ':', '(', '[', '{', '"', '\'', ',', '<', '|', '@':
		return true
	}
	return false
}

// tokFlags summarises which bytes a token holds, so that the masker only
// tries the patterns that could match.
type tokFlags uint8

const (
	fDigit tokFlags = 1 << iota
	fSlash
	fColon
	fDot
	fAt
	fDash
	fLong // 36 bytes or more: room for a UUID
)

// fHigh marks a byte of a multi-byte UTF-8 sequence (or invalid UTF-8).
const fHigh tokFlags = 1 << 7

// byteFlags maps each byte to the token flag it sets.
var byteFlags = func() (t [256]tokFlags) {
	for c := '0'; c <= '9'; c++ {
		t[c] = fDigit
	}
	t['/'], t['\\'] = fSlash, fSlash
	t[':'], t['.'], t['@'], t['-'] = fColon, fDot, fAt, fDash
	for c := 0x80; c < 0x100; c++ {
		t[c] = fHigh
	}
	return t
}()

// maskToken appends the masked form of tok to dst. f is the union of
// byteFlags over tok's bytes, plus fLong for long tokens, without fHigh.
func maskToken(dst []byte, tok string, f tokFlags) []byte {
	if f == 0 {
		// Letters and punctuation only: the one possible variable is a
		// long hex word ("ffffffff").
		return maskPlain(dst, tok)
	}
	i := 0
	for i < len(tok) {
		c := tok[i]
		if f&(fSlash|fColon) != 0 && (i == 0 || isSegStart(tok[i-1])) {
			if f&fColon != 0 {
				if n, keep := urlAt(tok, i); n > 0 {
					dst = append(dst, tok[i:i+keep]...)
					dst = append(dst, wildcardBytes...)
					i += n
					continue
				}
			}
			if f&fSlash != 0 {
				if n := pathAt(tok, i); n > 0 {
					dst = append(dst, wildcardBytes...)
					i += n
					continue
				}
			}
		}
		runStart := i == 0 || !isAlnum(tok[i-1])
		if !runStart || (!isAlnum(c) && c != '-') {
			dst = append(dst, c)
			i++
			continue
		}
		if c == '-' {
			// A sign, not a range dash or a word hyphen.
			if i+1 < len(tok) && isDigit(tok[i+1]) {
				n := alnumRun(tok, i+1)
				dst = append(dst, wildcardBytes...)
				i += 1 + n
				continue
			}
			dst = append(dst, c)
			i++
			continue
		}
		if f&fLong != 0 && f&fDash != 0 {
			if n := uuidAt(tok, i); n > 0 {
				dst = append(dst, wildcardBytes...)
				i += n
				continue
			}
		}
		if f&fColon != 0 {
			if n := colonHexAt(tok, i); n > 0 {
				dst = append(dst, wildcardBytes...)
				i += n
				continue
			}
		}
		if f&fAt != 0 {
			if n := emailAt(tok, i); n > 0 {
				dst = append(dst, wildcardBytes...)
				i += n
				continue
			}
		}
		if f&fDot != 0 {
			if n := hostAt(tok, i); n > 0 {
				// A comma-separated list of addresses is one value.
				for i+n+1 < len(tok) && tok[i+n] == ',' && isDigit(tok[i+n+1]) {
					m := hostAt(tok, i+n+1)
					if m == 0 || !isIPv4(tok[i+n+1:i+n+1+m]) {
						break
					}
					n += 1 + m
				}
				dst = append(dst, wildcardBytes...)
				i += n
				continue
			}
		}
		n := alnumRun(tok, i)
		word := tok[i : i+n]
		switch {
		case isDigit(c) && gluedWord(word):
			// "0userId": a number glued to an identifier; only the
			// number is a value, and the canonical rules then keep the
			// word (see gluedWord).
			dst = append(dst, word...)
		case isDigit(c), isHexWord(word), f&fDigit != 0 && innerDigit(word):
			// A digit-led run covers 0x hex, units and hex words alike.
			dst = append(dst, wildcardBytes...)
		default:
			if v := versionAt(tok, i); v > 0 {
				dst = append(dst, wildcardBytes...)
				n = v
			} else {
				dst = append(dst, word...)
			}
		}
		i += n
	}
	return dst
}

// maskPlain masks a token with no digits and none of / \ : . @ -.
func maskPlain(dst []byte, tok string) []byte {
	i := 0
	for i < len(tok) {
		if !isLetter(tok[i]) {
			dst = append(dst, tok[i])
			i++
			continue
		}
		n := alnumRun(tok, i)
		if n >= 8 && (i == 0 || !isAlnum(tok[i-1])) && isHexWord(tok[i:i+n]) {
			dst = append(dst, wildcardBytes...)
		} else {
			dst = append(dst, tok[i:i+n]...)
		}
		i += n
	}
	return dst
}

// alnumRun returns the length of the run of ASCII letters and digits at i.
func alnumRun(s string, i int) int {
	j := i
	for j < len(s) && isAlnum(s[j]) {
		j++
	}
	return j - i
}

// isHexWord reports letter-led hex runs that are clearly numbers: eight or
// more hex digits, or four or more with at least one decimal digit.
func isHexWord(w string) bool {
	if len(w) < 4 {
		return false
	}
	digit := false
	for i := 0; i < len(w); i++ {
		if !isHex(w[i]) {
			return false
		}
		if isDigit(w[i]) {
			digit = true
		}
	}
	return digit || len(w) >= 8
}

// gluedWord reports a digit-led run whose letters form a camelCase
// identifier ("0userId"): text glued to a number by a missing separator,
// which is kept as written instead of being taken for a unit or hex.
func gluedWord(w string) bool {
	i := 0
	for i < len(w) && isDigit(w[i]) {
		i++
	}
	lower := 0
	for i < len(w) && w[i] >= 'a' && w[i] <= 'z' {
		i++
		lower++
	}
	if lower < 2 || i >= len(w) || w[i] < 'A' || w[i] > 'Z' {
		return false
	}
	for ; i < len(w); i++ {
		if !isLetter(w[i]) {
			return false
		}
	}
	return true
}

// innerDigit reports a letter-led run with a digit followed by a letter
// ("Brcm43xx", "IO80211Family", "jA9J1Uv"): generated identifiers far more
// often than words. A trailing number ("eth0", "CPU2") does not count.
func innerDigit(w string) bool {
	for i := 1; i+1 < len(w); i++ {
		if isDigit(w[i]) && isLetter(w[i+1]) {
			return true
		}
	}
	return false
}

// versionAt matches v1.2(.3...) at i and returns its length.
func versionAt(s string, i int) int {
	if s[i] != 'v' && s[i] != 'V' {
		return 0
	}
	j := i + 1
	dots := 0
	for {
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k == j {
			return 0
		}
		j = k
		if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			dots++
			j++
			continue
		}
		break
	}
	if dots == 0 || (j < len(s) && isLetter(s[j])) {
		return 0
	}
	return j - i
}

// urlAt matches scheme://rest at i. It returns the bytes consumed and how
// many of them (the scheme and "://") are kept.
func urlAt(s string, i int) (n, keep int) {
	if !isLetter(s[i]) {
		return 0, 0
	}
	j := i + 1
	for j < len(s) && (isAlnum(s[j]) || s[j] == '+' || s[j] == '.' || s[j] == '-') {
		j++
	}
	if j+3 > len(s) || s[j:j+3] != "://" || j-i > 32 {
		return 0, 0
	}
	keep = j + 3 - i
	end := spanEnd(s, j+3, false)
	if end == j+3 {
		return 0, 0
	}
	return end - i, keep
}

// pathAt matches a slash or backslash path at i and returns its length.
func pathAt(s string, i int) int {
	start := i
	switch {
	case s[i] == '/':
		if i+1 >= len(s) || s[i+1] == '/' || !pathByte(s[i+1]) {
			return 0
		}
	case s[i] == '.' && i+2 < len(s) && s[i+1] == '/':
		// ./x
	case s[i] == '.' && i+3 < len(s) && s[i+1] == '.' && s[i+2] == '/':
		// ../x
	case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || isAlnum(s[i+1]) || s[i+1] == '_'):
		if countByte(s[i:], '\\') < 2 {
			return 0
		}
	case isLetter(s[i]) && i+2 < len(s) && s[i+1] == ':' && s[i+2] == '\\':
		// C:\x
	case isLetter(s[i]):
		// "com.example.app/.MainActivity": qualified names joined by a
		// slash, as in component and class paths.
		if n := qualifiedPathAt(s, i); n > 0 {
			return n
		}
		return 0
	default:
		return 0
	}
	end := spanEnd(s, start, true)
	if end-start < 2 {
		return 0
	}
	return end - start
}

func pathByte(c byte) bool {
	return c > ' ' && c != '"' && c != '\'' && c != '<' && c != '>'
}

func countByte(s string, b byte) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			n++
		}
	}
	return n
}

// spanEnd returns where a path or URL that starts at i ends: at a quote or
// angle bracket, at a closing bracket with no matching opener inside the
// span, before trailing punctuation, and (for paths) before a final ":port".
func spanEnd(s string, i int, path bool) int {
	depth := 0
	j := i
loop:
	for ; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '<', '>':
			break loop
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				break loop
			}
			depth--
		}
	}
	for j > i {
		switch s[j-1] {
		case ',', ';', ':':
			j--
			continue
		case '.':
			// A sentence's full stop after a URL; a path keeps its dot
			// ("part-00347.").
			if !path {
				j--
				continue
			}
		}
		break
	}
	if path {
		// "/10.0.0.1:50010" keeps its port outside the path.
		k := j
		for k > i && isDigit(s[k-1]) {
			k--
		}
		if k < j && k-1 > i && s[k-1] == ':' {
			j = k - 1
		}
	}
	return j
}

// uuidAt matches an 8-4-4-4-12 hex UUID at i.
func uuidAt(s string, i int) int {
	if len(s)-i < 36 {
		return 0
	}
	for k := 0; k < 36; k++ {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return 0
			}
		default:
			if !isHex(c) {
				return 0
			}
		}
	}
	if i+36 < len(s) && isAlnum(s[i+36]) {
		return 0
	}
	return 36
}

// colonHexAt matches MAC addresses and IPv6 addresses: at least six
// colon-separated groups of one to four hex digits ("::" allowed), not
// followed by another alphanumeric.
func colonHexAt(s string, i int) int {
	j, groups, empties := i, 0, 0
	for j < len(s) {
		k := j
		for k < len(s) && k-j < 5 && isHex(s[k]) {
			k++
		}
		if k-j > 4 {
			return 0
		}
		if k == j {
			empties++
			if empties > 2 {
				break
			}
		} else {
			groups++
		}
		j = k
		if j < len(s) && s[j] == ':' && (j+1 < len(s) && (isHex(s[j+1]) || s[j+1] == ':')) {
			j++
			continue
		}
		break
	}
	if groups < 6 && (empties == 0 || groups < 3) {
		return 0
	}
	if j < len(s) && isAlnum(s[j]) {
		return 0
	}
	return j - i
}

// tlds are top-level domains common in host names. File extensions that
// are also country codes (sh, py, pl, md, rs, so, id, ...) are left out on
// purpose: "run.sh" is a file, not a host.
var tlds = map[string]bool{
	"com": true, "net": true, "org": true, "edu": true, "gov": true, "mil": true, "int": true,
	"io": true, "us": true, "uk": true, "hk": true, "cn": true, "jp": true, "de": true,
	"fr": true, "ru": true, "br": true, "au": true, "ca": true, "kr": true, "tw": true,
	"nl": true, "se": true, "ch": true, "es": true, "eu": true, "info": true, "biz": true,
	"local": true, "localdomain": true, "internal": true, "lan": true, "arpa": true,
	"asia": true, "mobi": true, "name": true, "pro": true, "tv": true, "me": true, "cc": true,
	"co": true, "app": true, "dev": true, "top": true, "site": true, "online": true, "club": true,
	"xyz": true, "cloud": true, "sg": true, "vn": true, "th": true, "my": true, "mx": true,
	"ar": true, "cl": true, "za": true, "nz": true, "pt": true, "cz": true, "be": true,
	"dk": true, "fi": true, "no": true, "gr": true, "hu": true, "ro": true, "ua": true,
	"tr": true, "il": true, "ie": true, "ae": true, "ir": true, "pk": true,
}

// hostAt matches an IPv4 address or a dotted host name ending in a known
// top-level domain at i, and returns its length.
func hostAt(s string, i int) int {
	j := i
	labels, digitLabels := 0, 0
	lastStart := i
	for {
		k := j
		allDigits := true
		for k < len(s) && (isAlnum(s[k]) || (s[k] == '-' && k > j)) {
			if !isDigit(s[k]) {
				allDigits = false
			}
			k++
		}
		if k == j || k-j > 63 {
			break
		}
		labels++
		if allDigits {
			digitLabels++
		}
		lastStart = j
		j = k
		if j+1 < len(s) && s[j] == '.' && isAlnum(s[j+1]) {
			j++
			continue
		}
		break
	}
	if j < len(s) && (s[j] == '_' || isAlnum(s[j])) {
		return 0
	}
	if labels == 4 && digitLabels == 4 {
		return j - i
	}
	if labels < 2 || digitLabels == labels {
		return 0
	}
	last := s[lastStart:j]
	if len(last) > 11 {
		return 0
	}
	var lower [11]byte
	for k := 0; k < len(last); k++ {
		lower[k] = last[k] | 0x20
		if !isLetter(last[k]) {
			return 0
		}
	}
	if !tlds[string(lower[:len(last)])] {
		return 0
	}
	return j - i
}

// emailAt matches local@host.tld at i.
func emailAt(s string, i int) int {
	j := i
	for j < len(s) && (isAlnum(s[j]) || s[j] == '.' || s[j] == '_' || s[j] == '%' || s[j] == '+' || s[j] == '-') {
		j++
	}
	if j == i || j >= len(s) || s[j] != '@' || j+1 >= len(s) {
		return 0
	}
	n := hostAt(s, j+1)
	if n == 0 {
		return 0
	}
	return j + 1 + n - i
}

// isIPv4 reports four dot-separated digit runs.
func isIPv4(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			dots++
		case !isDigit(s[i]):
			return false
		}
	}
	return dots == 3
}

// qualifiedPathAt matches name/name where the first name is dotted
// ("a.b.c/...") and returns its length.
func qualifiedPathAt(s string, i int) int {
	j := i
	dots := 0
	for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] == '.' || s[j] == '$' || s[j] == '-') {
		if s[j] == '.' {
			dots++
		}
		j++
	}
	if dots == 0 || j+1 >= len(s) || s[j] != '/' || !pathByte(s[j+1]) || s[j-1] == '.' {
		return 0
	}
	end := spanEnd(s, i, true)
	if end <= j+1 {
		return 0
	}
	return end - i
}
