// Package attest describes a built image in documents that travel with it:
// an SPDX 2.3 software bill of materials, an in-toto statement with a SLSA
// provenance v1 predicate, and cosign signatures.
//
// Every document is made from plain values that the build fills in
// (Input, Binary) and from the image itself, and from nothing else: no clock
// but the creation time the build stamps on its images (SOURCE_DATE_EPOCH),
// no host name, no random number. The same build gives the same bytes and so
// the same digests on any machine, on any day. Signatures are deterministic
// too (RFC 6979).
//
// The SBOM and the provenance are attached to the platform image they
// describe as OCI 1.1 referrers: Referrers returns artifact manifests whose
// subject is the image manifest, which the publish package writes into the
// OCI layout and pushes to registries.
//
// The description of the binary has to be taken before shrinking: a packed
// binary has no Go build information left to read. Describe reads it from
// the compiled bytes, and records the digest and size of the binary after
// each shrink pass, so that the documents still say what a packed or
// sstripped binary is made of.
package attest
