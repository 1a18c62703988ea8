package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// configParams is what the generated daemon config depends on. Paths should
// be absolute: the daemon resolves relative ones against its own working
// directory.
type configParams struct {
	Input    string
	Model    string // bundle directory; empty: the embedded demo model
	Fast     bool
	Clients  int
	Dir      string   // state_dir and caption files go below it
	Names    []string // one per channel: channel i is "ch{i+1}"
	Shutdown time.Duration
}

// channelID is the id of the i-th channel (from 0).
func channelID(i int) string { return fmt.Sprintf("ch%d", i+1) }

// quote writes s as a YAML double-quoted scalar (JSON strings are one).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// renderConfig returns the daemon config for p: one channel per name, each
// looping the input, with both tracks on a WebSocket output and the
// subtitle track in a WebVTT file.
func renderConfig(p configParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by tools/soak.\n")
	fmt.Fprintf(&b, "shutdown_timeout: %s\n", p.Shutdown)
	fmt.Fprintf(&b, "state_dir: %s\n", quote(filepath.Join(p.Dir, "state")))
	fmt.Fprintf(&b, "log: {level: info}\n")
	// All clients come from 127.0.0.1: lift the per-IP cap (default 100)
	// above their number.
	maxClients := max(10000, p.Clients+100)
	fmt.Fprintf(&b, "websocket: {max_clients: %d, max_clients_per_ip: %d}\n", maxClients, maxClients)
	model := "demo-en"
	if p.Model != "" {
		model = "m"
		fmt.Fprintf(&b, "models:\n  m: {path: %s}\n", quote(p.Model))
	}
	realtime := !p.Fast
	perChannel := max(1000, p.Clients+100)
	b.WriteString("channels:\n")
	for i, name := range p.Names {
		id := channelID(i)
		fmt.Fprintf(&b, "  - id: %s\n", id)
		fmt.Fprintf(&b, "    name: %s\n", quote(name))
		fmt.Fprintf(&b, "    language: en\n")
		fmt.Fprintf(&b, "    model: %s\n", model)
		fmt.Fprintf(&b, "    input: {url: %s, realtime: %t, loop: true}\n", quote(p.Input), realtime)
		fmt.Fprintf(&b, "    captions: {tracks: [verbatim, subtitle]}\n")
		fmt.Fprintf(&b, "    outputs:\n")
		fmt.Fprintf(&b, "      - websocket: {tracks: [verbatim, subtitle], max_clients: %d}\n", perChannel)
		fmt.Fprintf(&b, "      - file: {path: %s, format: vtt, track: subtitle}\n", quote(filepath.Join(p.Dir, "out", id+".vtt")))
	}
	return b.String()
}

// writeConfig writes the config atomically (temporary file, rename), so a
// reload never reads half a file.
func writeConfig(path string, p configParams) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(renderConfig(p)), 0o644); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}
