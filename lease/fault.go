package lease

import (
	"errors"
	"fmt"
	"time"
)

// Storage faults. When a store cannot write (a full or failing disk, a
// lost database), it refuses commits with a *FaultError until it recovers,
// and reports each step of the episode as a FaultEvent. What the server
// does meanwhile (stop serving, exit) is its policy, not the store's.

// ErrStorage is wrapped by every error of a commit refused because the
// lease file could not be written (see FaultError).
var ErrStorage = errors.New("lease file cannot be written")

// FaultKind says what a FaultEvent reports.
type FaultKind uint8

// Fault event kinds, in the order an episode produces them.
const (
	// FaultFailed: a write or sync failed; the store refuses commits from
	// now until FaultRecovered. Reported once per episode.
	FaultFailed FaultKind = iota + 1
	// FaultRefused: Refused commits got an error (the failing batch, or
	// commits arriving while failed).
	FaultRefused
	// FaultRetry: a recovery attempt failed; Err is its error.
	FaultRetry
	// FaultExhausted: RetryLimit attempts have failed. Reported once per
	// episode; the store goes on retrying.
	FaultExhausted
	// FaultRecovered: an attempt succeeded and commits are accepted again.
	FaultRecovered
)

// String names the kind for logs.
func (k FaultKind) String() string {
	switch k {
	case FaultFailed:
		return "failed"
	case FaultRefused:
		return "refused"
	case FaultRetry:
		return "retry"
	case FaultExhausted:
		return "exhausted"
	case FaultRecovered:
		return "recovered"
	}
	return fmt.Sprintf("FaultKind(%d)", k)
}

// FaultEvent is one step of a storage fault episode.
type FaultEvent struct {
	Kind     FaultKind
	Path     string    // the live lease file
	Err      error     // the fault (Failed, Refused), the attempt's error (Retry, Exhausted)
	Since    time.Time // when the episode began
	Attempts int       // recovery attempts so far in this episode
	Refused  int       // commits refused (FaultRefused)
}

// FaultError is the error of a commit refused because of a storage fault:
// its batch failed to reach the disk, or an earlier failure has not been
// recovered yet. Nothing of the commit was applied.
type FaultError struct {
	Path  string
	Err   error     // the write or sync error that started the episode
	Since time.Time // when the episode began
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("lease file %s cannot be written, commit refused: %v", e.Path, e.Err)
}

// Unwrap lets errors.Is find ErrStorage and the underlying errno.
func (e *FaultError) Unwrap() []error { return []error{ErrStorage, e.Err} }
