// Package resolve replaces references to apps' images in YAML files, such
// as Kubernetes manifests, with the references of the pushed images, the
// way `ko resolve` does.
//
// A reference is a string scalar that is exactly minimal://<app>, for
// example `image: minimal://hello`. It becomes the pushed image by digest,
// `image: registry.example.com/team/hello@sha256:...`. Only whole scalars
// count: minimal:// inside a longer string, in a comment or in a mapping
// key is left alone. A scalar that starts with minimal:// but does not name
// an app that way is an error.
//
// Everything else in the file is kept byte for byte: comments, order,
// indentation, quoting, anchors, every document of a multi-document stream.
// Only the text of each reference changes, keeping its quotes, and the
// result is checked to parse to the same documents with the new values.
package resolve
