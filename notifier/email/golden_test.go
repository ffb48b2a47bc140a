package email

import (
	"testing"

	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// TestGolden holds the subject and both parts of a mail, with the default
// templates, to testdata/<case>.golden.
func TestGolden(t *testing.T) {
	e, err := New(Config{Host: "smtp.example.org", From: "feedwatch <alerts@example.org>", To: []string{"me@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range notifiertest.GoldenCases() {
		t.Run(c.Name, func(t *testing.T) {
			subject, text, html, err := e.Render(c.Hits)
			if err != nil {
				t.Fatal(err)
			}
			out := "Subject: " + subject + "\n\n--- text/plain ---\n" + text + "\n--- text/html ---\n" + html
			notifiertest.Golden(t, c.Name, []byte(out))
		})
	}
}
