// Package files writes files so that readers never see half of one, and takes the
// file locks that let builds in other processes take turns.
package files
