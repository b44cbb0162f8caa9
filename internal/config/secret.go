package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// redacted is what a set Secret prints as, everywhere.
const redacted = "[redacted]"

// maxSecretFileBytes bounds what a *_file secret may hold, so that pointing
// one at a log or a device cannot exhaust memory.
const maxSecretFileBytes = 64 << 10

// Secret is a credential (API token, password, HMAC key) that never prints.
// Every way of rendering it (fmt verbs, String, GoString, JSON, YAML, text
// and slog) gives "[redacted]" when it is set and "" when it is not, so
// whether a secret is configured stays visible while its value does not. Only
// Reveal returns the value; call it where the value is sent, nowhere else.
//
// The value sits behind a pointer so that even reflection-based printers
// that skip the methods (fmt on an unexported field) show an address rather
// than the value. The zero Secret is unset. Compare secrets with IsSet and
// Reveal, not ==, which compares the pointers.
type Secret struct {
	v *string
}

// Compile-time guards: every renderer Secret must intercept.
var (
	_ fmt.Stringer                               = Secret{}
	_ fmt.GoStringer                             = Secret{}
	_ fmt.Formatter                              = Secret{}
	_ json.Marshaler                             = Secret{}
	_ yaml.Marshaler                             = Secret{}
	_ yaml.Unmarshaler                           = (*Secret)(nil)
	_ slog.LogValuer                             = Secret{}
	_ interface{ MarshalText() ([]byte, error) } = Secret{}
)

// NewSecret wraps value; an empty value gives an unset Secret.
func NewSecret(value string) Secret {
	if value == "" {
		return Secret{}
	}
	return Secret{v: &value}
}

// Reveal returns the secret value, or "" when unset.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.v != nil && *s.v != "" }

// String returns "[redacted]" when set and "" when unset.
func (s Secret) String() string {
	if s.IsSet() {
		return redacted
	}
	return ""
}

// GoString renders like String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format renders like String for every verb; %q quotes it.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.String()
	if verb == 'q' {
		out = strconv.Quote(out)
	}
	_, _ = io.WriteString(f, out)
}

// MarshalJSON renders like String, as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML renders like String, as a YAML string.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText renders like String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue renders like String, for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// UnmarshalYAML reads the secret from a YAML scalar, taken verbatim (so
// "password: 0123" keeps its leading zero). The *_file and *_env forms are
// handled by the enclosing struct's decoder, not here.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	v, err := secretFromNode(n)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// secretFromNode decodes an inline secret. Its errors never quote the value.
func secretFromNode(n *yaml.Node) (Secret, error) {
	if n.Kind != yaml.ScalarNode {
		return Secret{}, newProblem(ErrWrongType, "want a string, got %s", describeNode(n))
	}
	if n.ShortTag() == "!!null" {
		return Secret{}, nil
	}
	if n.Value == redacted {
		return Secret{}, newProblem(ErrInvalid,
			"value is the placeholder %q, which is how medic prints secrets: set the real secret", redacted)
	}
	return NewSecret(n.Value), nil
}

// sources is where a *_file or *_env key reads its secret from.
type sources struct {
	// env looks up an environment variable; nil means an empty environment.
	env func(string) string
	// readFile reads a secret file.
	readFile func(path string) ([]byte, error)
}

// osSources reads secret files from disk and variables from env.
func osSources(env func(string) string) sources {
	return sources{env: env, readFile: readSecretFile}
}

func (s sources) lookup(name string) string {
	if s.env == nil {
		return ""
	}
	return s.env(name)
}

// secretSuffixes are the sibling keys that may replace a secret key.
var secretSuffixes = []string{"_file", "_env"}

// resolveSecret reads the secret a *_file or *_env key points at. suffix is
// "_file" or "_env", ref is the file path (relative paths are resolved
// against dir, the directory of the configuration file) or variable name.
func (s sources) resolveSecret(suffix, ref, dir string) (Secret, error) {
	if ref == "" {
		return Secret{}, newProblem(ErrSecretSource, "empty %s reference", strings.TrimPrefix(suffix, "_"))
	}
	if suffix == "_env" {
		v := s.lookup(ref)
		if v == "" {
			return Secret{}, newProblem(ErrSecretSource, "environment variable %s is not set or empty", ref)
		}
		return NewSecret(v), nil
	}
	path := ref
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	data, err := s.readFile(path)
	if err != nil {
		return Secret{}, &problem{kind: ErrSecretSource, msg: "read secret file " + strconv.Quote(path), cause: err}
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return Secret{}, newProblem(ErrSecretSource, "secret file %q is empty", path)
	}
	return NewSecret(v), nil
}

// readSecretFile reads a regular file of at most maxSecretFileBytes. It
// refuses devices and pipes, which could block or never end.
func readSecretFile(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading blocks until a writer
	// appears. The errors are *PathError values, which name the path.
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (mode %s)", info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxSecretFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxSecretFileBytes)
	}
	return data, nil
}
