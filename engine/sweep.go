package engine

import "github.com/replay-iam/replay/catalog"

// ActionSweep decides one request for one action after another, as
// effective permissions ask of every action a principal's policies name.
// The caller and the resource are prepared once, and each action comes
// from the catalogue, whose entry tells its service and whether it takes a
// resource without a lookup by name: preparing is a third of the cost of
// a decision on the resource "*".
//
// Its decisions are those of Authorize on the request with Action set to
// the action's full name, provided the action is one of the default
// catalogue's (catalog.Default), which Authorize consults. An ActionSweep
// is not safe for concurrent use.
type ActionSweep struct {
	req Request
	ps  *PolicySet
	// takes is the request prepared for an action that takes resources,
	// none for one that takes none; they differ only on the resource "*",
	// which stands for the pseudo-resource of an action that takes none.
	takes, none preparedRequest
}

// NewActionSweep prepares req, whose Action is ignored, for decisions
// under ps. The sweep keeps its own copy of req.
func NewActionSweep(req *Request, ps *PolicySet) *ActionSweep {
	s := &ActionSweep{req: *req, ps: ps}
	s.req.Action = ""
	s.takes = preparedRequest{req: &s.req}
	s.takes.prepareResourceRef(false)
	s.takes.prepareCaller()
	s.none = preparedRequest{req: &s.req}
	s.none.prepareResourceRef(true)
	s.none.prepareCaller()
	return s
}

// Authorize decides the request for action a.
func (s *ActionSweep) Authorize(a *catalog.Action) Decision {
	s.req.Action = a.FullName()
	pr := s.takes
	if a.WildcardOnly() {
		pr = s.none
	}
	pr.action, pr.service = s.req.Action, a.Service.Prefix
	es := evalState{compat: &s.ps.Compat}
	return authorizePrepared(&pr, s.ps, &es)
}
