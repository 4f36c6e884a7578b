//go:build !linux

package output

// exchange reports that this system has no atomic exchange of folders.
func exchange(a, b string) error { return errNoExchange }
