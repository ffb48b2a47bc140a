package websub

import (
	"slices"
	"testing"
)

func TestDiscover(t *testing.T) {
	const base = "https://example.org/news/feed.xml"
	tests := []struct {
		name    string
		headers []string
		body    string
		want    Links
	}{
		{
			name: "atom links",
			body: `<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="https://example.org/news/feed.xml"/><link rel="hub" href="https://hub.example/"/><link rel="hub" href="https://hub2.example/"/><entry><link rel="hub" href="https://entry.example/"/></entry></feed>`,
			want: Links{Hubs: []string{"https://hub.example/", "https://hub2.example/"}, Self: "https://example.org/news/feed.xml"},
		},
		{
			name: "rss atom:link, relative",
			body: `<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title><link>https://example.org/</link><atom:link rel="hub" href="/hub"/><atom:link rel="self" href="feed.xml?x=1" type="application/rss+xml"/><item><title>i</title></item></channel></rss>`,
			want: Links{Hubs: []string{"https://example.org/hub"}, Self: "https://example.org/news/feed.xml?x=1"},
		},
		{
			name:    "link headers win over the document",
			headers: []string{`<https://hub.example/a>; rel="hub", <https://example.org/canonical.xml>; rel="self"`, `<https://hub.example/b>; rel=hub`},
			body:    `<feed><link rel="hub" href="https://doc-hub.example/"/></feed>`,
			want:    Links{Hubs: []string{"https://hub.example/a", "https://hub.example/b"}, Self: "https://example.org/canonical.xml"},
		},
		{
			name:    "link header with a comma in the URL and several rels",
			headers: []string{`<https://hub.example/x,y>; title="a, b"; rel="hub self"`},
			want:    Links{Hubs: []string{"https://hub.example/x,y"}, Self: "https://hub.example/x,y"},
		},
		{
			name:    "self from the header, hub from the document",
			headers: []string{`<https://example.org/canonical.xml>; rel="self"`},
			body:    `<feed><link rel="hub" href="https://doc-hub.example/"/></feed>`,
			want:    Links{Hubs: []string{"https://doc-hub.example/"}, Self: "https://example.org/canonical.xml"},
		},
		{
			name: "json feed",
			body: `{"version":"https://jsonfeed.org/version/1.1","feed_url":"https://example.org/feed.json","hubs":[{"type":"WebSub","url":"https://hub.example/"},{"type":"rssCloud","url":"https://cloud.example/"}],"items":[]}`,
			want: Links{Hubs: []string{"https://hub.example/"}, Self: "https://example.org/feed.json"},
		},
		{
			name: "no hub, other schemes dropped",
			body: `<feed><link rel="hub" href="javascript:alert(1)"/><link rel="hub" href="file:///etc/passwd"/><link rel="alternate" href="https://example.org/"/></feed>`,
			want: Links{},
		},
		{name: "not xml", body: "<<<>>>&&&", want: Links{}},
		{name: "empty", want: Links{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Discover(base, tt.headers, []byte(tt.body))
			if !slices.Equal(got.Hubs, tt.want.Hubs) || got.Self != tt.want.Self {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSignature(t *testing.T) {
	secret, body := []byte("s3cret"), []byte("<feed/>")
	for _, m := range []string{"sha1", "sha256", "sha384", "sha512"} {
		if err := Verify(Sign(m, secret, body), secret, body); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	bad := []string{"sha256", "sha256=", "sha256=zz", "md5=00", "sha1=" + "00", "=00", " sha256 =00"}
	for _, v := range bad {
		if err := Verify(v, secret, body); err == nil {
			t.Errorf("%q verified", v)
		}
	}
	if err := Verify("", secret, body); err != ErrNoSignature {
		t.Errorf("empty = %v", err)
	}
	// Upper-case method and hex are the same signature.
	up := Sign("sha256", secret, body)
	if err := Verify("SHA256="+up[len("sha256="):], secret, body); err != nil {
		t.Errorf("upper-case method: %v", err)
	}
}
