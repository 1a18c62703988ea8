package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/config"
)

func TestRenderConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name      string
		p         configParams
		model     string
		realtime  bool
		perIP     int
		modelPath string
	}{
		{name: "demo model, real time",
			p:     configParams{Input: "/in/a b.ts", Clients: 200, Dir: dir, Shutdown: 10 * time.Second, Names: []string{"one", `two "2"`, "three"}},
			model: config.DemoModel, realtime: true, perIP: 10000},
		{name: "own model, fast, many clients",
			p:     configParams{Input: "/in/x.ts", Model: "/models/tone", Fast: true, Clients: 20000, Dir: dir, Shutdown: 10 * time.Second, Names: []string{"a"}},
			model: "m", realtime: false, perIP: 20100, modelPath: "/models/tone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := renderConfig(tc.p)
			c, err := config.Parse([]byte(text), "soak.yaml")
			if err != nil {
				t.Fatalf("generated config is invalid: %v\n%s", err, text)
			}
			if c.StateDir != filepath.Join(dir, "state") || c.ShutdownTimeout != 10*time.Second {
				t.Errorf("state_dir %q, shutdown_timeout %s", c.StateDir, c.ShutdownTimeout)
			}
			if c.WebSocket.MaxClientsPerIP != tc.perIP || c.WebSocket.MaxClients < tc.p.Clients {
				t.Errorf("websocket caps %d per IP, %d in all; want %d per IP", c.WebSocket.MaxClientsPerIP, c.WebSocket.MaxClients, tc.perIP)
			}
			if tc.modelPath != "" && c.Models["m"].Path != tc.modelPath {
				t.Errorf("model m path %q", c.Models["m"].Path)
			}
			if len(c.Channels) != len(tc.p.Names) {
				t.Fatalf("%d channels, want %d", len(c.Channels), len(tc.p.Names))
			}
			for i, ch := range c.Channels {
				if ch.ID != channelID(i) || ch.Name != tc.p.Names[i] || ch.Model != tc.model {
					t.Errorf("channel %d: id %q name %q model %q", i, ch.ID, ch.Name, ch.Model)
				}
				if ch.Input.URL != tc.p.Input || ch.Input.Realtime != tc.realtime || !ch.Input.Loop {
					t.Errorf("channel %s input %+v", ch.ID, ch.Input)
				}
				if !reflect.DeepEqual(ch.Captions.Tracks, []string{"verbatim", "subtitle"}) {
					t.Errorf("channel %s tracks %v", ch.ID, ch.Captions.Tracks)
				}
				var ws, files int
				for _, o := range ch.Outputs {
					switch {
					case o.WebSocket != nil:
						ws++
						if !reflect.DeepEqual(o.WebSocket.Tracks, []string{"verbatim", "subtitle"}) || o.WebSocket.MaxClients < tc.p.Clients {
							t.Errorf("channel %s websocket %+v", ch.ID, o.WebSocket)
						}
					case o.File != nil:
						files++
						want := filepath.Join(dir, "out", ch.ID+".vtt")
						if o.File.Path != want || o.File.Format != "vtt" || o.File.Track != "subtitle" {
							t.Errorf("channel %s file %+v", ch.ID, o.File)
						}
					}
				}
				if ws != 1 || files != 1 {
					t.Errorf("channel %s: %d websocket and %d file outputs", ch.ID, ws, files)
				}
			}
		})
	}
}

// TestRenameChangesOneChannel checks what the reloads rely on: renaming one
// channel makes a config whose diff is that channel alone.
func TestRenameChangesOneChannel(t *testing.T) {
	p := configParams{Input: "/in/a.ts", Clients: 5, Dir: t.TempDir(), Shutdown: 10 * time.Second, Names: []string{"a", "b", "c"}}
	old, err := config.Parse([]byte(renderConfig(p)), "old.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Names = []string{"a", "b (reload 1)", "c"}
	cfgPath := filepath.Join(p.Dir, "subtitled.yaml")
	if err := writeConfig(cfgPath, p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"b (reload 1)"`) {
		t.Fatalf("rewritten config lacks the new name:\n%s", b)
	}
	if _, err := os.Stat(cfgPath + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	cur, err := config.Parse(b, "new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ch := config.Diff(old, cur)
	want := config.Changes{Changed: []string{"ch2"}}
	if !reflect.DeepEqual(ch, want) {
		t.Fatalf("diff = %+v, want only ch2 changed", ch)
	}
}
