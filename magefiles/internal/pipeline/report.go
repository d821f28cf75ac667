package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// Report is the size report of a build, written to report.json and printed as a table.
type Report struct {
	Apps []AppReport `json:"apps"`
}

// AppReport is one app's multi-arch index and its per-platform images.
type AppReport struct {
	Name      string           `json:"name"`
	Index     string           `json:"index"` // the index digest
	Platforms []PlatformReport `json:"platforms"`
}

// PlatformReport is the sizes of one app on one platform.
type PlatformReport struct {
	Platform string `json:"platform"`
	Manifest string `json:"manifest"` // the image manifest digest
	// Steps are the binary's size after compiling and after each shrink pass, in order.
	Steps []Step `json:"steps"`
	// Binary is the size of the executable that goes into the image.
	Binary int64 `json:"binary"`
	// Content is the image's uncompressed layer bytes: what `docker images` shows.
	Content int64 `json:"content"`
	// Pull is what a pull transfers: manifest, config and compressed layers.
	Pull int64 `json:"pull"`
}

// Step is a binary's size after one step of the build.
type Step struct {
	Pass  string `json:"pass"`
	Bytes int64  `json:"bytes"`
}

// WriteTable prints r as an aligned table, one row per app and platform.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "APP\tPLATFORM\tBINARY\tIMAGE\tPULL\t")
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", a.Name, p.Platform, bytes(p.Binary), bytes(p.Content), bytes(p.Pull))
		}
	}
	return tw.Flush()
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// bytes renders n with thousands separators and a unit: "1,200,290 B".
func bytes(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out) + " B"
}
