package config

import (
	"reflect"
	"testing"
	"time"
)

func TestArchiveKeys(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // problems; nil: loads
		arch Archive
	}{
		{
			name: "defaults",
			body: "profiles:\n  - name: a\n    keywords: [x]\n",
			arch: Archive{Retention: DefaultArchiveAge, MaxBytes: DefaultArchiveBytes},
		},
		{
			name: "set, with catch_up",
			body: "archive:\n  retention: 7d\n  max_bytes: 64MB\nprofiles:\n  - name: a\n    keywords: [x]\n    catch_up: 2d\n",
			arch: Archive{Retention: Duration(7 * 24 * time.Hour), MaxBytes: 64 << 20},
		},
		{
			name: "off",
			body: "archive:\n  retention: 0\n",
			arch: Archive{MaxBytes: DefaultArchiveBytes},
		},
		{
			name: "bad values",
			body: "archive:\n  retention: -1d\n  max_bytes: 1KB\n  retension: 2d\nprofiles:\n  - name: a\n    keywords: [x]\n    catch_up: -2h\n",
			want: []string{
				`feedwatch.yaml:2: archive.retention: must not be negative (0 turns the archive off)`,
				`feedwatch.yaml:4: archive.retension: unknown key, did you mean "retention"?`,
				`feedwatch.yaml:8: profiles[0].catch_up: must not be negative`,
			},
		},
		{
			name: "small max_bytes, catch_up without archive",
			body: "archive:\n  retention: 1h\n  max_bytes: 1KB\n",
			want: []string{`feedwatch.yaml:3: archive.max_bytes: want at least 1MB`},
		},
		{
			name: "catch_up without archive",
			body: "archive:\n  retention: 0s\nprofiles:\n  - name: a\n    keywords: [x]\n    catch_up: 7d\n",
			want: []string{`feedwatch.yaml:6: profiles[0].catch_up: needs the archive: archive.retention is 0`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, "feedwatch.yaml", tt.body)
			c, err := Load(p, nil, WithChannels(testChannels...))
			if tt.want != nil {
				if got := problemsOf(t, err); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("problems:\n%q\nwant\n%q", got, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Archive != tt.arch {
				t.Errorf("archive = %+v, want %+v", c.Archive, tt.arch)
			}
		})
	}
}
