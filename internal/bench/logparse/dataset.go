package logparse

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Dataset is one labelled system: the Content column as input and the
// EventTemplate column as truth.
type Dataset struct {
	System  string
	Content []string
	Truth   []string
}

// ErrNoData is returned when a directory holds no labelled system.
var ErrNoData = errors.New("no <S>/<S>_2k.log_structured_corrected.csv files found; point it at a folder laid out like ../shared/loghub")

// Discover lists the systems under dir: the names S of subdirectories that
// hold S_2k.log_structured_corrected.csv, sorted.
func Discover(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read benchmark directory %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(structuredPath(dir, e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("benchmark directory %s: %w", dir, ErrNoData)
	}
	sort.Strings(out)
	return out, nil
}

func structuredPath(dir, system string) string {
	return filepath.Join(dir, system, system+"_2k.log_structured_corrected.csv")
}

// Load reads one system's Content and EventTemplate columns.
func Load(dir, system string) (*Dataset, error) {
	path := structuredPath(dir, system)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	ds, err := readCSV(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	ds.System = system
	return ds, nil
}

func readCSV(r io.Reader) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	content, truth := -1, -1
	for i, h := range header {
		switch h {
		case "Content":
			content = i
		case "EventTemplate":
			truth = i
		}
	}
	if content < 0 || truth < 0 {
		return nil, errors.New("header lacks a Content or an EventTemplate column")
	}
	ds := &Dataset{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		ds.Content = append(ds.Content, rec[content])
		ds.Truth = append(ds.Truth, rec[truth])
	}
	return ds, nil
}
