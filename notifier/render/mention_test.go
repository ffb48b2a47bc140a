package render

import "testing"

func TestUnmention(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"@room and @channel", "@\u200broom and @\u200bchannel"},
		{"mail me: a@b.org", "mail me: a@\u200bb.org"},
		{"a lone @ sign", "a lone @ sign"},
		{"@\u200beveryone", "@\u200beveryone"},
		{"@\u2060here", "@\u200bhere"},
		{"pay\u200bpal.com\ufeff", "paypal.com"},
		{"ends with @", "ends with @"},
		{"@_user @!x @#y", "@\u200b_user @\u200b!x @\u200b#y"},
		{"نص\u200cعربي", "نص\u200cعربي"},
	} {
		if got := Unmention(tc.in); got != tc.want {
			t.Errorf("Unmention(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChatLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.org/a?b=c": "https://example.org/a?b=c",
		"http://0?\xea":             "http://0?%EA",
		"javascript:alert(1)":       "",
		"https://example.org/é?q=ü": "https://example.org/%C3%A9?q=ü",
	} {
		if got := ChatLink(in); got != want {
			t.Errorf("ChatLink(%q) = %q, want %q", in, got, want)
		}
	}
}
