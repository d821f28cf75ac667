// Package oci builds the images minimal publishes: deterministic tar layers,
// one FROM-scratch image per platform, and the multi-platform index that
// holds them.
//
// Everything here is a pure function of its inputs. The same files, modes,
// configuration and creation time give the same digests on any machine, in
// any directory, on any day: layer entries are sorted, owned by uid and gid 0
// with no user or group names, stamped with one modification time and fixed
// modes, and compressed with a fixed gzip level. Media types are OCI
// throughout (index, manifest, config and layers), because strict tools such
// as umoci refuse a manifest that mixes OCI and Docker types.
//
// The layering follows ko: a binary lives at /ko-app/<name> in a layer of its
// own, an app's data directory is copied to /var/run/ko in another, and the
// layer that changes most often comes last.
package oci
