package ownership

import (
	"fmt"
	"slices"
	"testing"
)

func feedNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("feed-%d", i)
	}
	return out
}

// TestAssignSharesEvenlyAndMovesLittle: each of N members gets about 1/N of
// the feeds, and a join or leave moves only the feeds the changed member
// wins or held.
func TestAssignSharesEvenlyAndMovesLittle(t *testing.T) {
	feeds := feedNames(6000)
	for _, tc := range []struct {
		name          string
		before, after []string
	}{
		{"second joins", []string{"a"}, []string{"a", "b"}},
		{"third joins", []string{"a", "b"}, []string{"a", "b", "c"}},
		{"one of three leaves", []string{"a", "b", "c"}, []string{"a", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := Assign(feeds, tc.before), Assign(feeds, tc.after)
			share := map[string]int{}
			moved := 0
			for _, f := range feeds {
				share[after[f]]++
				if before[f] != after[f] {
					moved++
					changed := after[f]
					if slices.Contains(tc.before, changed) && slices.Contains(tc.after, before[f]) {
						t.Fatalf("feed %s moved between members that both stayed: %s -> %s", f, before[f], after[f])
					}
				}
			}
			n := len(tc.after)
			for _, m := range tc.after {
				if d := share[m] - len(feeds)/n; d < -len(feeds)/n/10 || d > len(feeds)/n/10 {
					t.Errorf("member %s has %d feeds, want %d within 10%%", m, share[m], len(feeds)/n)
				}
			}
			// The changed member's share, within 10 %.
			want := len(feeds) / max(len(tc.before), len(tc.after))
			if d := moved - want; d < -want/10 || d > want/10 {
				t.Errorf("%d feeds moved, want about %d", moved, want)
			}
		})
	}
}

func TestAssignAgreesAndHandlesNoMembers(t *testing.T) {
	if got := Assign([]string{"x"}, nil); len(got) != 0 {
		t.Errorf("no members: %v", got)
	}
	a := Owner("world", []string{"m1", "m2", "m3"})
	b := Owner("world", []string{"m3", "m1", "m2"})
	if a != b {
		t.Errorf("order of members changes the owner: %s vs %s", a, b)
	}
}

func BenchmarkAssign(b *testing.B) {
	feeds := feedNames(50000)
	members := []string{"host1-100-aaaaaa", "host2-200-bbbbbb", "host3-300-cccccc"}
	for b.Loop() {
		Assign(feeds, members)
	}
}
