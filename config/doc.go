package config

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// keyDoc says what a key means, for docs/config.md. Defaults come from the
// code (a minimal config loaded with its defaults applied); def is only for
// defaults that depend on other keys.
type keyDoc struct {
	doc string
	def string
}

// keyDocs has one entry per key of the schema, by its path in the
// reference: "watcher.interval", "feeds[].url", "notifiers.<name>.digest".
// A channel's own keys are documented by its package (Channel.Keys), and
// what depends on the channels (types, their defaults) is derived from
// them. TestConfigDoc fails when a key has none.
var keyDocs = map[string]keyDoc{
	"data_dir": {doc: "Folder for state and the embedded NATS server's JetStream store; relative to the config file's folder."},

	"http.admin":              {doc: "Allows actions over HTTP: `POST /-/reload` (with `Content-Type: application/json`) and the web console's forms (reload, mute a profile, replay or drop a dead letter; each with a CSRF token, each logged); off (the default), everything is read-only and actions answer 403."},
	"http.listen":             {doc: "host:port serving the web console at `/`, `/metrics`, `/healthz`, `/readyz`, `/api/status`; `\"\"` turns it off."},
	"http.auth":               {doc: "One user for the web console and the endpoint (`username`, `password_hash`); unset, no authentication: keep `http.listen` on loopback then."},
	"http.auth.username":      {doc: "With `http.auth.password_hash`, HTTP basic auth on every endpoint but `/healthz` and `/readyz` (console, `/api/status`, `/metrics`, `/-/reload`). `feedwatch status` sends this user with the password from `$FEEDWATCH_HTTP_PASSWORD`."},
	"http.auth.password_hash": {doc: "bcrypt hash of the password (`htpasswd -nbBC 10 \"\" PASSWORD | cut -d: -f2`); a value that is not a bcrypt hash is an error."},

	"nats.url":             {doc: "NATS server URL(s), comma-separated (`nats://`, `tls://`, `ws://`, `wss://`); `\"\"` runs an embedded server with JetStream under `data_dir`."},
	"nats.embedded_listen": {doc: "host:port on which the embedded server accepts other processes (`feedwatch watch`/`notify`, the `nats` CLI); `\"\"` lets in only feedwatch's own `backtest` and `dead` commands, on a random 127.0.0.1 port with a token kept in `data_dir/nats-local.json` (mode 0600)."},
	"nats.replicas":        {doc: "Replicas (1-5) of every stream and KV bucket feedwatch creates; 3 on a three-server cluster. More than 1 needs `nats.url`. Changing it updates the existing streams and buckets in place."},
	"nats.creds":           {doc: "A NATS `.creds` file (JWT and NKey) to authenticate with; relative to the config file's folder."},
	"nats.user":            {doc: "User name for user/password authentication."},
	"nats.password":        {doc: "Password for `nats.user` (secret)."},
	"nats.token":           {doc: "Token authentication (secret)."},
	"nats.tls_ca":          {doc: "PEM file of the CA that signed the servers' certificates; relative to the config file's folder."},
	"nats.tls_cert":        {doc: "PEM client certificate for TLS client authentication (with `nats.tls_key`)."},
	"nats.tls_key":         {doc: "PEM private key of `nats.tls_cert`."},

	"watcher.interval":                {doc: "Default time between two polls of a feed (a floor: jitter, Cache-Control, Retry-After and RSS `<ttl>` only lengthen it)."},
	"watcher.concurrency":             {doc: "Polls in flight at once, over all hosts."},
	"watcher.per_host":                {doc: "Polls in flight at once to one host."},
	"watcher.timeout":                 {doc: "Time limit of one poll (connect, redirects, body)."},
	"watcher.max_body":                {doc: "Largest feed document read, counted after decompression."},
	"watcher.backfill":                {doc: "At a feed's first poll, items older than this (or undated) are remembered without alerting; 0s: no item already in the feed alerts."},
	"watcher.state_retention":         {doc: "How long an item stays remembered after it was last seen in its feed: at least 1h and twice the longest poll interval. Items still in a feed are re-marked seen every 24 h (or a quarter of this, if less), and a feed answering 304 is fetched in full every 7 days (or a quarter of this) for that."},
	"watcher.user_agent":              {doc: "User-Agent header of every poll.", def: "`feedwatch/<version> (+" + ProjectURL + ")`"},
	"watcher.allow_private_redirects": {doc: "Let a redirect go from a public address to a loopback, private or link-local one (intranet feeds); off, such redirects fail."},

	"websub.callback_url":      {doc: "Public base URL under which hubs reach the callback listener (`websub.listen`, else `http.listen`), like `https://feedwatch.example.org/websub`; each subscription's callback is this URL plus `/` and a random id. On `http.listen` it needs a path of its own (not `/`, `/api`, `/metrics`, a web console page such as `/feeds`, ...). `\"\"` (the default) turns WebSub off."},
	"websub.listen":            {doc: "host:port of the callback listener; `\"\"` serves the callbacks on `http.listen` under the callback URL's path (the loopback `Host` rule does not apply to them)."},
	"websub.fallback_interval": {doc: "Poll interval of a feed whose WebSub subscription is active (its feed interval if that is longer), in case pushes stop; feeds without one are polled at their interval."},
	"websub.lease":             {doc: "Subscription lease asked of hubs (they decide); renewed at 80 % of the granted lease."},
	"archive.retention":        {doc: "How long every new item is kept in the archive (stream `FEEDWATCH_ITEMS`) for `feedwatch backtest` and `catch_up`; 0 turns the archive off. Applies on reload."},
	"archive.max_bytes":        {doc: "Largest size of the archive; past it the oldest items go first. Applies on reload."},

	"feeds[].url":      {doc: "The feed: http(s)://, file:// or a path (relative to the config file's folder). Required."},
	"feeds[].name":     {doc: "Unique name, used in logs, profiles' feeds: and status.", def: "from the URL's host and path"},
	"feeds[].interval": {doc: "Poll interval of this feed.", def: "`watcher.interval`"},
	"feeds[].tags":     {doc: "Tags, for profiles to select feeds by (`feeds: [tag:uk]`)."},
	"feeds[].headers":  {doc: "Extra HTTP request headers (`Authorization: \"Bearer ${FEED_TOKEN}\"`); names keep their case; values are secrets."},

	"opml": {doc: "OPML files (readers' subscription exports) whose feeds join `feeds`: relative to the config file's folder; folders and the `category` attribute become tags; a feed also in `feeds` (same URL) keeps the config's entry, with a warning. Watched and reloaded like the config."},

	"profiles[].name":     {doc: "Unique name, `[a-z0-9_-]+`; it names the NATS subject `feedwatch.hits.<name>`. Required."},
	"profiles[].query":    {doc: "A query in the query language (README: \"Profiles and the query language\")."},
	"profiles[].keywords": {doc: "Phrases, any of which matches (no operators; `uyghur*` allowed)."},
	"profiles[].exclude":  {doc: "Phrases, none of which may match."},
	"profiles[].feeds":    {doc: "Feed names or `tag:<tag>` this profile watches.", def: "every feed"},
	"profiles[].notify":   {doc: "Notifier names this profile's hits go to.", def: "every notifier"},
	"profiles[].catch_up": {doc: "When the profile is added or its query, keywords, exclude, feeds or catch_up change (at start or on reload), archived items of this window (by published date, else archiving time) that now match are alerted, at most once per item; 0: only new items.", def: "`0`"},

	"notifiers.<name>.max_attempts": {doc: "Deliveries tried before a hit is dead-lettered to `feedwatch.dead.<name>`.", def: "`10`"},
	"notifiers.<name>.template":     {doc: "Go text/template over the hit for the message text (for webhook: the JSON body); checked at load on a sample hit.", def: "built in"},
	"notifiers.<name>.digest":       {doc: "When more than 0, hits are gathered per window and sent as one message."},
	"notifiers.<name>.rate_limit":   {doc: "Most messages per second."},
	"notifiers.<name>.timeout":      {doc: "Time limit of one delivery attempt."},
}

// docRow is one key of the reference.
type docRow struct {
	path, typ, def, doc, types string
}

// reference renders docs/config.md from the schema and the notifier
// types: every key with its type, default and meaning, section by section.
func reference(chs channelSet) []byte {
	defaults := defaultConfig()
	var b bytes.Buffer
	b.WriteString(`# Config reference

Generated from the code's schema by ` + "`go test ./config -run TestConfigDoc -update`" + `: do not edit by hand.

The file is YAML (` + "`.toml`" + ` is TOML, ` + "`.json`" + ` JSON). Durations are Go durations plus ` + "`d`" + ` for days
(` + "`90s`, `5m`, `2h`, `7d`" + `); sizes are bytes or a number with ` + "`KB`, `MB`, `GB`" + ` (1024-based).
` + "`${NAME}`" + ` in any string value is the environment variable NAME (` + "`${NAME:-default}`" + ` gives a
default, ` + "`$${`" + ` a literal ` + "`${`" + `); ` + "`FEEDWATCH_<PATH>`" + ` sets ` + "`data_dir`" + ` or a scalar key of a section
(` + "`http`, `nats`, `watcher`, `archive`, `websub`" + `, and ` + "`http.auth`" + `) or of a notifier in the file (` + "`FEEDWATCH_NATS_URL`, `FEEDWATCH_NATS_REPLICAS`, `FEEDWATCH_ARCHIVE_RETENTION`, `FEEDWATCH_HTTP_AUTH_USERNAME`, `FEEDWATCH_NOTIFIERS_TEAM_SLACK_WEBHOOK_URL`" + `);
lists and the entries of ` + "`feeds`" + ` and ` + "`profiles`" + ` are set in the file.
Values marked secret never appear in logs, errors, ` + "`/metrics` or `/api/status`" + `.
`)
	cfgType := reflect.TypeFor[Config]()
	var top []docRow
	for i := range cfgType.NumField() {
		f := cfgType.Field(i)
		key := keyOf(f)
		if key == "" {
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct:
			rows := structRows(key+".", f.Type, reflect.ValueOf(defaults).Elem().Field(i))
			section(&b, key, rows, false)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			section(&b, key, structRows(key+"[].", f.Type.Elem(), reflect.Value{}), false)
		case f.Type.Kind() == reflect.Map:
			section(&b, key, notifierRows(chs), true)
		default:
			top = append(top, row(key, f.Type, reflect.ValueOf(defaults).Elem().Field(i)))
		}
	}
	if len(top) > 0 {
		// Top-level scalars go first.
		var head bytes.Buffer
		section(&head, "top level", top, false)
		out := b.Bytes()
		i := bytes.Index(out, []byte("\n## "))
		return slices.Concat(out[:i], head.Bytes(), out[i:])
	}
	return b.Bytes()
}

func section(b *bytes.Buffer, name string, rows []docRow, types bool) {
	fmt.Fprintf(b, "\n## %s\n\n", name)
	if types {
		b.WriteString("Each entry of `notifiers` is named by its key (`[a-z0-9_-]+`, it names the NATS consumer `notify-<name>`).\n\n")
		b.WriteString("| key | type | for | default | meaning |\n|---|---|---|---|---|\n")
	} else {
		b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	}
	for _, r := range rows {
		doc := strings.ReplaceAll(r.doc, "|", `\|`)
		if types {
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", r.path, r.typ, r.types, r.def, doc)
		} else {
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", r.path, r.typ, r.def, doc)
		}
	}
}

func structRows(prefix string, t reflect.Type, defaults reflect.Value) []docRow {
	var rows []docRow
	for i := range t.NumField() {
		f := t.Field(i)
		if key := keyOf(f); key != "" {
			var v reflect.Value
			if defaults.IsValid() {
				v = defaults.Field(i)
			}
			rows = append(rows, row(prefix+key, f.Type, v))
		}
	}
	return rows
}

func notifierRows(chs channelSet) []docRow {
	var rows []docRow
	for _, k := range commonKeys() {
		r := row("notifiers.<name>."+k.name, k.typ, reflect.Value{})
		switch k.name {
		case "type":
			r.doc = chs.typeList("`") + ". Required."
		case "rate_limit":
			r.def = rateLimitDefaults(chs)
		case "timeout":
			r.def = timeoutDefaults(chs)
		}
		r.types = "all"
		rows = append(rows, r)
	}
	for _, ch := range chs {
		for _, k := range ch.Keys {
			r := docRow{path: "notifiers.<name>." + k.Name, typ: typeName(k.Type), doc: k.Doc, def: "—", types: ch.Type}
			if k.Default != "" {
				r.def = k.Default
			}
			if r.doc != "" && k.Secret && !strings.Contains(r.doc, "secret") {
				r.doc += " (secret)"
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// rateLimitDefaults is "`1` for slack, else none".
func rateLimitDefaults(chs channelSet) string {
	var parts []string
	for _, ch := range chs {
		if ch.RateLimit > 0 {
			parts = append(parts, "`"+strconv.FormatFloat(ch.RateLimit, 'g', -1, 64)+"` for "+ch.Type)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ") + ", else none"
}

// timeoutDefaults is "`30s` email, `10s` slack and webhook": the channels
// grouped by default, longest first.
func timeoutDefaults(chs channelSet) string {
	byTimeout := map[time.Duration][]string{}
	for _, ch := range chs {
		if ch.Timeout > 0 {
			byTimeout[ch.Timeout] = append(byTimeout[ch.Timeout], ch.Type)
		}
	}
	ds := slices.Sorted(maps.Keys(byTimeout))
	slices.Reverse(ds)
	parts := make([]string, len(ds))
	for i, d := range ds {
		names := byTimeout[d]
		last := names[len(names)-1]
		if len(names) > 1 {
			last = strings.Join(names[:len(names)-1], ", ") + " and " + last
		}
		parts[i] = "`" + d.String() + "` " + last
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func row(path string, t reflect.Type, def reflect.Value) docRow {
	d := keyDocs[path]
	r := docRow{path: path, typ: typeName(t), doc: d.doc, def: "—"}
	switch {
	case d.def != "":
		r.def = d.def
	case def.IsValid() && !def.IsZero():
		r.def = "`" + fmt.Sprint(def.Interface()) + "`"
	case def.IsValid() && def.Kind() == reflect.String:
		r.def = "`\"\"`"
	case def.IsValid() && def.Kind() == reflect.Bool:
		r.def = "`false`"
	}
	if r.doc != "" && secretKeys[path[strings.LastIndexAny(path, ".")+1:]] && !strings.Contains(r.doc, "secret") {
		r.doc += " (secret)"
	}
	return r
}

func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case sizeType:
		return "size"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "mapping of " + typeName(t.Elem()) + "s"
	}
	return t.Kind().String()
}

// defaultConfig is the smallest valid config with every default applied.
func defaultConfig() *Config {
	c, err := Parse("", []byte("profiles:\n  - name: a\n    keywords: [a]\n"), nil)
	if err != nil {
		// The literal above is valid; a failure is a bug in this package.
		panic("config: the minimal config does not load: " + err.Error())
	}
	return c
}

// undocumented lists schema keys without a description.
func undocumented(chs channelSet) []string {
	var missing []string
	for _, line := range strings.Split(string(reference(chs)), "\n") {
		if strings.HasPrefix(line, "| `") && strings.HasSuffix(line, "|  |") {
			path := strings.TrimPrefix(line, "| `")
			missing = append(missing, path[:strings.IndexByte(path, '`')])
		}
	}
	return missing
}
