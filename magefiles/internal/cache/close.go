package cache

import "context"

// Stats are the counters of a cache's remote tier.
type Stats struct {
	// Puts and PutBytes count the entries Put stored and the bytes of their outputs.
	Puts, PutBytes int64
	// RemoteHits counts the entries fetched from the remote tier, checked and stored
	// locally; RemoteMisses the lookups the remote tier had no entry for.
	RemoteHits, RemoteMisses int64
	// Damaged counts the remote entries ignored because they failed a check.
	Damaged int64
	// Uploads counts the entries uploaded.
	Uploads int64
	// UploadedBytes counts the blob bytes sent; PresentBytes those not sent because the
	// registry already had them; DownloadedBytes those fetched.
	UploadedBytes, PresentBytes, DownloadedBytes int64
	// Abandoned counts the uploads Close gave up.
	Abandoned int
	// Disabled says why the remote tier was turned off, or is empty.
	Disabled string
}

// Stats returns the remote tier's counters; all zero without one.
func (c *Cache) Stats() Stats {
	t := c.remote
	if t == nil {
		return Stats{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Puts:            t.stats.puts.Load(),
		PutBytes:        t.stats.putBytes.Load(),
		RemoteHits:      t.stats.hits.Load(),
		RemoteMisses:    t.stats.misses.Load(),
		Damaged:         t.stats.damaged.Load(),
		Uploads:         t.stats.uploads.Load(),
		UploadedBytes:   t.stats.uploadedBytes.Load(),
		PresentBytes:    t.stats.presentBytes.Load(),
		DownloadedBytes: t.stats.downBytes.Load(),
		Abandoned:       t.abandoned,
		Disabled:        t.disabled,
	}
}

// Close waits for the remote tier's uploads under way to finish. When ctx ends first,
// as on an interrupt, it abandons them and says so in the log. After Close, Put uploads
// nothing and lookups no longer reach the remote tier; the local cache still works.
// Close never fails: a remote tier that cannot be written only costs its time budget.
// Without a remote tier it does nothing.
func (c *Cache) Close(ctx context.Context) {
	if c.remote != nil {
		c.remote.wait(ctx)
	}
}

// Remote returns the remote tier's repository, <registry>/<repository>, or "" without
// one.
func (c *Cache) Remote() string {
	if c.remote == nil {
		return ""
	}
	return c.remote.o.repo.Name()
}
