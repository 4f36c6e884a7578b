// Package rarebyte finds a fixed pattern in JSON text faster than
// bytes.Contains when the pattern's first byte is common there (a quote, a
// letter of "amazonaws") but one of its other bytes is rare.
package rarebyte

import "bytes"

// Contains reports whether s holds pattern, as bytes.Contains does. It
// searches for pattern[rare], a byte the caller knows to be rare in s, and
// compares the pattern around each one it finds. It panics when rare is not
// an index of pattern.
func Contains(s []byte, pattern string, rare int) bool {
	c := pattern[rare]
	for i := rare; i < len(s); i++ {
		j := bytes.IndexByte(s[i:], c)
		if j < 0 {
			return false
		}
		i += j
		if start := i - rare; start+len(pattern) <= len(s) && string(s[start:start+len(pattern)]) == pattern {
			return true
		}
	}
	return false
}
