package cache

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChanges(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name        string
		before, now []Seen
		want        []string
	}{
		{name: "nothing changed", before: []Seen{{Name: "flag", Value: "-O2"}}, now: []Seen{{Name: "flag", Value: "-O2"}}},
		{
			name:   "a short value",
			before: []Seen{{Name: "flag", Value: "-O2"}},
			now:    []Seen{{Name: "flag", Value: "-Os"}},
			want:   []string{`changed flag: "-Os", was "-O2"`},
		},
		{
			name:   "a file",
			before: []Seen{{Name: "main.c", Value: "1", File: true}},
			now:    []Seen{{Name: "main.c", Value: "2", File: true}},
			want:   []string{"changed file main.c"},
		},
		{
			name:   "new and dropped",
			before: []Seen{{Name: "old", Value: "x"}, {Name: "gone.c", Value: "1", File: true}},
			now:    []Seen{{Name: "new", Value: "y"}, {Name: "added.c", Value: "2", File: true}},
			want:   []string{`new new: "y"`, "new file added.c", `dropped old: was "x"`, "no longer reads file gone.c"},
		},
		{
			name:   "a long value changed far in",
			before: []Seen{{Name: "config", Value: long + `"Created":"1970"` + long}},
			now:    []Seen{{Name: "config", Value: long + `"Created":"2023"` + long}},
			want: []string{`changed config: "...` + strings.Repeat("a", 29) + `\"Created\":\"2023\"` + strings.Repeat("a", 72) + `...", was "...` +
				strings.Repeat("a", 29) + `\"Created\":\"1970\"` + strings.Repeat("a", 72) + `..."`},
		},
		{
			name:   "a long value changed at its end",
			before: []Seen{{Name: "env", Value: long + "1"}},
			now:    []Seen{{Name: "env", Value: long + "2"}},
			want:   []string{`changed env: "...` + strings.Repeat("a", 116) + `2", was "...` + strings.Repeat("a", 116) + `1"`},
		},
		{
			name:   "a new long value",
			before: nil,
			now:    []Seen{{Name: "env", Value: long}},
			want:   []string{`new env: "` + strings.Repeat("a", 117) + `..."`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Changes(tt.before, tt.now)); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}
}
