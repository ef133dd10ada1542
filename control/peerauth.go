package control

import (
	"crypto/sha256"
	"crypto/subtle"

	"xdhcp/config"
)

// Credentials is a set of HTTP basic-auth user/password pairs checked by
// digest: both sides of a comparison are SHA-256 sums of equal length, so
// neither the time taken nor an early exit tells how long the password
// is, how much of it matched, or which users exist.
type Credentials struct {
	realm string
	pairs []digestPair
	// equal compares two digests; nil means subtle.ConstantTimeCompare.
	// Tests put a recorder here to see what is compared.
	equal func(x, y []byte) int
}

type digestPair struct{ user, password [sha256.Size]byte }

// NewCredentials returns an empty set that answers with realm in
// WWW-Authenticate.
func NewCredentials(realm string) *Credentials {
	if realm == "" {
		realm = defaultRealm
	}
	return &Credentials{realm: realm}
}

// LoadCredentials reads a Kea "authentication" block (its user and
// password files included) into a set.
func LoadCredentials(cfg *config.Authentication) (*Credentials, error) {
	a, err := loadAuth(cfg)
	if err != nil {
		return nil, err
	}
	return a.creds, nil
}

// Add accepts user with password.
func (c *Credentials) Add(user, password string) {
	c.pairs = append(c.pairs, digestPair{sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))})
}

// Merge adds every pair of o.
func (c *Credentials) Merge(o *Credentials) {
	if o != nil {
		c.pairs = append(c.pairs, o.pairs...)
	}
}

// Len is the number of pairs.
func (c *Credentials) Len() int { return len(c.pairs) }

// Realm is the realm sent in WWW-Authenticate.
func (c *Credentials) Realm() string { return c.realm }

// Check reports whether user and password are one of the pairs. Every
// pair is compared, whatever matched.
func (c *Credentials) Check(user, password string) bool {
	equal := c.equal
	if equal == nil {
		equal = subtle.ConstantTimeCompare
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	match := 0
	for i := range c.pairs {
		match |= equal(u[:], c.pairs[i].user[:]) & equal(p[:], c.pairs[i].password[:])
	}
	return match == 1
}
