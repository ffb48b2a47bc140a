package webhook

import (
	"testing"

	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// TestGolden holds the request body, exactly as posted and signed, to
// testdata/<case>.golden.
func TestGolden(t *testing.T) {
	w, err := New(Config{URL: "https://hooks.example.org/feedwatch"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range notifiertest.GoldenCases() {
		if len(c.Hits) > 3 {
			continue // a long digest is only a longer array
		}
		t.Run(c.Name, func(t *testing.T) {
			body, err := w.Body(c.Hits)
			if err != nil {
				t.Fatal(err)
			}
			notifiertest.Golden(t, c.Name, body)
		})
	}
}
