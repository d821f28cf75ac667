// Package report renders a build's size report: a table for the terminal, JSON for
// tools, and an SVG chart for people, one bar group per app with a bar per platform,
// stepped by shrink pass.
package report
