// Package targets holds minimal's Mage targets. A monorepo gets all of them with one
// import in its magefile:
//
//	import (
//		//mage:import
//		_ "github.com/minimalbuild/minimal/magefiles/targets"
//	)
//
// Every target reads minimal.yaml from the directory mage runs in ($MINIMAL_MANIFEST names
// another file) and writes into images/ beside it.
package targets
