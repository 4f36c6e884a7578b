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
	// reads, when set, records what the decisions read (see RecordReads).
	reads *SweepReads
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
	if s.reads == nil {
		return authorizePrepared(&pr, s.ps, &es)
	}
	es.callerNamed = &s.reads.callerNamed
	ctx := s.req.Context
	if ctx == nil {
		return authorizePrepared(&pr, s.ps, &es)
	}
	ctx.reads = &s.reads.log
	d := authorizePrepared(&pr, s.ps, &es)
	ctx.reads = nil
	return d
}

// RecordReads makes the sweep record, from its next decision on, what its
// decisions read of the request, for Reads.
func (s *ActionSweep) RecordReads() {
	s.reads = &SweepReads{caller: callerClassOf(&s.takes), resource: s.req.Resource, partial: s.req.ResourcePartial,
		noContext: s.req.Context == nil}
}

// Reads returns what the decisions since RecordReads read of the request;
// nil when the sweep was not recording.
func (s *ActionSweep) Reads() *SweepReads { return s.reads }

// SweepReads is what the decisions of an ActionSweep read of their request
// besides the action: the class of the caller (its kind, whether it is a
// service-linked role, whether the resource is in its account), whether a
// policy's Principal element was matched against the caller, the resource,
// and every context key looked up with the answer found. Evaluation reads
// nothing else of a request, so a sweep of another request under the same
// policy set decides every action as the recorded one did when the other
// request gives the same answers (Holds). The policies themselves must be
// the same, or compile alike (Policy.Digest); the decisions then name the
// same statements by position.
type SweepReads struct {
	caller      callerClass
	resource    string
	partial     bool
	noContext   bool
	callerNamed bool
	log         readLog
}

// callerClass is what evaluation reads of a caller outside its context,
// when no Principal element is matched against it.
type callerClass struct {
	kind          PrincipalKind
	serviceLinked bool
	sameAccount   bool
}

func callerClassOf(pr *preparedRequest) callerClass {
	return callerClass{kind: pr.id.kind, serviceLinked: pr.id.serviceLinked, sameAccount: pr.sameAccount}
}

// Holds reports whether a sweep of req under the policy set of the recorded
// sweep (or one of policies that compile alike) makes the recorded sweep's
// decisions: false when a Principal element was matched against the
// recorded caller, or req differs from the recorded request in anything the
// decisions read.
func (r *SweepReads) Holds(req *Request) bool {
	if r.callerNamed || req.Resource != r.resource || req.ResourcePartial != r.partial || (req.Context == nil) != r.noContext {
		return false
	}
	pr := preparedRequest{req: req}
	pr.prepareResourceRef(false)
	pr.prepareCaller()
	if callerClassOf(&pr) != r.caller {
		return false
	}
	v := variant{reads: r.log.reads}
	return req.Context == nil || v.matches(req.Context)
}
