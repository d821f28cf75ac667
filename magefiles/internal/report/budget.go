package report

import (
	"errors"
	"fmt"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Budget is an app's budget on one platform, as minimal.yaml sets it, and which of the
// image's sizes come close to it.
type Budget struct {
	// Content caps Platform.Content; 0 means no cap.
	Content int64 `json:"content,omitempty"`
	// Pull caps Platform.Pull; 0 means no cap.
	Pull int64 `json:"pull,omitempty"`
	// Near lists the sizes at NearBudget of their cap or more: "content", "pull" or both.
	Near []string `json:"near,omitempty"`
}

// NearBudget is the share of its budget from which a size is marked in the report: 90%.
const NearBudget = 0.9

// BudgetOf returns the report of budget b for an image of content and pull bytes, or nil
// when b is nil or caps nothing.
func BudgetOf(b *manifest.Budget, content, pull int64) *Budget {
	if b == nil || (b.Content.Bytes == 0 && b.Pull.Bytes == 0) {
		return nil
	}
	out := &Budget{Content: b.Content.Bytes, Pull: b.Pull.Bytes}
	if near(content, out.Content) {
		out.Near = append(out.Near, "content")
	}
	if near(pull, out.Pull) {
		out.Near = append(out.Near, "pull")
	}
	return out
}

// near reports whether size is at NearBudget of limit or more; never for no limit.
func near(size, limit int64) bool {
	return limit > 0 && float64(size) >= NearBudget*float64(limit)
}

// OverBudgetError is an image larger than its budget allows.
type OverBudgetError struct {
	App      string
	Platform manifest.Platform
	What     string        // "content" or "pull"
	Size     int64         // the measured bytes
	Budget   manifest.Size // the cap, with its place in File
	File     string        // the manifest's path
}

// Error says what is over which budget, and where the budget is written:
// "hello linux/amd64: content 2,345 B is over its budget 2 KiB (minimal.yaml:12:5)".
func (e *OverBudgetError) Error() string {
	return fmt.Sprintf("%s %s: %s %s is over its budget %s (%s)", e.App, e.Platform, e.What, formatBytes(e.Size), e.Budget, e.Budget.Pos.At(e.File))
}

// Check returns an *OverBudgetError for each of the image's sizes, content and pull
// bytes as the report measures them, that is larger than the budget of s allows, joined;
// nil when both fit or s has no budget.
func Check(s manifest.Spec, content, pull int64) error {
	if s.Budget == nil {
		return nil
	}
	var errs []error
	for _, c := range []struct {
		what  string
		size  int64
		limit manifest.Size
	}{{"content", content, s.Budget.Content}, {"pull", pull, s.Budget.Pull}} {
		if c.limit.Bytes > 0 && c.size > c.limit.Bytes {
			errs = append(errs, &OverBudgetError{App: s.App, Platform: s.Platform, What: c.what, Size: c.size, Budget: c.limit, File: s.File})
		}
	}
	return errors.Join(errs...)
}
