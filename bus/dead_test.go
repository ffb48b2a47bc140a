package bus

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

// fetchIDs takes what src holds now (acking it) and returns the hit ids.
func fetchIDs(t *testing.T, src *Source) []string {
	t.Helper()
	var ids []string
	for {
		msgs, err := src.Fetch(context.Background(), 10, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return ids
		}
		for _, m := range msgs {
			var h hit.Hit
			if err := json.Unmarshal(m.Data(), &h); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, h.ID)
			if err := m.Ack(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func deadIDs(t *testing.T, b *Bus, notifierName string) []string {
	t.Helper()
	es, err := b.ListDead(context.Background(), notifierName)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.Notifier+"/"+e.Letter.Hit.ID)
	}
	return ids
}

func TestDeadLetterListReplayDrop(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	hook, err := b.EnsureConsumer(ctx, "hook", ConsumerOptions{Profiles: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.EnsureConsumer(ctx, "other", ConsumerOptions{Profiles: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PublishHit(ctx, sampleHit("h1", "p")); err != nil {
		t.Fatal(err)
	}
	for _, src := range []*Source{hook, other} {
		if got := fetchIDs(t, src); !slices.Equal(got, []string{"h1"}) {
			t.Fatalf("first delivery: %v", got)
		}
	}
	dead := b.DeadLetters()
	for _, l := range []struct{ n, id string }{{"hook", "h1"}, {"hook", "h2"}, {"other", "h3"}} {
		if err := dead.Dead(ctx, l.n, notifier.DeadLetter{Notifier: l.n, Hit: sampleHit(l.id, "p"), Error: "status 400", Attempts: 1, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if got := deadIDs(t, b, ""); !slices.Equal(got, []string{"hook/h1", "hook/h2", "other/h3"}) {
		t.Fatalf("list all: %v", got)
	}
	if got := deadIDs(t, b, "hook"); !slices.Equal(got, []string{"hook/h1", "hook/h2"}) {
		t.Fatalf("list hook: %v", got)
	}
	counts, err := b.DeadCounts(ctx)
	if err != nil || counts["hook"] != 2 || counts["other"] != 1 || len(counts) != 2 {
		t.Fatalf("counts %v, %v", counts, err)
	}

	// Replay h1 to hook: hook gets it, other does not, and it leaves the
	// dead letters. Replaying the same entry again (a replay cut short
	// after its publish) hands nothing more over.
	es, err := b.ListDead(ctx, "hook")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := b.ReplayDead(ctx, es[0]); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetchIDs(t, hook); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("hook after replay got %v, want [h1]", got)
	}
	if got := fetchIDs(t, other); len(got) != 0 {
		t.Errorf("other notifier got %v after a replay to hook", got)
	}
	if got := deadIDs(t, b, ""); !slices.Equal(got, []string{"hook/h2", "other/h3"}) {
		t.Fatalf("after replay: %v", got)
	}

	// The replayed hit fails again at once, inside the duplicate window of
	// its first dead letter: it is a dead letter again, not dropped as a
	// duplicate. A repeat of a dead letter still stored stays one.
	for range 2 {
		if err := dead.Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("h1", "p"), Error: "status 400 again", Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := deadIDs(t, b, "hook"); !slices.Equal(got, []string{"hook/h2", "hook/h1"}) {
		t.Fatalf("after failing again: %v", got)
	}
	// And again: the chain of message ids goes on.
	es, _ = b.ListDead(ctx, "hook")
	if err := b.ReplayDead(ctx, es[1]); err != nil {
		t.Fatal(err)
	}
	if err := dead.Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("h1", "p"), Error: "third", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	es, _ = b.ListDead(ctx, "hook")
	if len(es) != 2 || es[1].Letter.Error != "third" {
		t.Fatalf("after failing a third time: %+v", es)
	}

	// Drop by sequence; one already gone is no error.
	if err := b.DropDead(ctx, es[0].Seq, es[0].Seq); err != nil {
		t.Fatal(err)
	}
	if got := deadIDs(t, b, ""); !slices.Equal(got, []string{"other/h3", "hook/h1"}) {
		t.Fatalf("after drop: %v", got)
	}

	// A replay that fails before the replayed letter is removed (the
	// webhook sends at once): the failing message is another one, so its
	// letter is another letter; a redelivery of one message stays one.
	if err := dead.Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("h4", "p"), Error: "first", Attempts: 1, Seq: 40}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the replay's message, dead-lettered twice (a crash before its Term)
		if err := dead.Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("h4", "p"), Error: "replayed", Attempts: 1, Seq: 41}); err != nil {
			t.Fatal(err)
		}
	}
	es, _ = b.ListDead(ctx, "hook")
	var errs []string
	for _, e := range es {
		if e.Letter.Hit.ID == "h4" {
			errs = append(errs, e.Letter.Error)
		}
	}
	if !slices.Equal(errs, []string{"first", "replayed"}) {
		t.Fatalf("letters of h4: %q, want the first and the replay's, once each", errs)
	}
}

func TestDeadLetterUnreadable(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	if _, err := b.js.Publish(ctx, DeadPrefix+"hook", []byte("\x1b[2Jnot json")); err != nil {
		t.Fatal(err)
	}
	es, err := b.ListDead(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || !es[0].Unreadable || es[0].Notifier != "hook" || es[0].Letter.Error == "" {
		t.Fatalf("unreadable letter listed as %+v", es)
	}
	if err := b.ReplayDead(ctx, es[0]); err == nil {
		t.Fatal("replayed a dead letter without a hit")
	}
	if err := b.DropDead(ctx, es[0].Seq); err != nil {
		t.Fatal(err)
	}
	if es, err := b.ListDead(ctx, ""); err != nil || len(es) != 0 {
		t.Fatalf("after drop: %v %v", es, err)
	}
}

// TestReplayReachesConsumerOfEarlierVersion: a notifier's consumer made
// before replays existed (one filter subject, no replay subject) takes a
// replay stored before the daemon's next start updates it.
func TestReplayReachesConsumerOfEarlierVersion(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	if _, err := b.js.CreateOrUpdateConsumer(ctx, HitsStream, jetstream.ConsumerConfig{
		Durable: ConsumerName("hook"), DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: -1, FilterSubject: HitsPrefix + "p",
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishHit(ctx, sampleHit("h0", "p")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeadLetters().Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("h1", "p"), Error: "x"}); err != nil {
		t.Fatal(err)
	}
	es, err := b.ListDead(ctx, "hook")
	if err != nil || len(es) != 1 {
		t.Fatalf("list: %v %v", es, err)
	}
	if err := b.ReplayDead(ctx, es[0]); err != nil {
		t.Fatal(err)
	}
	src, err := b.EnsureConsumer(ctx, "hook", ConsumerOptions{Profiles: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fetchIDs(t, src); !slices.Equal(got, []string{"h0", "h1"}) {
		t.Errorf("consumer got %v, want the hit and then the replay", got)
	}
}

// TestDropMarksLedger: a dropped dead letter leaves its hit marked dropped
// in the notifier's ledger (the console shows it so, not pending), a
// delivered mark is kept, and replaying a dead letter of a hit marked
// dropped clears the mark so that the replay is delivered, not skipped.
func TestDropMarksLedger(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	if _, err := b.EnsureConsumer(ctx, "hook", ConsumerOptions{Profiles: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	dead := b.DeadLetters()
	for _, id := range []string{"h1", "h2", "h3"} {
		if err := dead.Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit(id, "p"), Error: "status 400", Attempts: 1, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	led := b.Ledger()
	if err := led.MarkDelivered(ctx, "hook", "h2"); err != nil {
		t.Fatal(err)
	}
	es, err := b.ListDead(ctx, "hook")
	if err != nil || len(es) != 3 {
		t.Fatalf("dead letters %+v, %v", es, err)
	}
	if err := b.DropDead(ctx, es[0].Seq, es[1].Seq); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"h1": "dropped", "h2": "delivered", "h3": "", "h4": ""} {
		if got, err := led.State(ctx, "hook", id); err != nil || got != want {
			t.Errorf("state of %s after drop = %q, %v; want %q", id, got, err, want)
		}
	}
	if got, _ := led.State(ctx, "other", "h1"); got != "" {
		t.Errorf("another notifier's state of h1 = %q, want none", got)
	}
	// h3 marked dropped (another of its dead letters dropped) and then
	// replayed: the mark goes, so the notifier's ledger lets it through.
	if err := led.MarkDropped(ctx, "hook", "h3"); err != nil {
		t.Fatal(err)
	}
	if err := b.ReplayDead(ctx, es[2]); err != nil {
		t.Fatal(err)
	}
	if ok, err := led.Delivered(ctx, "hook", "h3"); err != nil || ok {
		t.Errorf("after replaying h3: Delivered = %v, %v; want false (to be sent)", ok, err)
	}
	if got := deadIDs(t, b, "hook"); len(got) != 0 {
		t.Errorf("dead letters left: %v", got)
	}
}
