package dbt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The wire types hold only what medic reads. encoding/json ignores the
// other fields, and a field of an unexpected type is skipped with a warning
// (json.UnmarshalTypeError) while the rest of the value still decodes.

type wireMetadata struct {
	SchemaVersion string `json:"dbt_schema_version"`
	DbtVersion    string `json:"dbt_version"`
	GeneratedAt   string `json:"generated_at"`
	ProjectName   string `json:"project_name"`
}

type wireMeta map[string]json.RawMessage

type wireDependsOn struct {
	Nodes []string `json:"nodes"`
}

type wireNode struct {
	UniqueID         string        `json:"unique_id"`
	Name             string        `json:"name"`
	ResourceType     string        `json:"resource_type"`
	PackageName      string        `json:"package_name"`
	OriginalFilePath string        `json:"original_file_path"`
	Database         string        `json:"database"`
	Schema           string        `json:"schema"`
	Alias            string        `json:"alias"`
	RelationName     string        `json:"relation_name"`
	Group            string        `json:"group"`
	Tags             []string      `json:"tags"`
	Meta             wireMeta      `json:"meta"`
	AttachedNode     string        `json:"attached_node"`
	DependsOn        wireDependsOn `json:"depends_on"`
	Config           struct {
		Group string   `json:"group"`
		Meta  wireMeta `json:"meta"`
	} `json:"config"`
}

type wireOwner struct {
	Name  string          `json:"name"`
	Email json.RawMessage `json:"email"` // a string, a list of strings or null
}

type wireExposure struct {
	UniqueID  string        `json:"unique_id"`
	Name      string        `json:"name"`
	Label     string        `json:"label"`
	Type      string        `json:"type"`
	Maturity  string        `json:"maturity"`
	URL       string        `json:"url"`
	Owner     wireOwner     `json:"owner"`
	Meta      wireMeta      `json:"meta"`
	DependsOn wireDependsOn `json:"depends_on"`
	Config    struct {
		Meta wireMeta `json:"meta"`
	} `json:"config"`
}

type wireGroup struct {
	UniqueID string    `json:"unique_id"`
	Name     string    `json:"name"`
	Owner    wireOwner `json:"owner"`
}

// skipValue decodes any JSON value into nothing. The decoder still scans it
// (and refuses nesting deeper than encoding/json's limit).
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// streamer decodes a manifest one entry at a time, so that memory follows
// the size of one node rather than of a whole section.
type streamer struct {
	dec *json.Decoder
	m   *Manifest
}

func malformed(m *Manifest, where string, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("load dbt manifest %s: %s: %w: %w", m.Source, where, ErrMalformed, err)
}

func decode(r io.Reader, m *Manifest) error {
	s := &streamer{dec: json.NewDecoder(r), m: m}
	m.Nodes = map[string]*Node{}
	m.Exposures = map[string]*Exposure{}
	m.Groups = map[string]*Group{}
	if err := s.delim('{', "top level"); err != nil {
		return err
	}
	for s.dec.More() {
		key, err := s.key("top level")
		if err != nil {
			return err
		}
		switch key {
		case "metadata":
			var md wireMetadata
			if err := s.value(&md, "metadata"); err != nil {
				return err
			}
			m.SchemaVersion, m.DbtVersion, m.GeneratedAt, m.ProjectName = md.SchemaVersion, md.DbtVersion, md.GeneratedAt, md.ProjectName
		case "nodes":
			err = s.entries("nodes", func(id string) error {
				var w wireNode
				if err := s.value(&w, "nodes["+quote(id)+"]"); err != nil {
					return err
				}
				m.Nodes[id] = w.node(id)
				return nil
			})
		case "exposures":
			err = s.entries("exposures", func(id string) error {
				var w wireExposure
				if err := s.value(&w, "exposures["+quote(id)+"]"); err != nil {
					return err
				}
				m.Exposures[id] = w.exposure(id, m)
				return nil
			})
		case "groups":
			err = s.entries("groups", func(id string) error {
				var w wireGroup
				if err := s.value(&w, "groups["+quote(id)+"]"); err != nil {
					return err
				}
				g := &Group{UniqueID: id, Name: w.Name, OwnerName: w.Owner.Name, OwnerEmails: stringList(w.Owner.Email, m, "groups["+quote(id)+"].owner.email")}
				if g.Name != "" {
					m.Groups[g.Name] = g
				}
				return nil
			})
		case "child_map":
			m.ChildMap = map[string][]string{}
			err = s.entries("child_map", func(id string) error {
				var kids []string
				if err := s.value(&kids, "child_map["+quote(id)+"]"); err != nil {
					return err
				}
				m.ChildMap[id] = kids
				return nil
			})
		default:
			err = s.skip(key)
		}
		if err != nil {
			return err
		}
	}
	if err := s.delim('}', "top level"); err != nil {
		return err
	}
	if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the top-level object")
		}
		return malformed(m, "end", err)
	}
	return nil
}

func (s *streamer) delim(want json.Delim, where string) error {
	t, err := s.dec.Token()
	if err != nil {
		return malformed(s.m, where, err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return malformed(s.m, where, fmt.Errorf("want %q, got %s", want, describeToken(t)))
	}
	return nil
}

func (s *streamer) key(where string) (string, error) {
	t, err := s.dec.Token()
	if err != nil {
		return "", malformed(s.m, where, err)
	}
	k, ok := t.(string)
	if !ok {
		return "", malformed(s.m, where, fmt.Errorf("want a key, got %s", describeToken(t)))
	}
	return k, nil
}

// value decodes the next value into v, tolerating fields of the wrong type.
func (s *streamer) value(v any, where string) error {
	err := s.dec.Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		s.m.warnf("%s: %s has an unexpected type (JSON %s); ignored", where, fieldName(te), te.Value)
		return nil
	}
	if err != nil {
		return malformed(s.m, where, err)
	}
	return nil
}

func fieldName(te *json.UnmarshalTypeError) string {
	if te.Field == "" {
		return "the value"
	}
	return clip(te.Field, 80)
}

// entries calls fn for each key of an object section, which fn must decode.
// A null section is empty; any other non-object is a warning.
func (s *streamer) entries(section string, fn func(id string) error) error {
	t, err := s.dec.Token()
	if err != nil {
		return malformed(s.m, section, err)
	}
	switch d := t.(type) {
	case nil:
		return nil
	case json.Delim:
		if d != '{' {
			s.m.warnf("%s: want an object, got a list; ignored", section)
			return s.rest(d, section)
		}
	default:
		s.m.warnf("%s: want an object, got %s; ignored", section, describeToken(t))
		return nil
	}
	for s.dec.More() {
		id, err := s.key(section)
		if err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return s.delim('}', section)
}

// skip passes over a section medic does not read, one entry at a time.
func (s *streamer) skip(section string) error {
	t, err := s.dec.Token()
	if err != nil {
		return malformed(s.m, section, err)
	}
	if d, ok := t.(json.Delim); ok {
		return s.rest(d, section)
	}
	return nil
}

// rest skips what follows an opening delimiter, up to its closing one.
func (s *streamer) rest(open json.Delim, section string) error {
	for s.dec.More() {
		if open == '{' {
			if _, err := s.key(section); err != nil {
				return err
			}
		}
		if err := s.dec.Decode(&skipValue{}); err != nil {
			return malformed(s.m, section, err)
		}
	}
	closer := json.Delim('}')
	if open == '[' {
		closer = ']'
	}
	return s.delim(closer, section)
}

func describeToken(t json.Token) string {
	switch v := t.(type) {
	case nil:
		return "null"
	case json.Delim:
		return fmt.Sprintf("%q", v)
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func quote(s string) string { return fmt.Sprintf("%q", clip(s, 120)) }

func (w *wireNode) node(id string) *Node {
	n := &Node{
		UniqueID: id, Name: w.Name, ResourceType: w.ResourceType, Package: w.PackageName,
		Path: w.OriginalFilePath, Database: w.Database, Schema: w.Schema, Alias: w.Alias,
		RelationName: w.RelationName, Group: w.Group, Tags: w.Tags, AttachedNode: w.AttachedNode,
		DependsOn: w.DependsOn.Nodes,
	}
	if n.Group == "" {
		n.Group = w.Config.Group
	}
	if n.ResourceType == "" {
		n.ResourceType, _, _ = strings.Cut(id, ".")
	}
	n.Owners = metaStrings(w.Meta, "owner")
	if len(n.Owners) == 0 {
		n.Owners = metaStrings(w.Config.Meta, "owner")
	}
	if n.Tier = metaScalar(w.Meta, "tier"); n.Tier == "" {
		n.Tier = metaScalar(w.Config.Meta, "tier")
	}
	return n
}

func (w *wireExposure) exposure(id string, m *Manifest) *Exposure {
	e := &Exposure{
		UniqueID: id, Name: w.Name, Label: w.Label, Type: w.Type, Maturity: w.Maturity, URL: w.URL,
		OwnerName: w.Owner.Name, OwnerEmails: stringList(w.Owner.Email, m, "exposures["+quote(id)+"].owner.email"),
		DependsOn: w.DependsOn.Nodes,
	}
	if e.Tier = metaScalar(w.Meta, "tier"); e.Tier == "" {
		e.Tier = metaScalar(w.Config.Meta, "tier")
	}
	return e
}

// metaStrings reads meta[key] written as a string or a list of strings.
func metaStrings(meta wireMeta, key string) []string {
	raw, ok := meta[key]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one = strings.TrimSpace(one); one != "" {
			return []string{one}
		}
		return nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil
	}
	out := many[:0]
	for _, s := range many {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// metaScalar reads meta[key] written as a string or a number, as text.
func metaScalar(meta wireMeta, key string) string {
	raw, ok := meta[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// stringList reads a value written as a string, a list of strings or null.
func stringList(raw json.RawMessage, m *Manifest, where string) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		m.warnf("%s: want a string or a list of strings; ignored", where)
		return nil
	}
	sort.Strings(many)
	return many
}
