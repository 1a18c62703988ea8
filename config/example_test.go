package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	examplePath = "../examples/subtitled.yaml"
	docPath     = "../docs/CONFIG.md"
)

func setExampleEnv(t *testing.T) {
	t.Setenv("SUBTITLED_RELOAD_TOKEN", "reload-secret")
	t.Setenv("SUBTITLED_WS_TOKEN", "ws-secret")
	t.Setenv("SUBTITLED_WHIP_TOKEN", "whip-secret")
	t.Setenv(EnvListen, "")
	t.Setenv(EnvLogLevel, "")
	t.Setenv(EnvLogFormat, "")
}

func TestExampleLoads(t *testing.T) {
	setExampleEnv(t)
	c, err := Load(examplePath)
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", examplePath, err)
	}
	var ids []string
	for _, ch := range c.Channels {
		ids = append(ids, ch.ID)
	}
	if want := []string{"news", "sport", "sample", "studio", "guest"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("channels %v, want %v", ids, want)
	}
	news := c.Channel("news")
	if ts := news.Outputs[2].TS; ts.Sync != "delay" || ts.Delay != 4*time.Second || ts.Teletext.Page != 888 {
		t.Errorf("news ts %+v", ts)
	}
	if news.Captions.MaxCharsPerLine != 37 || news.Captions.Subtitle.WordFilter.Words[0] != "darn" {
		t.Errorf("news captions %+v", news.Captions)
	}
	if c.Channel("studio").WHIP.Bearer() != "whip-secret" || c.HTTP.ReloadBearer() != "reload-secret" ||
		c.WebSocket.Bearer() != "ws-secret" {
		t.Error("secrets not read from the environment")
	}
	if m, _ := c.Model(DemoModel); m.Threads != 2 || !m.Embedded() {
		t.Errorf("demo-en %+v", m)
	}

	// Without the environment the same file names each missing variable.
	t.Setenv("SUBTITLED_WHIP_TOKEN", "")
	_, err = Load(examplePath)
	if err == nil || !strings.Contains(err.Error(), "channels[3].whip.token_env: environment variable SUBTITLED_WHIP_TOKEN is not set") {
		t.Errorf("missing env: %v", err)
	}
}

// channelCaptions takes the keys of defaults.captions, which the example and
// the reference document once.
const channelCaptions = "channels[].captions"

// keyPaths lists every key of the config in the generic notation of
// docs/CONFIG.md: lists as [], map entries as <name>.
func keyPaths(t reflect.Type, prefix string, out map[string]bool) {
	switch t.Kind() {
	case reflect.Pointer:
		keyPaths(t.Elem(), prefix, out)
		return
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			keyPaths(t.Elem(), prefix+"[]", out)
		}
		return
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct {
			keyPaths(t.Elem(), prefix+".<name>", out)
		}
		return
	case reflect.Struct:
		if t == reflect.TypeOf(time.Duration(0)) {
			return
		}
	default:
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if !f.IsExported() || name == "" {
			continue
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out[p] = true
		if p == channelCaptions {
			continue // the keys of defaults.captions
		}
		keyPaths(f.Type, p, out)
	}
}

// exampleKeys walks the example along the Config type and records, for each
// generic key path, whether it occurs and whether any occurrence carries a
// comment.
func exampleKeys(t *testing.T, typ reflect.Type, n *yaml.Node, prefix string, commentAbove string, seen, commented map[string]bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch typ.Kind() {
	case reflect.Pointer:
		exampleKeys(t, typ.Elem(), n, prefix, commentAbove, seen, commented)
		return
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Struct && n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				exampleKeys(t, typ.Elem(), item, prefix+"[]", item.HeadComment, seen, commented)
			}
		}
		return
	case reflect.Map:
		if typ.Elem().Kind() == reflect.Struct && n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				exampleKeys(t, typ.Elem(), n.Content[i+1], prefix+".<name>", "", seen, commented)
			}
		}
		return
	case reflect.Struct:
		if typ == reflect.TypeOf(time.Duration(0)) || n.Kind != yaml.MappingNode {
			return
		}
	default:
		return
	}
	fs := fieldsOf(typ)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prefix == "" && strings.HasPrefix(k.Value, "x-") {
			continue
		}
		idx, ok := fs.index[k.Value]
		if !ok {
			t.Errorf("example line %d: unknown key %q under %q", k.Line, k.Value, prefix)
			continue
		}
		p := k.Value
		if prefix != "" {
			p = prefix + "." + k.Value
		}
		seen[p] = true
		if k.HeadComment != "" || k.LineComment != "" || v.LineComment != "" || (i == 0 && commentAbove != "") {
			commented[p] = true
		}
		if p != channelCaptions {
			exampleKeys(t, typ.Field(idx).Type, v, p, "", seen, commented)
		}
	}
}

func TestExampleHasEveryKeyWithAComment(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	keyPaths(reflect.TypeOf(Config{}), "", all)
	seen, commented := map[string]bool{}, map[string]bool{}
	exampleKeys(t, reflect.TypeOf(Config{}), doc.Content[0], "", "", seen, commented)
	for _, p := range sortedSet(all) {
		switch {
		case !seen[p]:
			t.Errorf("%s: key %s is missing", examplePath, p)
		case !commented[p]:
			t.Errorf("%s: key %s has no comment", examplePath, p)
		}
	}
}

var docKeyRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

func TestDocDescribesEveryKey(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	keyPaths(reflect.TypeOf(Config{}), "", all)
	documented := map[string]bool{}
	inKeyTable := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			inKeyTable = false
			continue
		case strings.HasPrefix(line, "| key |"):
			inKeyTable = true
			continue
		}
		m := docKeyRow.FindStringSubmatch(line)
		if !inKeyTable || m == nil {
			continue
		}
		if documented[m[1]] {
			t.Errorf("%s: key %s has two rows", docPath, m[1])
		}
		documented[m[1]] = true
		if !all[m[1]] {
			t.Errorf("%s: documents %s, which is not a config key", docPath, m[1])
		}
	}
	for _, p := range sortedSet(all) {
		if !documented[p] {
			t.Errorf("%s: no table row for key %s", docPath, p)
		}
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEveryExampleLoads validates each runnable config in examples/.
func TestEveryExampleLoads(t *testing.T) {
	setExampleEnv(t)
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s does not validate:\n%v", f, err)
		}
	}
	c, err := Load("../examples/whip.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := c.Channel("studio")
	if st == nil || st.WHIP == nil || st.WHIP.Bearer() != "whip-secret" {
		t.Fatalf("whip.yaml: studio channel %+v does not take its token from SUBTITLED_WHIP_TOKEN", st)
	}
	if s, err := st.Input.Source(); err != nil || s.Kind != SourceWHIP {
		t.Fatalf("whip.yaml: studio input %v %v", s, err)
	}
}
