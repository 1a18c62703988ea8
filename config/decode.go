package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the config file at path. A file that cannot be read
// gives an error wrapping the os error; a bad config gives Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a YAML config strictly, applies the defaults and the
// environment overrides (SUBTITLED_LISTEN, SUBTITLED_LOG_LEVEL,
// SUBTITLED_LOG_FORMAT), and validates the result. source names the input in
// error messages. On failure it returns Errors holding every problem found,
// each naming its key path and line; errors.Is(err, ErrInvalid) holds.
func Parse(data []byte, source string) (*Config, error) {
	c := Default()
	c.source = source
	errs := &errList{source: source, lines: map[string]int{}}
	d := &decoder{errs: errs, budget: maxNodes, defaults: &c.Defaults}

	if root := d.document(data); root != nil {
		d.value("", root, reflect.ValueOf(c).Elem())
	} else if len(errs.errs) > 0 {
		d.failed = append(d.failed, "")
	}
	c.lines = errs.lines
	c.applyEnv()
	errs.fromEnv = c.fromEnv
	if !d.docFailed() {
		// A key that failed to decode keeps its default; do not also
		// report what validation thinks of that default.
		errs.skip = d.covered
		c.check(errs)
		errs.skip = nil
	}
	if err := errs.result(); err != nil {
		return nil, err
	}
	return c, nil
}

// maxNodes bounds the values visited, aliases expanded, in one document
// (a config with a thousand channels has well under 100,000).
const maxNodes = 1 << 18

// maxDepth bounds nested merge keys.
const maxDepth = 64

type decoder struct {
	errs     *errList
	budget   int
	depth    int
	defaults *Defaults
	failed   []string
}

type pair struct {
	key       string
	keyNode   *yaml.Node
	valueNode *yaml.Node
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into its root node, or records why it cannot.
// It returns nil for an empty document.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	defer func() {
		// yaml.v3 reports errors by panicking internally and recovers them
		// itself; anything else escaping it is a parser bug that must not
		// take the daemon down on a reload.
		if r := recover(); r != nil {
			d.errs.at(0, "", "YAML parser failed: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.yamlError(err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
		return nil
	default:
		d.errs.at(extra.Line, "", "only one YAML document is allowed")
		return nil
	}
	root = &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil
	}
	return root
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs.at(line, "", "%s", m[2])
		return
	}
	d.errs.at(0, "", "%s", strings.TrimPrefix(msg, "yaml: "))
}

// fail records a decoding error at path.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs.at(n.Line, path, format, args...)
	d.failed = append(d.failed, path)
}

// docFailed reports whether the document as a whole failed to decode.
func (d *decoder) docFailed() bool {
	for _, f := range d.failed {
		if f == "" {
			return true
		}
	}
	return false
}

// covered reports whether path is at or below a key that failed to decode.
// A failure of the whole document ("") covers every path.
func (d *decoder) covered(path string) bool {
	for _, f := range d.failed {
		if f == "" || path == f || strings.HasPrefix(path, f+".") || strings.HasPrefix(path, f+"[") {
			return true
		}
	}
	return false
}

// resolve follows aliases and charges the node budget. It returns nil when
// the budget is spent.
func (d *decoder) resolve(path string, n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > maxDepth {
			d.fail(n, path, "unresolvable alias")
			return nil
		}
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, path, "document too large: more than %d values after expanding aliases", maxNodes)
			d.failed = append(d.failed, "")
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var (
	configType   = reflect.TypeOf(Config{})
	durationType = reflect.TypeOf(time.Duration(0))
	unmarshaler  = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// value decodes n into v. An empty (null) value keeps what v holds.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if n = d.resolve(path, n); n == nil {
		return
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(d.initial(t.Elem()))
		}
		d.value(path, n, v.Elem())
		return
	}
	if isNull(n) {
		return
	}
	if t == durationType {
		d.duration(path, n, v)
		return
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.structure(path, n, v)
	case reflect.Slice:
		d.list(path, n, v)
	case reflect.Map:
		d.mapping(path, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.fail(n, path, "want an integer, got %s", describe(n))
			return
		}
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			d.fail(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic("config: no decoder for " + t.String())
	}
}

func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a duration, got %s", describe(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			d.fail(n, path, `want a duration with a unit such as "10ms" or "5s", got %s`, n.Value)
		} else {
			d.fail(n, path, `invalid duration %q (want a Go duration such as "500ms", "5s", "1m30s")`, n.Value)
		}
		return
	}
	v.SetInt(int64(dur))
}

// initial returns a pointer to a new value of t holding its defaults.
func (d *decoder) initial(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	var def any
	switch t {
	case reflect.TypeOf(Channel{}):
		def = NewChannel(*d.defaults)
	case reflect.TypeOf(Model{}):
		def = DefaultModel()
	case reflect.TypeOf(WHIPChannel{}):
		def = DefaultWHIPChannel()
	case reflect.TypeOf(WebSocketOutput{}):
		def = DefaultWebSocketOutput()
	case reflect.TypeOf(FileOutput{}):
		def = DefaultFileOutput()
	case reflect.TypeOf(TSOutput{}):
		def = DefaultTSOutput()
	}
	if def != nil {
		p.Elem().Set(reflect.ValueOf(def))
	}
	return p
}

func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	fs := fieldsOf(v.Type())
	pairs := d.pairs(path, n)
	if v.Type() == configType {
		// Channels start from the defaults, wherever the defaults appear.
		sort.SliceStable(pairs, func(i, j int) bool {
			return pairs[i].key == "defaults" && pairs[j].key != "defaults"
		})
	}
	for _, p := range pairs {
		if path == "" && strings.HasPrefix(p.key, "x-") {
			continue // extension keys hold YAML anchors for reuse
		}
		kp := joinKey(path, p.key)
		i, ok := fs.index[p.key]
		if !ok {
			d.fail(p.keyNode, kp, "%s", unknownKey(p.key, fs.names))
			continue
		}
		d.errs.lines[kp] = p.keyNode.Line
		d.value(kp, p.valueNode, v.Field(i))
	}
}

func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", describe(n))
		return
	}
	t := v.Type()
	out := reflect.MakeSlice(t, 0, len(n.Content))
	for i, item := range n.Content {
		ip := joinIndex(path, i)
		d.errs.lines[ip] = item.Line
		e := d.initial(t.Elem())
		d.value(ip, item, e.Elem())
		out = reflect.Append(out, e.Elem())
	}
	v.Set(out)
}

func (d *decoder) mapping(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	for _, p := range d.pairs(path, n) {
		kp := joinKey(path, p.key)
		d.errs.lines[kp] = p.keyNode.Line
		e := d.initial(t.Elem())
		d.value(kp, p.valueNode, e.Elem())
		m.SetMapIndex(reflect.ValueOf(p.key), e.Elem())
	}
	v.Set(m)
}

// pairs lists a mapping's entries with merge keys (<<) expanded: the
// mapping's own keys win over merged ones, and earlier merged mappings win
// over later ones. Duplicate keys are errors.
func (d *decoder) pairs(path string, n *yaml.Node) []pair {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.fail(n, path, "merge keys nested too deeply")
		return nil
	}
	var own, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(path, n.Content[i])
		if k == nil {
			return nil
		}
		val := n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(path, val)...)
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.fail(k, path, "keys must be strings, got %s", describe(k))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, joinKey(path, k.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, pair{k.Value, k, val})
	}
	for _, p := range merged {
		if _, ok := seen[p.key]; !ok {
			seen[p.key] = p.keyNode
			own = append(own, p)
		}
	}
	return own
}

func (d *decoder) merge(path string, val *yaml.Node) []pair {
	if val = d.resolve(path, val); val == nil {
		return nil
	}
	switch val.Kind {
	case yaml.MappingNode:
		return d.pairs(path, val)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range val.Content {
			if item = d.resolve(path, item); item == nil {
				return out
			}
			if item.Kind != yaml.MappingNode {
				d.fail(item, path, "<< wants a mapping or a list of mappings, got %s", describe(item))
				continue
			}
			out = append(out, d.pairs(path, item)...)
		}
		return out
	}
	d.fail(val, path, "<< wants a mapping or a list of mappings, got %s", describe(val))
	return nil
}

type fieldSet struct {
	index map[string]int
	names []string
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

// fieldsOf maps the yaml names of a struct's exported fields to their index.
func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := yamlName(f)
		if name == "" {
			continue
		}
		fs.index[name] = i
		fs.names = append(fs.names, name)
	}
	fieldCache.Store(t, fs)
	return fs
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// unknownKey explains an unknown key, suggesting a close valid one.
func unknownKey(key string, valid []string) string {
	// Allow one edit in short keys and two in longer ones.
	limit := 2
	if len(key) >= 5 {
		limit = 3
	}
	best, bestDist := "", limit
	norm := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for _, v := range valid {
		if norm == v {
			best, bestDist = v, 0
			break
		}
		if dist := editDistance(norm, v); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", best)
	}
	return fmt.Sprintf("unknown key (valid keys: %s)", strings.Join(valid, ", "))
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
