package config

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// Channel is one notifier type as config sees it. Config knows the keys
// every notifier takes (Notifier's fields); a channel's own keys come from
// its package through the notifier registry (notifier/build.Channels),
// which Load gets with WithChannels: this package imports no channel.
// Config checks the shape of a channel's keys (unknown keys, a string
// where a list goes), keeps their values in Notifier.Settings, and leaves
// their meaning to the channel.
type Channel struct {
	Type string
	Keys []ChannelKey
	// RateLimit and Timeout are the channel's defaults, for the reference.
	RateLimit float64
	Timeout   time.Duration
}

// ChannelKey is one key a notifier type takes besides the common ones.
type ChannelKey struct {
	Name string
	// Type is the Go type the value decodes to (string, int, []string…).
	Type reflect.Type
	// Doc and Default describe the key in docs/config.md.
	Doc, Default string
	// Secret values never appear in a message.
	Secret bool
}

// WithChannels gives Load the notifier types (notifier/build.Channels()),
// in the order messages and the reference list them. Without it, every
// notifier type is unknown.
func WithChannels(chs ...Channel) Option {
	return func(o *options) { o.channels = append(o.channels, chs...) }
}

// channelSet is the notifier types of one load.
type channelSet []Channel

func (cs channelSet) lookup(typ string) (Channel, bool) {
	i := slices.IndexFunc(cs, func(c Channel) bool { return c.Type == typ })
	if i < 0 {
		return Channel{}, false
	}
	return cs[i], true
}

func (cs channelSet) types() []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Type
	}
	return out
}

// typeList is "console, slack, email or webhook".
func (cs channelSet) typeList(quote string) string {
	ts := cs.types()
	for i := range ts {
		ts[i] = quote + ts[i] + quote
	}
	return orList(ts)
}

func orList(words []string) string {
	switch len(words) {
	case 0:
		return "(none)"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// notifierKey is a key a notifier may hold, common or a channel's.
type notifierKey struct {
	name   string
	typ    reflect.Type
	secret bool
}

// commonKeys are the keys of Notifier, which every type takes.
func commonKeys() []notifierKey {
	var keys []notifierKey
	for i := range notifierType.NumField() {
		f := notifierType.Field(i)
		if k := keyOf(f); k != "" {
			keys = append(keys, notifierKey{name: k, typ: f.Type, secret: secretKeys[k]})
		}
	}
	return keys
}

// keysFor lists the keys a notifier of type typ takes; for an unknown type,
// every key of every type (Validate reports the type).
func (cs channelSet) keysFor(typ string) (keys []notifierKey, known bool) {
	keys = commonKeys()
	add := func(c Channel) {
		for _, k := range c.Keys {
			if !slices.ContainsFunc(keys, func(n notifierKey) bool { return n.name == k.Name }) {
				keys = append(keys, notifierKey{name: k.Name, typ: k.Type, secret: k.Secret || secretKeys[k.Name]})
			}
		}
	}
	if c, ok := cs.lookup(typ); ok {
		add(c)
		return keys, true
	}
	for _, c := range cs {
		add(c)
	}
	return keys, false
}

func keyNames(keys []notifierKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// notifierScalarKeys are the keys FEEDWATCH_NOTIFIERS_<NAME>_<KEY> can set:
// every scalar key of every type.
func (cs channelSet) notifierScalarKeys() []string {
	var out []string
	keys, _ := cs.keysFor("")
	for _, k := range keys {
		if isScalar(k.typ) {
			out = append(out, k.name)
		}
	}
	return out
}
