package render

import (
	"bytes"
	htmltemplate "html/template"
	"io"
	"strings"
	"testing"
	"text/template"
	"time"
)

// ended tells when an abandoned render's goroutine returns.
type ended struct {
	t    Executor
	done chan error
}

func (e ended) Execute(w io.Writer, data any) error {
	err := e.t.Execute(w, data)
	e.done <- err
	return err
}

// TestTimedOutRenderEnds: loops that write nothing (which the range
// check cannot see: a number held in a variable or computed from the
// hit, or a template calling itself) are abandoned at the timeout, and
// the goroutine running them ends then, instead of spinning for minutes
// (before, each of these ran for minutes to days).
func TestTimedOutRenderEnds(t *testing.T) {
	h := SampleHit(time.Now())
	h.Item.Summary = strings.Repeat("long feed text ", 10000) // 150,000 characters
	tests := map[string]string{
		"number in a variable": `{{$n := 3000000000}}{{range $n}}{{end}}`,
		"number from the hit":  `{{range len .Item.Summary}}{{range len $.Item.Summary}}{{end}}{{end}}`,
		"range with else":      `{{range $i := len .Item.Summary}}{{range len $.Item.Summary}}{{else}}none{{end}}{{end}}`,
		"recursion":            `{{define "x"}}{{if .}}{{template "x" (slice . 1)}}{{template "x" (slice . 1)}}{{end}}{{end}}{{template "x" "0123456789012345678901234567890123456789"}}`,
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			tm, err := Parse("t", text)
			if err != nil {
				t.Fatal(err)
			}
			e := ended{tm, make(chan error, 1)}
			if _, err := Bounded(e, h, MaxOutput, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "takes longer than") {
				t.Fatalf("err = %v", err)
			}
			select {
			case err := <-e.done:
				if err == nil || !strings.Contains(err.Error(), "rendering took too long") {
					t.Fatalf("abandoned render ended with %v", err)
				}
			// A hang guard, not a speed bound: the render ends at its
			// next iteration.
			case <-time.After(30 * time.Second):
				t.Fatal("the abandoned render still runs 30 s after its timeout")
			}
		})
	}
}

// TestInterruptibleSameOutput: the guard writes nothing, in text and in
// HTML templates (which escape the tree after it is added).
func TestInterruptibleSameOutput(t *testing.T) {
	text := `{{define "row"}}<b>{{.}}</b>{{end}}{{range $i, $v := .}}{{if $i}}, {{end}}{{template "row" $v}}{{else}}empty{{end}}{{range 2}}.{{end}}{{with .}}{{range .}}{{end}}{{end}}`
	data := []string{"a<", "b&"}
	tm, err := Parse("t", text)
	if err != nil {
		t.Fatal(err)
	}
	var want, out bytes.Buffer
	plain := template.Must(template.New("t").Funcs(Funcs()).Parse(text))
	if err := plain.Execute(&want, data); err != nil {
		t.Fatal(err)
	}
	if err := tm.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Fatalf("text: %q, want %q", out.String(), want.String())
	}

	hplain := htmltemplate.Must(htmltemplate.New("h").Parse(text))
	hguarded := htmltemplate.Must(htmltemplate.New("h").Parse(text))
	for _, tt := range hguarded.Templates() {
		Interruptible(tt.Tree)
	}
	want.Reset()
	out.Reset()
	if err := hplain.Execute(&want, data); err != nil {
		t.Fatal(err)
	}
	if err := hguarded.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() || !strings.Contains(out.String(), "&lt;") {
		t.Fatalf("html: %q, want %q", out.String(), want.String())
	}
}
