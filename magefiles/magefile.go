//go:build mage

// The example monorepo's build: every target comes from the importable targets package.
package main

import (
	//mage:import
	"github.com/minimalbuild/minimal/magefiles/targets"
)

// Default is what `go tool mage` runs with no target: build every app.
var Default = targets.Build
