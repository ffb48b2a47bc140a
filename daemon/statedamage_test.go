package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/checkpoint"
)

// damageStore damages the embedded server's store under dataDir, as a disk
// or a careless hand could while the daemon is stopped.
type damageStore func(t *testing.T, jsDir string)

// eachStoreFile calls fn for every file under the JetStream store.
func eachStoreFile(t *testing.T, jsDir string, fn func(path string, size int64)) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(jsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fn(p, fi.Size())
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk %s: %d files, %v", jsDir, n, err)
	}
}

// damages are the ways the test damages a stopped daemon's store.
func damages() map[string]damageStore {
	return map[string]damageStore{
		// Every file: streams, buckets and the notifier's consumer.
		"truncated files": func(t *testing.T, jsDir string) {
			eachStoreFile(t, jsDir, func(p string, size int64) {
				if err := os.Truncate(p, size/2); err != nil {
					t.Fatal(err)
				}
			})
		},
		"random bytes in message blocks": func(t *testing.T, jsDir string) {
			eachStoreFile(t, jsDir, func(p string, size int64) {
				if filepath.Ext(p) != ".blk" {
					return
				}
				b := make([]byte, size)
				_, _ = rand.Read(b)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			})
		},
		// A few bytes inside a block: nats-server still counts the message
		// but skips it when read.
		"random bytes inside message blocks": func(t *testing.T, jsDir string) {
			eachStoreFile(t, jsDir, func(p string, size int64) {
				if filepath.Ext(p) != ".blk" || size < 64 {
					return
				}
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				b := make([]byte, 16)
				_, _ = rand.Read(b)
				if _, err := f.WriteAt(b, size/2); err != nil {
					t.Fatal(err)
				}
			})
		},
		"seen bucket removed": func(t *testing.T, jsDir string) {
			var dirs []string
			_ = filepath.WalkDir(jsDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() && d.Name() == "KV_"+bus.SeenBucket {
					dirs = append(dirs, p)
				}
				return err
			})
			if len(dirs) != 1 {
				t.Fatalf("seen bucket folders: %v", dirs)
			}
			if err := os.RemoveAll(dirs[0]); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// stateRig runs the real daemon on one data_dir with a local feed and a
// webhook receiver, across restarts.
type stateRig struct {
	*reloadRig
}

func newStateRig(t *testing.T) *stateRig {
	r := &stateRig{newReloadRig(t)}
	r.write(t, "  - name: xinjiang\n    keywords: [Xinjiang]", "5s")
	return r
}

func (r *stateRig) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", r.port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// alertOnce adds items and waits until each reached the webhook.
func (r *stateRig) alertOnce(t *testing.T, pub time.Time, titles ...string) {
	t.Helper()
	// All at once: a poll between two adds would save the feed's state
	// once more, and where the damage lands in the store would then
	// depend on timing.
	batch := &feedServer{}
	for _, title := range titles {
		batch.add(strings.ReplaceAll(title, " ", "-"), title, "", pub)
	}
	r.feed.mu.Lock()
	r.feed.items = append(r.feed.items, batch.items...)
	r.feed.mu.Unlock()
	waitFor(t, fmt.Sprintf("delivery of %q", titles), 30*time.Second, func() bool {
		got := hookTitles(t, r.hook)
		for _, title := range titles {
			if got["xinjiang: "+title] == 0 {
				return false
			}
		}
		return true
	})
}

// metricSum adds up the series of a metric in a /metrics body whose labels
// contain label ("" for all).
func metricSum(t *testing.T, body, name, label string) float64 {
	t.Helper()
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") || !strings.Contains(l, label) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
	}
	return sum
}

// settle waits for two more polls of the feed and for every hit published
// in this run to be delivered (or found delivered before): by then an old
// item alerted again would have reached the webhook. Conditions, not a
// sleep: a loaded machine only makes it take longer.
func (r *stateRig) settle(t *testing.T) {
	t.Helper()
	_, m := r.get(t, "/metrics")
	polls := metricSum(t, m, "feedwatch_polls_total", "")
	waitFor(t, "two more polls, every hit delivered", 30*time.Second, func() bool {
		_, m := r.get(t, "/metrics")
		done := metricSum(t, m, "feedwatch_deliveries_total", `result="delivered"`) +
			metricSum(t, m, "feedwatch_deliveries_total", `result="duplicate"`) +
			metricSum(t, m, "feedwatch_deliveries_total", `result="dead"`)
		return metricSum(t, m, "feedwatch_polls_total", "") >= polls+2 &&
			metricSum(t, m, "feedwatch_hits_total", "") <= done
	})
}

// checkOnce fails on any hit delivered more than once.
func (r *stateRig) checkOnce(t *testing.T, want int) {
	t.Helper()
	got := hookTitles(t, r.hook)
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	if len(got) != want {
		t.Errorf("%d hits delivered, want %d: %v", len(got), want, got)
	}
}

// checkState checks the state check's report on every channel: the error
// log, /metrics, /readyz (ready, with the detail) and /api/status.
func (r *stateRig) checkState(t *testing.T, result string) {
	t.Helper()
	damaged := result == StateDamaged
	if got := strings.Contains(r.logs.String(), "level=ERROR msg=\"state store damaged"); got != damaged {
		t.Errorf("error log of damage: %v, want %v", got, damaged)
	}
	_, m := r.get(t, "/metrics")
	gauge := "feedwatch_state_damaged 0"
	if damaged {
		gauge = "feedwatch_state_damaged 1"
	}
	if !strings.Contains(m, gauge) || !strings.Contains(m, "feedwatch_state_checkpoint_timestamp_seconds") {
		t.Errorf("/metrics lacks %q or the checkpoint time", gauge)
	}
	code, body := r.get(t, "/readyz")
	if code != http.StatusOK || strings.Contains(body, "state damaged") != damaged {
		t.Errorf("/readyz = %d %q (damaged: %v)", code, body, damaged)
	}
	_, st := r.get(t, "/api/status")
	if !strings.Contains(st, `"result": "`+result+`"`) {
		t.Errorf("/api/status does not say %q:\n%s", result, st)
	}
	if damaged && (!strings.Contains(st, `"lost": [`) || !strings.Contains(st, `"recover_before"`)) {
		t.Errorf("/api/status does not name what was lost:\n%s", st)
	}
}

// TestStateDamagedWhileStopped: the store is damaged while the daemon is
// stopped. The daemon starts, says so (error log, metric, /readyz detail,
// /api/status), does not alert the old items again, and still alerts a
// new one.
func TestStateDamagedWhileStopped(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	for name, damage := range damages() {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each damage has its own daemon and data_dir
			r := newStateRig(t)
			r.start(t)
			r.checkState(t, StateFirstStart)
			old := []string{"Xinjiang one", "Xinjiang two", "Xinjiang three", "Xinjiang four", "Xinjiang five"}
			// Published within backfill, so a feed that lost its state
			// would alert them again.
			r.alertOnce(t, time.Now().Add(-time.Hour), old...)
			r.stop(t)

			damage(t, filepath.Join(r.dir, "data", "jetstream"))
			r.logs.Reset()
			r.start(t)
			defer r.stop(t)
			r.checkState(t, StateDamaged)
			// The embedded server's own warnings reach the log.
			if name == "truncated files" && !strings.Contains(r.logs.String(), `level=WARN msg="nats-server: `) {
				t.Error("no warning from nats-server about the damaged store in the log")
			}
			r.alertOnce(t, time.Now().Add(time.Second), "Xinjiang six")
			r.settle(t)
			r.checkOnce(t, len(old)+1)
			// The next restart finds the store as the damaged run left it
			// (nats-server keeps warning about a damaged metadata file, and
			// makes that stream again at every start): no damage, and the
			// recovery's cutoff is still carried for feeds not yet polled.
			r.stop(t)
			r.logs.Reset()
			r.start(t)
			r.checkState(t, StateOK)
			if _, st := r.get(t, "/api/status"); !strings.Contains(st, `"recover_before"`) {
				t.Errorf("recovery cutoff not carried over:\n%s", st)
			}
		})
	}
}

func TestNATSIdentity(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "embedded",
		"nats://n1:4222":                 "nats://n1:4222",
		"nats://user:pw@n1:4222, tok@n2": "nats://n1:4222,n2",
		"tls://a:b@c@n3:4222":            "tls://n3:4222",
	} {
		if got := natsIdentity(in); got != want {
			t.Errorf("natsIdentity(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStateCleanRestart: a clean restart, and one after a crash-like stop
// that left no checkpoint at stop, report no damage and resend nothing.
func TestStateCleanRestart(t *testing.T) {
	r := newStateRig(t)
	r.start(t)
	r.checkState(t, StateFirstStart)
	r.alertOnce(t, time.Now().Add(-time.Hour), "Xinjiang one", "Xinjiang two")
	r.stop(t)

	r.logs.Reset()
	r.start(t)
	r.checkState(t, StateOK)
	r.alertOnce(t, time.Now().Add(time.Second), "Xinjiang three")
	cp, err := checkpoint.Load(filepath.Join(r.dir, "data", checkpoint.FileName))
	if err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	// The checkpoint of a while ago, as a crash would leave it: the store
	// holds more than it says, which is not damage.
	if err := checkpoint.Save(filepath.Join(r.dir, "data", checkpoint.FileName), cp); err != nil {
		t.Fatal(err)
	}
	r.logs.Reset()
	r.start(t)
	defer r.stop(t)
	r.checkState(t, StateOK)
	r.settle(t)
	r.checkOnce(t, 3)
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// TestStateExternalNATS: with nats.url, the checkpoint in data_dir is kept
// for that NATS; buckets removed on the server while the daemon is stopped
// are reported, and the old items are not alerted again.
func TestStateExternalNATS(t *testing.T) {
	natsPort := freePort(t)
	ns := startNATS(t, t.TempDir(), natsPort)
	defer ns.Shutdown()
	r := &stateRig{newReloadRig(t)}
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	cfg := externalNATSConfig(filepath.Join(r.dir, "data"), fmt.Sprintf("127.0.0.1:%d", r.port), natsURL, "", r.feedURL, r.hookURL, "")
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	r.checkState(t, StateFirstStart)
	r.alertOnce(t, time.Now().Add(-time.Hour), "Xinjiang one", "Xinjiang two", "Xinjiang three")
	r.stop(t)
	cp, err := checkpoint.Load(filepath.Join(r.dir, "data", checkpoint.FileName))
	if err != nil || cp.NATS != natsURL {
		t.Fatalf("checkpoint for %q (%v), want one for %s", cp.NATS, err, natsURL)
	}

	// An operator removes the state buckets.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range []string{bus.SeenBucket, bus.FeedsBucket, bus.AlertedBucket} {
		if err := js.DeleteKeyValue(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	r.logs.Reset()
	r.start(t)
	defer r.stop(t)
	r.checkState(t, StateDamaged)
	r.alertOnce(t, time.Now().Add(time.Second), "Xinjiang four")
	r.settle(t)
	r.checkOnce(t, 4)
}
