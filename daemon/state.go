package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// cueState keeps each channel's next cue IDs on disk so that a restarted
// process, even after SIGKILL, continues them: a client resuming with
// ?since=N never gets an old ID for a new cue. A nil *cueState keeps
// nothing.
type cueState struct {
	dir string // <state_dir>/channels
}

// stateFile is the JSON shape of one channel's state.
type stateFile struct {
	NextID map[string]uint64 `json:"next_id"`
}

// stateDir resolves the state directory: the config's state_dir, else the
// first directory systemd passes in $STATE_DIRECTORY, else none.
func stateDir(configured string) string {
	if configured != "" {
		return configured
	}
	if env := os.Getenv("STATE_DIRECTORY"); env != "" {
		return strings.Split(env, ":")[0]
	}
	return ""
}

// openCueState prepares dir/channels; an empty dir gives nil (no state).
func openCueState(dir string) (*cueState, error) {
	if dir == "" {
		return nil, nil
	}
	d := filepath.Join(dir, "channels")
	if err := os.MkdirAll(d, 0o750); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	// Prove now that the directory is writable, not at the first cue.
	probe, err := os.CreateTemp(d, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &cueState{dir: d}, nil
}

func (s *cueState) path(channel string) string {
	return filepath.Join(s.dir, url.PathEscape(channel)+".json")
}

// load returns the channel's saved next IDs (empty when none were saved).
func (s *cueState) load(channel string) (map[string]uint64, error) {
	next := map[string]uint64{}
	if s == nil {
		return next, nil
	}
	b, err := os.ReadFile(s.path(channel))
	if errors.Is(err, fs.ErrNotExist) {
		return next, nil
	}
	if err != nil {
		return next, fmt.Errorf("channel %s state: %w", channel, err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return next, fmt.Errorf("channel %s state %s: %w", channel, s.path(channel), err)
	}
	for tr, id := range f.NextID {
		next[tr] = id
	}
	return next, nil
}

// save writes the channel's next IDs atomically and durably: a temporary
// file, fsync, rename, fsync of the directory.
func (s *cueState) save(channel string, next map[string]uint64) error {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(stateFile{NextID: next})
	if err != nil {
		return err
	}
	dst := s.path(channel)
	f, err := os.CreateTemp(s.dir, ".state-*")
	if err != nil {
		return fmt.Errorf("channel %s state: %w", channel, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, dst)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("channel %s state: %w", channel, werr)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// forget removes a channel's state (the channel was removed by reload).
func (s *cueState) forget(channel string) {
	if s != nil {
		os.Remove(s.path(channel))
	}
}
