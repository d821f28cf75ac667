package oci

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Created returns the creation time to stamp on layers and images: the
// SOURCE_DATE_EPOCH environment variable when it is set and not empty, else
// the Unix epoch. SOURCE_DATE_EPOCH must be a non-negative decimal number of
// seconds; anything else is an error, so a typo cannot silently change the
// digests.
func Created() (time.Time, error) {
	return createdFrom(os.Getenv("SOURCE_DATE_EPOCH"))
}

func createdFrom(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	bad := fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a non-negative whole number of seconds since the Unix epoch", v)
	for _, c := range v {
		if c < '0' || c > '9' {
			return time.Time{}, bad
		}
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, bad
	}
	t := time.Unix(sec, 0).UTC()
	if t.Year() > 9999 {
		// Image configs hold RFC 3339 times, which end at year 9999.
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: after the year 9999", v)
	}
	return t, nil
}
