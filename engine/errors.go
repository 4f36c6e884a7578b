package engine

import (
	"errors"
	"fmt"
)

// ErrMalformedPolicy is the category of every policy document that cannot be
// parsed or compiled; test for it with errors.Is.
var ErrMalformedPolicy = errors.New("malformed policy")

// PolicyError describes a fault in a policy document: the policy's id, the
// JSON path of the faulty element and its byte offset in the document.
type PolicyError struct {
	PolicyID string
	Path     string
	Offset   int64
	Msg      string
}

func (e *PolicyError) Error() string {
	id := e.PolicyID
	if id == "" {
		id = "policy"
	}
	return fmt.Sprintf("%s: %s (at %s, byte %d)", id, e.Msg, e.Path, e.Offset)
}

// Is makes every PolicyError match ErrMalformedPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrMalformedPolicy }

// errorf builds an error for a fault whose position the caller adds.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
