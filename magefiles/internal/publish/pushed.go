package publish

import "strings"

// Pushed is one app pushed to a registry.
type Pushed struct {
	App string `json:"app"`
	// Ref is <repo>/<app>:<first tag>@sha256:..., the line push prints.
	Ref string `json:"ref"`
	// Digest is the index digest; Refs name it once per tag.
	Digest string   `json:"digest"`
	Refs   []string `json:"refs"`
}

// Image returns the digest reference that deploy YAML should use: <repo>/<app>@sha256:...
func (p Pushed) Image() string {
	name := p.Ref
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + p.Digest
}
