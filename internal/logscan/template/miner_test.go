package template

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// add feeds lines to m and returns the ids it assigned.
func add(m *Miner, lines ...string) []string {
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = m.Add(l).ID
	}
	return ids
}

// final returns each id's current template.
func final(t *testing.T, m *Miner, ids []string) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		tm, ok := m.Lookup(id)
		require.True(t, ok, "id %s lost", id)
		out[i] = tm.Template
	}
	return out
}

func TestMinerGroups(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	first := m.Add("PacketResponder 1 for block blk_38865049064139660 terminating")
	require.True(t, first.New)
	require.Equal(t, "PacketResponder <*> for block <*> terminating", first.Template)
	second := m.Add("PacketResponder 0 for block blk_-6952295868487656571 terminating")
	require.False(t, second.New)
	require.Equal(t, first.ID, second.ID)
	other := m.Add("Receiving block blk_1 src: /10.0.0.1:4242 dest: /10.0.0.2:50010")
	require.NotEqual(t, first.ID, other.ID)
	require.Equal(t, "Receiving block <*> src: <*>:<*> dest: <*>:<*>", other.Template)

	ts := m.Templates()
	require.Len(t, ts, 2)
	require.Equal(t, first.ID, ts[0].ID, "most frequent first")
	require.EqualValues(t, 2, ts[0].Count)
	require.Equal(t, 2, m.Len())
}

func TestMinerGeneralises(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []string
		want  []string // final template per line
	}{
		{
			name:  "numbers inside identifiers",
			lines: []string{"allocating divert_blk for eth0", "allocating divert_blk for eth1"},
			want:  []string{"allocating divert_blk for <*>", "allocating divert_blk for <*>"},
		},
		{
			name:  "shared prefix at a delimiter is kept",
			lines: []string{"com.apple.icloud.fmfd: run job", "com.apple.Safari.Update: run job", "com.apple.a.b: run job", "com.apple.c: run job"},
			want:  []string{"com.apple.<*>: run job", "com.apple.<*>: run job", "com.apple.<*>: run job", "com.apple.<*>: run job"},
		},
		{
			name:  "text where a number was",
			lines: []string{"ciod: LOGIN chdir(/p/gb1/x) failed", "ciod: LOGIN chdir(pwd) failed"},
			want:  []string{"ciod: LOGIN chdir(<*>) failed", "ciod: LOGIN chdir(<*>) failed"},
		},
		{
			name:  "variable-length list",
			lines: []string{"BLOCK* ask 10.0.0.1:50010 to delete blk_1 blk_2", "BLOCK* ask 10.0.0.2:50010 to delete blk_3 blk_4 blk_5 blk_6"},
			want:  []string{"BLOCK* ask <*>:<*> to delete <*>", "BLOCK* ask <*>:<*> to delete <*>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New(Options{})
			require.Equal(t, tt.want, final(t, m, add(m, tt.lines...)))
		})
	}
}

func TestMinerKeepsAlternativesApart(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	ids := add(m,
		"Link error", "Link ok", "Link error",
		"boot (command 1911)", "wait (command 1975)", "halt (command 1982)", "risBoot (command 1903)",
		"normal", "warning", "running",
		"via interface ee0", "via interface alt0", "via interface scip0",
	)
	got := final(t, m, ids)
	require.Equal(t, []string{
		"Link error", "Link ok", "Link error",
		"boot (command <*>)", "wait (command <*>)", "halt (command <*>)", "risBoot (command <*>)",
		"normal", "warning", "running",
		"via interface ee0", "via interface alt0", "via interface scip0",
	}, got)
}

func TestMinerSiblingsMerge(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	words := []string{"chargen", "daytime", "echo", "time", "telnet", "rsync", "ftp", "klogin", "kshell"}
	var ids []string
	for _, w := range words {
		ids = append(ids, m.Add("removing "+w).ID)
	}
	got := final(t, m, ids)
	for i := range got {
		require.Equal(t, "removing <*>", got[i], words[i])
	}
	require.Equal(t, 1, m.Len())
	ts := m.Templates()
	require.Equal(t, ids[0], ts[0].ID, "the oldest template keeps its id")
	// The line that completed the merge already got the survivor id.
	require.Equal(t, ids[0], ids[siblingWordMin-1])
	require.Subset(t, ts[0].Aliases, ids[1:siblingWordMin-1])
	require.EqualValues(t, len(words), ts[0].Count)

	// Identifiers with digits need fewer distinct values than words.
	m2 := New(Options{})
	ids = add(m2,
		"data_thread() got no answer from [Thunderbird_A8] datasource",
		"data_thread() got no answer from [Thunderbird_B8] datasource",
		"data_thread() got no answer from [Thunderbird_C5] datasource",
		"data_thread() got no answer from [Thunderbird_D1] datasource",
	)
	for _, tm := range final(t, m2, ids) {
		require.Equal(t, "data_thread() got no answer from [<*>] datasource", tm)
	}
}

// TestMinerIDsIgnoreOrder: when masking finds every variable, a template's
// id is the hash of its final text, whatever line came first.
func TestMinerIDsIgnoreOrder(t *testing.T) {
	t.Parallel()
	lines := []string{
		"Deleting block blk_1 file /mnt/a/blk_1",
		"Deleting block blk_-22 file /mnt/b/blk_-22",
		"Served block blk_3 to /10.0.0.1",
		"Served block blk_4 to /10.0.0.9",
		"Verification succeeded for blk_5",
		"session opened for user root by (uid=0)",
		"session opened for user admin by (uid=12)",
	}
	forward := New(Options{})
	fids := add(forward, lines...)
	reversed := slices.Clone(lines)
	slices.Reverse(reversed)
	backward := New(Options{})
	bids := add(backward, reversed...)
	slices.Reverse(bids)
	require.Equal(t, fids, bids)
	require.Equal(t, hashID("Served block <*> to <*>"), fids[2])
}

func TestMinerSnapshotRestore(t *testing.T) {
	t.Parallel()
	lines := []string{
		"removing chargen", "removing daytime", "removing echo", "removing time",
		"removing telnet", "removing rsync", "removing ftp", "removing klogin",
		"Link error", "Link ok",
		"BLOCK* ask 10.0.0.1:50010 to delete blk_1 blk_2",
		"BLOCK* ask 10.0.0.2:50010 to delete blk_3 blk_4 blk_5",
		"jk2_init() Found child 6725 in scoreboard slot 10",
		"allocating divert_blk for eth0", "allocating divert_blk for eth1",
	}
	m := New(Options{})
	ids := add(m, lines...)
	snap, err := m.Snapshot()
	require.NoError(t, err)

	restored := New(Options{})
	require.NoError(t, restored.Restore(snap))
	require.Equal(t, m.Templates(), restored.Templates())
	for _, id := range ids {
		want, ok := m.Lookup(id)
		require.True(t, ok)
		got, ok := restored.Lookup(id)
		require.True(t, ok, "alias %s lost in restore", id)
		require.Equal(t, want.ID, got.ID)
	}

	// The same lines after the restart get the same ids and create nothing.
	again := add(restored, lines...)
	for i := range lines {
		want, _ := m.Lookup(ids[i])
		require.Equal(t, want.ID, again[i], lines[i])
	}
	require.Equal(t, m.Len(), restored.Len())

	// A second snapshot of the restored miner restores to the same state.
	snap2, err := restored.Snapshot()
	require.NoError(t, err)
	third := New(Options{})
	require.NoError(t, third.Restore(snap2))
	require.Equal(t, restored.Templates(), third.Templates())
}

func TestMinerRestoreRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not json":            `{`,
		"wrong version":       `{"version":2,"templates":[]}`,
		"missing id":          `{"version":1,"templates":[{"tokens":["a"]}]}`,
		"duplicate id":        `{"version":1,"templates":[{"id":"x","tokens":["a"]},{"id":"x","tokens":["b"]}]}`,
		"alias collision":     `{"version":1,"templates":[{"id":"x","tokens":["a"]},{"id":"y","tokens":["b"],"aliases":["x"]}]}`,
		"open out of range":   `{"version":1,"templates":[{"id":"x","tokens":["a"],"open":[3]}]}`,
		"spaced token":        `{"version":1,"templates":[{"id":"x","tokens":["a b"]}]}`,
		"vararg out of range": `{"version":1,"templates":[{"id":"x","tokens":["a"],"vararg":1}]}`,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := New(Options{})
			id := m.Add("kept line 1").ID
			err := m.Restore([]byte(data))
			require.ErrorIs(t, err, ErrBadSnapshot)
			_, ok := m.Lookup(id)
			require.True(t, ok, "a failed restore must leave the miner unchanged")
		})
	}
}

func TestMinerLookupUnknown(t *testing.T) {
	t.Parallel()
	_, ok := New(Options{}).Lookup("nope")
	require.False(t, ok)
}

func TestMinerMaxTemplates(t *testing.T) {
	t.Parallel()
	m := New(Options{MaxTemplates: 3})
	for i := range 10 {
		m.Add(fmt.Sprintf("event%c happened", 'a'+i))
	}
	require.Equal(t, 3, m.Len())
	over := m.Add("something else entirely here")
	require.True(t, over.New)
	require.Equal(t, "something else entirely here", over.Template)
	require.Equal(t, hashID(over.Template), over.ID)
	_, ok := m.Lookup(over.ID)
	require.False(t, ok, "untracked templates are not stored")
	require.Equal(t, 3, m.Len())
}

func TestMinerConcurrent(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	const workers, perWorker = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				switch i % 3 {
				case 0:
					m.Add(fmt.Sprintf("worker %d processed item %d", w, i))
				case 1:
					m.Add(fmt.Sprintf("removing item%c", 'a'+i%26))
				default:
					m.Add(fmt.Sprintf("GET /api/v1/items/%d HTTP/1.1 status %d", i, 200+w))
				}
				if i%100 == 0 {
					_, _ = m.Snapshot()
					_ = m.Templates()
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, tm := range m.Templates() {
		total += tm.Count
	}
	require.EqualValues(t, workers*perWorker, total)
}

// TestMinerDeterministic: the same lines in the same order give the same
// templates, ids and snapshot, run after run.
func TestMinerDeterministic(t *testing.T) {
	t.Parallel()
	lines := loghubLines(t)
	a, b := New(Options{}), New(Options{})
	add(a, lines...)
	add(b, lines...)
	sa, err := a.Snapshot()
	require.NoError(t, err)
	sb, err := b.Snapshot()
	require.NoError(t, err)
	require.Equal(t, string(sa), string(sb))
}

// TestMinerOrderStability measures how many Loghub lines get the same id
// when the lines arrive in reverse order. Ids hash a template's first
// text, so they only move for templates whose first line was generalised
// later.
func TestMinerOrderStability(t *testing.T) {
	t.Parallel()
	lines := loghubLines(t)
	fwd := New(Options{})
	fids := add(fwd, lines...)
	rev := slices.Clone(lines)
	slices.Reverse(rev)
	bwd := New(Options{})
	bids := add(bwd, rev...)
	slices.Reverse(bids)
	same := 0
	for i := range lines {
		f, _ := fwd.Lookup(fids[i])
		b, _ := bwd.Lookup(bids[i])
		if f.ID == b.ID {
			same++
		}
	}
	share := float64(same) / float64(len(lines))
	t.Logf("%.1f%% of %d lines keep their id when the order is reversed", 100*share, len(lines))
	require.Greater(t, share, 0.80)
}
