package render

import "testing"

func TestStripInvisible(t *testing.T) {
	tests := map[string]string{
		"@every\u200bone":               "@everyone",
		"a\u2060b\ufeffc\u00add\u2062e": "abcde",
		"\u202eevil\u202c":              "evil",
		"می\u200cخواهم":                 "می\u200cخواهم", // ZWNJ is Persian spelling
		"👩\u200d💻":                      "👩\u200d💻",
		"abc\u200fdef":                  "abc\u200fdef",
		"line\nnext\x00":                "line\nnext",
	}
	for in, want := range tests {
		if got := StripInvisible(in); got != want {
			t.Errorf("StripInvisible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OneLineVisible(" a\u200b\n b "); got != "a b" {
		t.Errorf("OneLineVisible = %q", got)
	}
}
