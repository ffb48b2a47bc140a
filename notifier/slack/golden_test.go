package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// TestGolden holds the incoming-webhook payload (text and Block Kit
// blocks), as posted, to testdata/<case>.golden, indented for reading.
func TestGolden(t *testing.T) {
	f := newFakeSlack(t, nil)
	s := modes[0].make(t, f, 0)
	for _, c := range notifiertest.GoldenCases() {
		t.Run(c.Name, func(t *testing.T) {
			before := len(f.payloads())
			if _, err := s.Notify(context.Background(), c.Hits); err != nil {
				t.Fatal(err)
			}
			ps := f.payloads()
			if len(ps) != before+1 {
				t.Fatalf("%d posts, want 1", len(ps)-before)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, []byte(ps[len(ps)-1].raw), "", "  "); err != nil {
				t.Fatal(err)
			}
			out.WriteByte('\n')
			notifiertest.Golden(t, c.Name, out.Bytes())
		})
	}
}
