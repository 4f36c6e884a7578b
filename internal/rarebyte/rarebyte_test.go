package rarebyte

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestContains compares Contains with bytes.Contains on crafted inputs and
// on random ones made of the pattern's own bytes, with the pattern inserted
// in some, for patterns whose rare byte is first, inside or last.
func TestContains(t *testing.T) {
	tests := []struct {
		pattern string
		rare    int
	}{{"sts.amazonaws.com", 7}, {`"versionId"`, 8}, {"zab", 0}, {"abz", 2}, {"z", 0}}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		p := tt.pattern
		c := string(p[tt.rare])
		inputs := []string{"", p, "x" + p, p + "x", p[1:], p[:len(p)-1], strings.Repeat(c, 8) + p, p + c + c,
			p[:tt.rare] + c + p[tt.rare:], `{"a":"` + c + `","b":"` + p + `"}`}
		alphabet := p + `"{}:`
		for range 20000 {
			b := make([]byte, rng.IntN(40))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			if rng.IntN(4) == 0 {
				at := rng.IntN(len(b) + 1)
				b = append(b[:at], append([]byte(p), b[at:]...)...)
			}
			inputs = append(inputs, string(b))
		}
		for _, in := range inputs {
			if got, want := Contains([]byte(in), p, tt.rare), bytes.Contains([]byte(in), []byte(p)); got != want {
				t.Errorf("Contains(%q, %q, %d) = %v, want %v", in, p, tt.rare, got, want)
			}
		}
	}
}
