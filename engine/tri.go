package engine

// Tri is a three-valued (Kleene) truth value: a condition over a context key
// whose presence or value the caller does not know evaluates to Unknown.
type Tri uint8

// The three truth values.
const (
	False Tri = iota
	True
	Unknown
)

func triOf(b bool) Tri {
	if b {
		return True
	}
	return False
}

// And is Kleene conjunction: False wins over Unknown, Unknown over True.
func (t Tri) And(u Tri) Tri {
	if t == False || u == False {
		return False
	}
	if t == Unknown || u == Unknown {
		return Unknown
	}
	return True
}

// Or is Kleene disjunction: True wins over Unknown, Unknown over False.
func (t Tri) Or(u Tri) Tri {
	if t == True || u == True {
		return True
	}
	if t == Unknown || u == Unknown {
		return Unknown
	}
	return False
}

// Not is Kleene negation; the negation of Unknown is Unknown.
func (t Tri) Not() Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

func (t Tri) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}
