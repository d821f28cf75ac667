// Package report renders a build's size report: a table for the terminal, JSON for
// tools, and an SVG chart for people, one bar group per app with a bar per platform,
// stepped by shrink pass. It also holds the size budgets' check: Check says which of an
// image's sizes are over the budget minimal.yaml gives it, and the report marks the sizes
// at NearBudget of their budget or more.
package report
