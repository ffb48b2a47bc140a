package hit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestID(t *testing.T) {
	a := ID("xinjiang", "g:world:123")
	for _, tc := range []struct {
		name, profile, key string
		same               bool
	}{
		{"same pair", "xinjiang", "g:world:123", true},
		{"other profile", "trade-bill", "g:world:123", false},
		{"other item", "xinjiang", "g:world:124", false},
		{"no ambiguity at the join", "xinjiang\x00g", ":world:123", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ID(tc.profile, tc.key); (got == a) != tc.same {
				t.Fatalf("ID(%q, %q) = %s vs %s", tc.profile, tc.key, got, a)
			}
		})
	}
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("id %q is not 32 hex digits", a)
	}
}

func TestJSONShape(t *testing.T) {
	h := Hit{V: Version, ID: "x", Profile: "p", DetectedAt: time.Date(2021, 1, 19, 16, 5, 0, 0, time.UTC),
		Item: Item{Authors: []string{}, Categories: []string{}}, Matches: []Match{{Field: "title", Text: "Xinjiang", Term: "xinjiang"}}}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"v":1`, `"detected_at":"2021-01-19T16:05:00Z"`, `"published":null`, `"authors":[]`, `"matches":[{"field":"title","text":"Xinjiang","term":"xinjiang"}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
