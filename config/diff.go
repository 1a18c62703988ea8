package config

import (
	"reflect"
	"sort"
	"strings"
)

// Changes is what differs between two configs. Hot reload restarts the
// channels in Added and Changed, stops those in Removed, and leaves every
// other channel running.
type Changes struct {
	// Added lists channel ids only in the new config, in its order.
	Added []string
	// Removed lists channel ids only in the old config, in its order.
	Removed []string
	// Changed lists channel ids in both whose settings differ, including
	// through their model's settings or a changed secret, in the new order.
	Changed []string
	// Models lists the model names added, removed or changed, sorted.
	Models []string
	// Global lists the other top-level keys whose values differ, such as
	// "listen", "http", "websocket", in file order. (Changes to
	// "defaults" show as changes of the channels that inherit them.)
	Global []string
}

// Empty reports whether the configs are equivalent.
func (c Changes) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Changed)+len(c.Models)+len(c.Global) == 0
}

// String summarises the changes for a log line.
func (c Changes) String() string {
	if c.Empty() {
		return "no changes"
	}
	var parts []string
	add := func(label string, list []string) {
		if len(list) > 0 {
			parts = append(parts, label+" "+strings.Join(list, ","))
		}
	}
	add("added channels", c.Added)
	add("removed channels", c.Removed)
	add("changed channels", c.Changed)
	add("changed models", c.Models)
	add("changed settings", c.Global)
	return strings.Join(parts, "; ")
}

// Diff compares two validated configs. A nil old config counts as empty.
func Diff(old, new *Config) Changes {
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	var ch Changes

	// Top-level settings other than models, defaults and channels.
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem()
	t := ov.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if !f.IsExported() || name == "" || name == "models" || name == "defaults" || name == "channels" {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			ch.Global = append(ch.Global, name)
		}
	}

	// Models, including the implicit demo model.
	modelChanged := map[string]bool{}
	names := map[string]bool{DemoModel: true}
	for n := range old.Models {
		names[n] = true
	}
	for n := range new.Models {
		names[n] = true
	}
	for n := range names {
		om, oOK := old.Model(n)
		nm, nOK := new.Model(n)
		if oOK != nOK || !reflect.DeepEqual(om, nm) {
			modelChanged[n] = true
			ch.Models = append(ch.Models, n)
		}
	}
	sort.Strings(ch.Models)

	// Channels.
	oldByID := map[string]*Channel{}
	for i := range old.Channels {
		oldByID[old.Channels[i].ID] = &old.Channels[i]
	}
	newIDs := map[string]bool{}
	for i := range new.Channels {
		nc := &new.Channels[i]
		newIDs[nc.ID] = true
		oc, ok := oldByID[nc.ID]
		switch {
		case !ok:
			ch.Added = append(ch.Added, nc.ID)
		case !reflect.DeepEqual(*oc, *nc) || modelChanged[modelName(nc.Model)]:
			ch.Changed = append(ch.Changed, nc.ID)
		}
	}
	for i := range old.Channels {
		if id := old.Channels[i].ID; !newIDs[id] {
			ch.Removed = append(ch.Removed, id)
		}
	}
	return ch
}

func modelName(name string) string {
	if name == "" {
		return DemoModel
	}
	return name
}
