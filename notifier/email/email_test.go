package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"github.com/emersion/go-sasl"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const password = "sm7p-P4ssw0rd-secret"

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

func configFor(s *smtpServer, tlsMode string) Config {
	return Config{
		Host: s.host, Port: s.port, TLS: tlsMode,
		From: "feedwatch <alerts@example.org>", To: []string{"me@example.org", "you@example.org"},
		Timeout: 5 * time.Second,
	}
}

func mustNew(t *testing.T, cfg Config, tlsConf *tls.Config) *Email {
	t.Helper()
	e, err := newEmail(cfg, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// parsed is a received mail split into its parts.
type parsed struct {
	header mail.Header
	text   string
	html   string
}

func parseMail(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	p := parsed{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		if part.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want text and HTML parts, got text %d bytes, html %d bytes", len(p.text), len(p.html))
	}
	return p
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode header %q: %v", v, err)
	}
	return s
}

func TestEmailDelivers(t *testing.T) {
	tests := []struct {
		name    string
		mode    smtpMode
		tlsMode string
		auth    bool
	}{
		{"plain", plain, TLSNone, false},
		{"plain with auth to localhost", plain, TLSNone, true},
		{"starttls with auth", startTLS, TLSStartTLS, true},
		{"implicit tls with auth", implicitTLS, TLSImplicit, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clientTLS := startSMTP(t, tt.mode, func(s *smtpServer) {
				if tt.auth {
					s.user, s.pass = "alerts", password
				}
			})
			cfg := configFor(s, tt.tlsMode)
			if tt.auth {
				cfg.Username, cfg.Password = "alerts", password
			}
			e := mustNew(t, cfg, clientTLS)
			h := sample()
			retry, err := e.Notify(context.Background(), []hit.Hit{h})
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			msgs := s.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages delivered", len(msgs))
			}
			if msgs[0].from != "alerts@example.org" || strings.Join(msgs[0].rcpts, ",") != "me@example.org,you@example.org" {
				t.Errorf("envelope from %q to %v", msgs[0].from, msgs[0].rcpts)
			}
			p := parseMail(t, msgs[0].data)
			if got := decodeHeader(t, p.header.Get("Subject")); got != h.Item.Title+" [xinjiang]" {
				t.Errorf("Subject = %q", got)
			}
			if id := p.header.Get("X-Feedwatch-Hit-Id"); id != h.ID {
				t.Errorf("X-Feedwatch-Hit-Id = %q", id)
			}
			if mid := p.header.Get("Message-Id"); !strings.Contains(mid, h.ID) {
				t.Errorf("Message-ID %q does not carry the hit id", mid)
			}
			for _, want := range []string{h.Item.Title, h.Item.Link, "profile xinjiang", "«Xinjiang»"} {
				if !strings.Contains(p.text, want) {
					t.Errorf("text part lacks %q:\n%s", want, p.text)
				}
			}
			for _, want := range []string{`<a href="` + h.Item.Link + `">`, "<b>Xinjiang</b>", "<b>Uyghur</b>"} {
				if !strings.Contains(p.html, want) {
					t.Errorf("HTML part lacks %q", want)
				}
			}
			checkCleanHTML(t, p.html)
		})
	}
}

func TestEmailDigest(t *testing.T) {
	s, _ := startSMTP(t, plain, nil)
	e := mustNew(t, configFor(s, TLSNone), nil)
	hits := []hit.Hit{sample(), sample(), sample()}
	hits[1].Item.Title, hits[2].Item.Title = "Second story", "Third story"
	if _, err := e.Notify(context.Background(), hits); err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, s.messages()[0].data)
	subj := decodeHeader(t, p.header.Get("Subject"))
	if !strings.HasPrefix(subj, "3 new hits: Forced labour") {
		t.Errorf("Subject = %q", subj)
	}
	for _, want := range []string{"3 new hits", "Second story", "Third story"} {
		if !strings.Contains(p.text, want) || !strings.Contains(p.html, want) {
			t.Errorf("digest lacks %q", want)
		}
	}
}

func TestEmailFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*smtpServer)
		title     string
		wantRetry bool
		wantText  string
	}{
		{"451 at RCPT", func(s *smtpServer) { s.rcptErr = smtpErr(451, "greylisted, try later") }, "", true, "451"},
		{"451 at DATA", func(s *smtpServer) { s.dataErr = smtpErr(451, "local error") }, "", true, "451"},
		{"550 at RCPT", func(s *smtpServer) { s.rcptErr = smtpErr(550, "no such user") }, "", false, "550"},
		{"554 at DATA", func(s *smtpServer) { s.dataErr = smtpErr(554, "rejected as spam") }, "", false, "554"},
		{"dropped connection", func(s *smtpServer) { s.drop = true }, "", true, ""},
		{"slow server", nil, "hang-please", true, "timed out"},
		{"wrong password", func(s *smtpServer) { s.user, s.pass = "alerts", "other" }, "", false, "535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startSMTP(t, plain, func(s *smtpServer) {
				s.user, s.pass = "alerts", password
				if tt.setup != nil {
					tt.setup(s)
				}
			})
			cfg := configFor(s, TLSNone)
			cfg.Username, cfg.Password = "alerts", password
			cfg.Timeout = 300 * time.Millisecond
			e := mustNew(t, cfg, nil)
			h := sample()
			if tt.title != "" {
				h.Item.Title = tt.title
			}
			retry, err := e.Notify(context.Background(), []hit.Hit{h})
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "127.0.0.1:") {
				t.Errorf("error %q should name the server and contain %q", err, tt.wantText)
			}
			notifiertest.NoSecretInError(t, err, password)
			if n := len(s.messages()); n != 0 {
				t.Errorf("%d messages accepted", n)
			}
		})
	}
}

func TestEmailConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e := mustNew(t, Config{Host: "127.0.0.1", Port: port, TLS: TLSStartTLS, Username: "alerts", Password: password,
		From: "alerts@example.org", To: []string{"me@example.org"}}, nil)
	retry, err := e.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, password)
}

func TestEmailStartTLSRequired(t *testing.T) {
	s, _ := startSMTP(t, plain, nil) // offers no STARTTLS
	e := mustNew(t, configFor(s, TLSStartTLS), nil)
	_, err := e.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || len(s.messages()) != 0 {
		t.Fatalf("sent without TLS although starttls is required: %v", err)
	}
}

func TestEmailHeaderInjection(t *testing.T) {
	s, _ := startSMTP(t, plain, nil)
	e := mustNew(t, configFor(s, TLSNone), nil)
	h := notifiertest.HostileHit()
	h.Item.Title = "Xinjiang\r\nBcc: evil@example.org\r\nX-Evil: 1\n\nbody <b>injected</b>\u2028more\x1b[31m"
	if _, err := e.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	m := s.messages()[0]
	if strings.Join(m.rcpts, ",") != "me@example.org,you@example.org" {
		t.Errorf("recipients = %v", m.rcpts)
	}
	p := parseMail(t, m.data)
	if p.header.Get("Bcc") != "" || p.header.Get("X-Evil") != "" {
		t.Errorf("injected headers: %v", p.header)
	}
	subj := decodeHeader(t, p.header.Get("Subject"))
	if strings.ContainsAny(subj, "\r\n\x1b\u2028") || !strings.HasPrefix(subj, "Xinjiang Bcc: evil@example.org X-Evil: 1 body") {
		t.Errorf("Subject = %q", subj)
	}
	checkCleanHTML(t, p.html)
}

func TestEmailHTMLIsClean(t *testing.T) {
	e := mustNew(t, Config{Host: "127.0.0.1", TLS: TLSNone, From: "a@example.org", To: []string{"b@example.org"}}, nil)
	_, _, out, err := e.Render([]hit.Hit{notifiertest.HostileHit()})
	if err != nil {
		t.Fatal(err)
	}
	checkCleanHTML(t, out)
	if !strings.Contains(out, "Xinjiang &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co") {
		t.Errorf("title not escaped:\n%s", out)
	}
	h := notifiertest.HostileHit()
	h.Snippet = ""
	_, _, out, err = e.Render([]hit.Hit{h})
	if err != nil {
		t.Fatal(err)
	}
	checkCleanHTML(t, out)
	if !strings.Contains(out, "<b>bold</b>") || strings.Contains(out, "tracker.example") {
		t.Errorf("summary should keep <b> and drop the remote image:\n%s", out)
	}
}

// TestSanitizeCorpus runs the feedparser sanitize/ corpus through the HTML
// renderer: every text and HTML field of each hostile document becomes a
// hit's title, summary and snippet.
func TestSanitizeCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "corpus", "feedparser", "wellformed", "sanitize")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Fatalf("sanitize corpus missing from %s (it is part of the repository)", dir)
	}
	e := mustNew(t, Config{Host: "127.0.0.1", TLS: TLSNone, From: "a@example.org", To: []string{"b@example.org"}}, nil)
	fp := gofeed.NewParser()
	texts := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var hits []hit.Hit
		for _, s := range corpusTexts(b, fp) {
			h := sample()
			h.Item.Title, h.Item.Summary, h.Snippet = s, s, s
			h.Item.Link, h.Feed.Title = s, s
			hits = append(hits, h)
			h2 := h
			h2.Snippet = "" // the summary path
			hits = append(hits, h2)
		}
		texts += len(hits)
		for _, h := range hits {
			_, _, out, err := e.Render([]hit.Hit{h})
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			if msg := dangerous(out); msg != "" {
				t.Errorf("%s: %s", filepath.Base(f), msg)
			}
		}
	}
	t.Logf("%d files, %d hostile renderings checked", len(files), texts)
}

// corpusTexts is every text node of the XML (entities decoded, so escaped
// HTML becomes HTML) plus what gofeed makes of the document.
func corpusTexts(b []byte, fp *gofeed.Parser) []string {
	var out []string
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			out = append(out, string(cd))
		}
	}
	if feed, err := fp.ParseString(string(b)); err == nil {
		out = append(out, feed.Title, feed.Description)
		for _, it := range feed.Items {
			out = append(out, it.Title, it.Description, it.Content, it.Link)
		}
	}
	return out
}

func checkCleanHTML(t *testing.T, doc string) {
	t.Helper()
	if msg := dangerous(doc); msg != "" {
		t.Errorf("%s in:\n%s", msg, doc)
	}
}

var forbidden = map[string]bool{
	"script": true, "iframe": true, "object": true, "embed": true, "img": true, "style": true,
	"link": true, "form": true, "input": true, "svg": true, "math": true, "base": true,
	"frame": true, "frameset": true, "applet": true, "video": true, "audio": true, "source": true,
	"picture": true, "image": true, "body-evil": true, "button": true, "textarea": true, "meta-refresh": true,
}

// dangerous reports the first thing in an HTML document that could run
// code or load remote content, or "".
func dangerous(doc string) string {
	z := html.NewTokenizer(strings.NewReader(doc))
	metas := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			if forbidden[tok.Data] {
				return "element <" + tok.Data + ">"
			}
			if tok.Data == "meta" {
				metas++
				if metas > 1 || len(tok.Attr) != 1 || tok.Attr[0].Key != "charset" {
					return "unexpected <meta>"
				}
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					return "event handler " + a.Key
				case a.Key == "src" || a.Key == "srcset" || a.Key == "background" || a.Key == "poster" || a.Key == "action" || a.Key == "formaction":
					return "attribute " + a.Key
				case a.Key == "href" && v != "" && !(strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "mailto:")):
					return "link " + a.Val
				case a.Key == "style" && (strings.Contains(v, "url(") || strings.Contains(v, "expression") || strings.Contains(v, "javascript")):
					return "style " + a.Val
				case strings.Contains(v, "javascript:") || strings.Contains(v, "vbscript:") || strings.Contains(v, "data:"):
					return "script URL in " + a.Key
				}
			}
		}
	}
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string
	}{
		{Config{}, []string{"host: required", "from: required", "to: at least one"}},
		{Config{Host: "h", TLS: "ssl", From: "a@b.c", To: []string{"x"}, Port: 70000, Password: password},
			[]string{"port: not a port number", `tls: "ssl" is not`, "username: required with password", "to[0]: "}},
	}
	for _, tt := range tests {
		errs := CheckConfig(tt.cfg)
		var got []string
		for _, err := range errs {
			got = append(got, err.Error())
			notifiertest.NoSecretInError(t, err, password)
		}
		all := strings.Join(got, "\n")
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("errors %q lack %q", got, w)
			}
		}
	}
	if errs := CheckConfig(Config{Host: "h", From: "feedwatch <a@example.org>", To: []string{"b@example.org"}}); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
}

func TestTemplates(t *testing.T) {
	s, _ := startSMTP(t, plain, nil)
	cfg := configFor(s, TLSNone)
	cfg.Template = "ALERT {{.Profile}}: {{.Item.Title}}\n"
	cfg.HTMLTemplate = `<p>{{range .Hits}}<a href="{{.Link}}">{{.Title}}</a> {{.Snippet}}{{end}}</p>`
	e := mustNew(t, cfg, nil)
	h := notifiertest.HostileHit()
	h.Item.Link = "javascript:alert(1)"
	if _, err := e.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, s.messages()[0].data)
	if !strings.HasPrefix(p.text, "ALERT xinjiang: Xinjiang <!channel>") {
		t.Errorf("text = %q", p.text)
	}
	checkCleanHTML(t, p.html)
	for _, bad := range []string{"{{", "{{if}}", "{{.Nope}}"} {
		if _, err := New(Config{Host: "h", From: "a@b.c", To: []string{"d@e.f"}, HTMLTemplate: bad}); err == nil || !strings.HasPrefix(err.Error(), "html_template: ") {
			t.Errorf("bad html template %q: %v", bad, err)
		}
	}
	if err := CheckTemplate("{{.Item.Nope}}"); err == nil {
		t.Error("a template naming a missing field should fail its check")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&textproto.Error{Code: 451, Msg: "try later"}, true},
		{&textproto.Error{Code: 550, Msg: "no such user"}, false},
		{errors.New("dial failed: 535 5.7.8 authentication failed"), false},
		{errors.New("dial tcp 127.0.0.1:550: connect: connection refused"), true},
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true},
		{&net.OpError{Op: "dial", Err: io.EOF}, true},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestEmailConcurrentSends(t *testing.T) {
	s, _ := startSMTP(t, plain, func(s *smtpServer) { s.user, s.pass = "alerts", password })
	cfg := configFor(s, TLSNone)
	cfg.Username, cfg.Password = "alerts", password
	e := mustNew(t, cfg, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Notify(context.Background(), []hit.Hit{sampleHit()}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(s.messages()); n != 8 {
		t.Errorf("%d messages, want 8", n)
	}
}

// TestAuthEchoRedacted: a server that quotes the AUTH exchange in its 535
// reply must not put the credentials, in any base64 form, into the error
// (which goes to logs, dead letters and send-test output).
func TestAuthEchoRedacted(t *testing.T) {
	const user = "alerts-user"
	tests := []struct {
		name string
		mode smtpMode
		tls  string
		mech string
		enc  *base64.Encoding
	}{
		{"plain std", plain, TLSNone, sasl.Plain, base64.StdEncoding},
		{"plain raw url", plain, TLSNone, sasl.Plain, base64.RawURLEncoding},
		{"login std", startTLS, TLSStartTLS, sasl.Login, base64.StdEncoding},
		{"login url", startTLS, TLSStartTLS, sasl.Login, base64.URLEncoding},
		{"login raw std", startTLS, TLSStartTLS, sasl.Login, base64.RawStdEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clientTLS := startSMTP(t, tt.mode, func(s *smtpServer) { s.echo, s.mech = tt.enc, tt.mech })
			cfg := configFor(s, tt.tls)
			cfg.Username, cfg.Password = user, password
			_, err := mustNew(t, cfg, clientTLS).Notify(context.Background(), []hit.Hit{sample()})
			if err == nil {
				t.Fatal("AUTH failed, Notify did not")
			}
			msg := err.Error()
			if !strings.Contains(msg, "535") || !strings.Contains(msg, "[redacted]") {
				t.Fatalf("error %q: want the 535 with the echo redacted", msg)
			}
			for _, v := range []string{password, "\x00" + user + "\x00" + password, user} {
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
					if strings.Contains(msg, enc.EncodeToString([]byte(v))) {
						t.Errorf("error %q holds the base64 of %q", msg, v)
					}
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("error %q holds the password", msg)
			}
		})
	}
}

// TestSpecDefaults: what the file leaves out of an email notifier (the
// config loader used to fill these in; the channel owns them now).
func TestSpecDefaults(t *testing.T) {
	tests := []struct {
		in, want Settings
	}{
		{Settings{}, Settings{Port: 587, TLS: TLSStartTLS}},
		{Settings{TLS: TLSImplicit}, Settings{Port: 465, TLS: TLSImplicit}},
		{Settings{TLS: TLSNone, Port: 25}, Settings{Port: 25, TLS: TLSNone}},
		{Settings{Port: 2525}, Settings{Port: 2525, TLS: TLSStartTLS}},
	}
	for _, tt := range tests {
		got := tt.in
		Spec().Defaults(&got)
		if got.Port != tt.want.Port || got.TLS != tt.want.TLS {
			t.Errorf("defaults of %+v: port %d tls %q, want %d %q", tt.in, got.Port, got.TLS, tt.want.Port, tt.want.TLS)
		}
	}
}
