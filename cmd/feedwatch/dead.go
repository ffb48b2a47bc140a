package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// deadTimeout bounds a dead-letter command: opening a stopped daemon's
// store and reading the dead letters.
const deadTimeout = 2 * time.Minute

// deadFlags are what the dead subcommands share.
type deadFlags struct {
	notifier, id string
	json         bool
}

func deadCmd(ctx context.Context, e env, g *globals, withConfig func(*cobra.Command) *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dead",
		Short: "List, replay or drop dead letters (hits a notifier gave up on)",
		Long: `dead works on the dead letters: hits a notifier could not deliver (a permanent
failure, or max_attempts failures), kept in the JetStream stream FEEDWATCH_DEAD on
feedwatch.dead.<notifier>.

It reaches a running daemon over NATS (nats.url, or for the embedded server
nats.embedded_listen or the private address in data_dir/nats-local.json), or opens a stopped daemon's store in data_dir.`,
		Example: `  feedwatch dead list
  feedwatch dead replay --notifier team-slack
  feedwatch dead drop --notifier me --id 3f2a9c...`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("dead needs a subcommand: list, replay or drop")}
		},
	}
	list := &cobra.Command{
		Use:   "list [--notifier N] [--json]",
		Short: "Show dead letters: hit, notifier, last error, when",
		Long: `list shows the dead letters, oldest first, as a table (notifier, hit id, when,
attempts, profile, title, last error), or with --json one dead letter a line
({"notifier", "hit" (the hit JSON, "v": 1), "error", "attempts", "at"}).`,
		Example: `  feedwatch dead list --notifier team-slack
  feedwatch dead list --json | jq -r .hit.id`,
		Args: args(cobra.NoArgs),
	}
	var lf deadFlags
	list.Flags().StringVar(&lf.notifier, "notifier", "", "only this notifier's dead letters")
	list.Flags().BoolVar(&lf.json, "json", false, "one dead letter JSON a line")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return withDead(ctx, e, g, lf, "dead list", func(d *deadRun) error { return d.list() })
	}

	replay := &cobra.Command{
		Use:   "replay [--notifier N] [--id HIT]",
		Short: "Hand dead letters back to their notifier for delivery, once each",
		Long: `replay hands each selected dead letter back to its notifier, and removes it from the
dead letters. The hit goes through the notifier's normal path (delivery ledger,
retries, rate limit, digest), to that notifier only: it is delivered once, and a
hit the ledger shows as delivered is not sent again. One that fails again becomes
a dead letter again. With the daemon stopped, the hits are delivered when it
starts. Without --notifier and --id, every dead letter is replayed.`,
		Example: `  feedwatch dead replay --notifier team-slack
  feedwatch dead replay --id 3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d`,
		Args: args(cobra.NoArgs),
	}
	var rf deadFlags
	replay.Flags().StringVar(&rf.notifier, "notifier", "", "only this notifier's dead letters")
	replay.Flags().StringVar(&rf.id, "id", "", "only the dead letters of this hit id")
	replay.Flags().BoolVar(&rf.json, "json", false, "one line of JSON per hit replayed")
	replay.RunE = func(cmd *cobra.Command, _ []string) error {
		return withDead(ctx, e, g, rf, "dead replay", func(d *deadRun) error { return d.replay() })
	}

	drop := &cobra.Command{
		Use:   "drop [--notifier N] [--id HIT]",
		Short: "Remove dead letters for good",
		Long: `drop removes the selected dead letters without delivering them. Without --notifier
and --id, every dead letter is removed.`,
		Example: `  feedwatch dead drop --notifier me
  feedwatch dead drop --id 3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d`,
		Args: args(cobra.NoArgs),
	}
	var df deadFlags
	drop.Flags().StringVar(&df.notifier, "notifier", "", "only this notifier's dead letters")
	drop.Flags().StringVar(&df.id, "id", "", "only the dead letters of this hit id")
	drop.Flags().BoolVar(&df.json, "json", false, "one line of JSON per dead letter dropped")
	drop.RunE = func(cmd *cobra.Command, _ []string) error {
		return withDead(ctx, e, g, df, "dead drop", func(d *deadRun) error { return d.drop() })
	}
	cmd.AddCommand(withConfig(list), withConfig(replay), withConfig(drop))
	return cmd
}

// deadRun is one dead-letter command at work on an open store.
type deadRun struct {
	ctx   context.Context
	e     env
	flags deadFlags
	cfg   *config.Config
	store *daemon.Store
	// letters are the selected dead letters, oldest first.
	letters []bus.DeadEntry
}

func withDead(ctx context.Context, e env, g *globals, f deadFlags, name string, run func(*deadRun) error) error {
	if f.notifier != "" && !validName(f.notifier) {
		return usageError{fmt.Errorf("--notifier %q: not a notifier name ([a-z0-9_-]+)", f.notifier)}
	}
	// Only data_dir and nats are used: no feed or notifier secret is needed.
	cfg, path, err := g.loadConfig(e, config.RoleDead)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, deadTimeout)
	defer cancel()
	log, err := g.logger(e.stderr)
	if err != nil {
		return err
	}
	store, err := daemon.OpenStore(ctx, cfg, name, log)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer store.Close()
	d := &deadRun{ctx: ctx, e: e, flags: f, cfg: cfg, store: store}
	if f.notifier != "" {
		counts, err := store.Bus.DeadCounts(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, inConfig := cfg.Notifiers[f.notifier]; !inConfig && counts[f.notifier] == 0 {
			return usageError{fmt.Errorf("unknown notifier %q: %s has %s", f.notifier, path, knownNotifiers(cfg, counts))}
		}
	}
	all, err := store.Bus.ListDead(ctx, f.notifier)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, l := range all {
		if f.id == "" || l.Letter.Hit.ID == f.id {
			d.letters = append(d.letters, l)
		}
	}
	if f.id != "" && len(d.letters) == 0 {
		where := ""
		if f.notifier != "" {
			where = fmt.Sprintf(" of notifier %q", f.notifier)
		}
		return fmt.Errorf("%s: no dead letter%s for hit id %q (`feedwatch dead list` shows them)", name, where, f.id)
	}
	return run(d)
}

// validName is the notifier name alphabet: anything else cannot name a
// subject, and would only make a confusing NATS error.
func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

// knownNotifiers lists the config's notifiers and those with dead letters,
// for the error about an unknown one.
func knownNotifiers(cfg *config.Config, counts map[string]uint64) string {
	var names []string
	for n := range cfg.Notifiers {
		names = append(names, n)
	}
	for n, c := range counts {
		if _, ok := cfg.Notifiers[n]; !ok && c > 0 {
			names = append(names, n+" (not in the config, has dead letters)")
		}
	}
	if len(names) == 0 {
		return "no notifiers"
	}
	slices.Sort(names)
	return "notifiers " + strings.Join(names, ", ")
}

func (d *deadRun) list() error {
	if d.flags.json {
		enc := json.NewEncoder(d.e.stdout)
		for _, l := range d.letters {
			if err := enc.Encode(l.Letter); err != nil {
				return err
			}
		}
		return nil
	}
	if len(d.letters) == 0 {
		fmt.Fprintln(d.e.stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(d.e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTIFIER\tHIT\tWHEN\tATTEMPTS\tPROFILE\tTITLE\tLAST ERROR")
	for _, l := range d.letters {
		h := l.Letter.Hit
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", l.Notifier, orDash(h.ID), when(l.Letter.At), l.Letter.Attempts,
			orDash(cell(h.Profile, 30)), orDash(cell(h.Item.Title, 60)), render.OneLine(l.Letter.Error))
	}
	return tw.Flush()
}

// cell is feed text fit for one table cell: one line, no control
// characters (no terminal escapes from a hostile feed), no tab, cut to n.
func cell(s string, n int) string {
	return render.Truncate(n, render.OneLine(s))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// deadAction is one line of --json output of replay and drop.
type deadAction struct {
	Action   string `json:"action"`
	Notifier string `json:"notifier"`
	Hit      string `json:"hit"`
	// Letters is how many dead letters it removed (a hit may have several).
	Letters int    `json:"letters"`
	Error   string `json:"error,omitempty"`
}

func (d *deadRun) report(a deadAction) {
	if d.flags.json {
		_ = json.NewEncoder(d.e.stdout).Encode(a)
		return
	}
	if a.Error != "" {
		fmt.Fprintf(d.e.stderr, "feedwatch: %s hit %s of notifier %s: %s\n", strings.TrimSuffix(a.Action, "ed"), orDash(a.Hit), a.Notifier, render.OneLine(a.Error))
		return
	}
	fmt.Fprintf(d.e.stdout, "%s hit %s of notifier %s\n", a.Action, orDash(a.Hit), a.Notifier)
}

// replay hands the selected letters back: one replay per (notifier, hit),
// removing every dead letter of that pair.
func (d *deadRun) replay() error {
	type key struct{ notifier, hit string }
	groups := map[key][]bus.DeadEntry{}
	var order []key
	skipped := 0
	for _, l := range d.letters {
		if l.Unreadable || l.Letter.Hit.ID == "" {
			skipped++
			fmt.Fprintf(d.e.stderr, "feedwatch: dead letter %d of notifier %s holds no hit to replay (%s): drop it\n",
				l.Seq, l.Notifier, render.OneLine(l.Letter.Error))
			continue
		}
		k := key{l.Notifier, l.Letter.Hit.ID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], l)
	}
	if len(order) == 0 {
		return errors.New("dead replay: nothing to replay" + selection(d.flags))
	}
	ready := map[string]error{} // per notifier: why it cannot take replays
	failed, done := 0, 0
	for _, k := range order {
		err, checked := ready[k.notifier]
		if !checked {
			err = d.canReplay(k.notifier)
			ready[k.notifier] = err
		}
		g := groups[k]
		if err == nil {
			seqs := make([]uint64, 0, len(g)-1)
			for _, l := range g[1:] {
				seqs = append(seqs, l.Seq)
			}
			err = d.store.Bus.ReplayDead(d.ctx, g[0], seqs...)
		}
		a := deadAction{Action: "replayed", Notifier: k.notifier, Hit: k.hit, Letters: len(g)}
		if err != nil {
			a.Error = err.Error()
			failed++
		} else {
			done++
		}
		d.report(a)
	}
	if !d.flags.json {
		fmt.Fprintf(d.e.stderr, "%d hit(s) replayed", done)
		if d.store.Offline && done > 0 {
			fmt.Fprint(d.e.stderr, "; the daemon is stopped: they are delivered when it starts")
		}
		fmt.Fprintln(d.e.stderr)
	}
	if failed > 0 || skipped > 0 && done == 0 {
		return exitError{1}
	}
	return nil
}

// canReplay says why notifier cannot take a replay now, nil when it can.
func (d *deadRun) canReplay(notifier string) error {
	if _, ok := d.cfg.Notifiers[notifier]; !ok {
		return fmt.Errorf("notifier %q is no longer in the config, so nothing would deliver it: add it back, or drop its dead letters", notifier)
	}
	ok, err := d.store.Bus.HasConsumer(d.ctx, notifier)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("notifier %q has no consumer %s (no profile is routed to it): route a profile to it and start the daemon first", notifier, bus.ConsumerName(notifier))
	}
	return nil
}

func (d *deadRun) drop() error {
	if len(d.letters) == 0 {
		return errors.New("dead drop: nothing to drop" + selection(d.flags))
	}
	for _, l := range d.letters {
		a := deadAction{Action: "dropped", Notifier: l.Notifier, Hit: l.Letter.Hit.ID, Letters: 1}
		if err := d.store.Bus.DropDead(d.ctx, l.Seq); err != nil {
			a.Error = err.Error()
			d.report(a)
			return exitError{1}
		}
		d.report(a)
	}
	if !d.flags.json {
		fmt.Fprintf(d.e.stderr, "%d dead letter(s) dropped\n", len(d.letters))
	}
	return nil
}

// selection describes the flags in an error about an empty selection.
func selection(f deadFlags) string {
	if f.notifier == "" {
		return ": there are no dead letters"
	}
	return ": notifier " + strconv.Quote(f.notifier) + " has no dead letters"
}
