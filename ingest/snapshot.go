package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/engine"
)

// Snapshot is the IAM estate that requests are evaluated against: the
// entities and policies of each account, resource policies, the
// Organizations tree and resource tags.
type Snapshot struct {
	Users    map[string]*Entity // by ARN
	Roles    map[string]*Entity // by ARN (with path)
	Groups   map[string]*Group  // by ARN
	Managed  map[string]*engine.Policy
	Resource map[string]*engine.Policy // resource policies by resource ARN
	Tags     map[string]map[string]string
	Org      *Organization
	// Accounts lists the accounts whose GAAD file was loaded.
	Accounts []string
	// Problems lists every fault found while loading: the part concerned is
	// left out or marked incomplete, the rest loads.
	Problems []Problem
	// Warnings lists what was read but may not mean what its author
	// intended: a policy element ignored where it is not allowed, or a
	// condition value its operator cannot read. Nothing is left out.
	Warnings []Problem

	rolesByName  map[string]*Entity // account + "/" + role name
	usersByName  map[string]*Entity
	groupsByName map[string]*Group
}

// Problem is one fault in the snapshot, located by file and JSON path.
type Problem struct {
	File string
	Path string
	Err  error
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s: %v", p.File, p.Path, p.Err) }

// Entity is an IAM user or role.
type Entity struct {
	ARN      string
	Name     string
	Path     string
	ID       string // AIDA… or AROA…
	Account  string
	Inline   []*engine.Policy
	Attached []string // managed policy ARNs
	Groups   []string // group names (users)
	Boundary string   // managed policy ARN, "" when none
	// Tags are the IAM tags; the aws:PrincipalTag keys of requests are made
	// from them when the snapshot is loaded.
	Tags  map[string]string
	Trust *engine.Policy // roles: the trust policy
	// Incomplete is set when a policy of the entity could not be loaded; its
	// requests cannot be decided with certainty.
	Incomplete bool

	// identity is the entity's identity policy set, its own and its groups',
	// assembled once when the snapshot is loaded.
	identity []*engine.Policy
	// tagKeys are Tags as aws:PrincipalTag condition keys, made once when
	// the snapshot is loaded.
	tagKeys []principalTag
}

// principalTag is an IAM tag of an entity with its condition key.
type principalTag struct {
	key, value string
	contextKey engine.Key // aws:PrincipalTag/key
}

// principalTags returns the entity's tags with their condition keys, made
// anew when the entity did not come from LoadSnapshot.
func (e *Entity) principalTags() []principalTag {
	if len(e.tagKeys) == len(e.Tags) {
		return e.tagKeys
	}
	return principalTagsOf(e.Tags)
}

func principalTagsOf(tags map[string]string) []principalTag {
	out := make([]principalTag, 0, len(tags))
	for k, v := range tags {
		out = append(out, principalTag{key: k, contextKey: engine.KeyOf("aws:PrincipalTag/" + k), value: v})
	}
	return out
}

// Group is an IAM group.
type Group struct {
	ARN      string
	Name     string
	Account  string
	Inline   []*engine.Policy
	Attached []string
}

// Organization is the Organizations tree with its SCPs and RCPs.
type Organization struct {
	ID                string     `json:"organizationId"`
	ManagementAccount string     `json:"managementAccountId"`
	Root              *OrgNode   `json:"root"`
	OUs               []*OrgNode `json:"ous"`
	Accounts          []*OrgNode `json:"accounts"`
	chains            map[string]*orgChain
}

// OrgNode is the root, an OU or an account, with its attached policies.
type OrgNode struct {
	ID     string         `json:"id"`
	Parent string         `json:"parent"`
	SCPs   []OrgPolicyDoc `json:"scps"`
	RCPs   []OrgPolicyDoc `json:"rcps"`
	scps   []*engine.Policy
	rcps   []*engine.Policy
}

// OrgPolicyDoc is one SCP or RCP as the snapshot gives it.
type OrgPolicyDoc struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// LoadSnapshot reads a snapshot folder: gaad-<account>.json files (at least
// one), and optionally resource-policies.json, organization.json and
// resource-tags.json. Faults in parts of files are Problems; an unreadable
// folder or no GAAD file at all is an error.
func LoadSnapshot(dir string) (*Snapshot, error) {
	s := newSnapshot()
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	gaads, err := filepath.Glob(filepath.Join(dir, "gaad-*.json"))
	if err != nil {
		return nil, err
	}
	if len(gaads) == 0 {
		return nil, fmt.Errorf("snapshot %s: no gaad-<account>.json file", dir)
	}
	sort.Strings(gaads)
	s.loadGAADs(gaads)
	if len(s.Accounts) == 0 {
		return nil, fmt.Errorf("snapshot %s: no GAAD file could be read: %v", dir, s.Problems)
	}
	// Managed policies may come from any account's file: assemble identity
	// sets once all are loaded.
	for _, e := range s.Users {
		s.assembleIdentity(e)
	}
	for _, e := range s.Roles {
		s.assembleIdentity(e)
	}
	s.loadOptional(filepath.Join(dir, "resource-policies.json"), s.loadResourcePolicies)
	s.loadOptional(filepath.Join(dir, "organization.json"), s.loadOrganization)
	s.loadOptional(filepath.Join(dir, "resource-tags.json"), s.loadResourceTags)
	return s, nil
}

// newSnapshot returns an empty snapshot.
func newSnapshot() *Snapshot {
	return &Snapshot{Users: map[string]*Entity{}, Roles: map[string]*Entity{}, Groups: map[string]*Group{},
		Managed: map[string]*engine.Policy{}, Resource: map[string]*engine.Policy{}, Tags: map[string]map[string]string{},
		rolesByName: map[string]*Entity{}, usersByName: map[string]*Entity{}, groupsByName: map[string]*Group{}}
}

// loadGAADs loads the GAAD files, in their order: each is decoded and its
// policies compiled on one of GOMAXPROCS goroutines, into a snapshot of its
// own, and the parts are merged in order, so that what a later file says
// of a policy, user, role or group replaces what an earlier one said, as
// when the files are read one after the other. An organization's estate
// is hundreds of accounts, and each file repeats the AWS managed policies
// its account uses.
func (s *Snapshot) loadGAADs(files []string) {
	parts := make([]*Snapshot, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			parts[i] = newSnapshot()
			parts[i].loadGAAD(f) // faults are the part's Problems
			return nil
		})
	}
	g.Wait()
	for _, p := range parts {
		s.merge(p)
	}
}

// merge adds what the GAAD file of part held, replacing what s held under
// the same names.
func (s *Snapshot) merge(part *Snapshot) {
	maps.Copy(s.Users, part.Users)
	maps.Copy(s.Roles, part.Roles)
	maps.Copy(s.Groups, part.Groups)
	maps.Copy(s.Managed, part.Managed)
	maps.Copy(s.rolesByName, part.rolesByName)
	maps.Copy(s.usersByName, part.usersByName)
	maps.Copy(s.groupsByName, part.groupsByName)
	s.Accounts = append(s.Accounts, part.Accounts...)
	s.Problems = append(s.Problems, part.Problems...)
	s.Warnings = append(s.Warnings, part.Warnings...)
}

func (s *Snapshot) problem(file, path string, err error) {
	s.Problems = append(s.Problems, Problem{File: file, Path: path, Err: err})
}

func (s *Snapshot) loadOptional(path string, load func(string, []byte)) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.problem(path, "$", err)
		return
	}
	load(path, data)
}

// policyDocument reads a policy document given as an object, a JSON string
// or a URL-encoded JSON string (as the IAM API returns it).
func policyDocument(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New("no policy document")
	}
	if raw[0] != '"' {
		return raw, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, err
	}
	str = strings.TrimSpace(str)
	if strings.HasPrefix(str, "%7B") || strings.HasPrefix(str, "%7b") {
		dec, err := url.QueryUnescape(str)
		if err != nil {
			return nil, fmt.Errorf("URL-encoded document: %w", err)
		}
		str = dec
	}
	return []byte(str), nil
}

func (s *Snapshot) parsePolicy(file, path, id string, typ engine.PolicyType, raw json.RawMessage) (*engine.Policy, bool) {
	doc, err := policyDocument(raw)
	if err == nil {
		var p *engine.Policy
		if p, err = engine.ParsePolicy(id, typ, doc); err == nil {
			for _, w := range p.Warnings {
				s.Warnings = append(s.Warnings, Problem{File: file, Path: path, Err: fmt.Errorf("policy %s: %s", id, w)})
			}
			return p, true
		}
	}
	s.problem(file, path, err)
	return nil, false
}

type gaadPolicy struct {
	PolicyName     string          `json:"PolicyName"`
	PolicyDocument json.RawMessage `json:"PolicyDocument"`
}

type gaadAttached struct {
	PolicyArn string `json:"PolicyArn"`
}

type gaadBoundary struct {
	PermissionsBoundaryArn string `json:"PermissionsBoundaryArn"`
}

type gaadTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type gaadFile struct {
	UserDetailList []struct {
		Path, UserName, UserId, Arn string
		UserPolicyList              []gaadPolicy
		GroupList                   []string
		AttachedManagedPolicies     []gaadAttached
		PermissionsBoundary         *gaadBoundary
		Tags                        []gaadTag
	}
	GroupDetailList []struct {
		Path, GroupName, GroupId, Arn string
		GroupPolicyList               []gaadPolicy
		AttachedManagedPolicies       []gaadAttached
	}
	RoleDetailList []struct {
		Path, RoleName, RoleId, Arn string
		AssumeRolePolicyDocument    json.RawMessage
		RolePolicyList              []gaadPolicy
		AttachedManagedPolicies     []gaadAttached
		PermissionsBoundary         *gaadBoundary
		Tags                        []gaadTag
	}
	Policies []struct {
		PolicyName, Arn, DefaultVersionId string
		PolicyVersionList                 []struct {
			Document         json.RawMessage
			VersionId        string
			IsDefaultVersion bool
		}
	}
}

func tagMap(tags []gaadTag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func attachedARNs(a []gaadAttached) []string {
	out := make([]string, 0, len(a))
	for _, x := range a {
		out = append(out, x.PolicyArn)
	}
	return out
}

func (s *Snapshot) loadGAAD(file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		s.problem(file, "$", err)
		return
	}
	var g gaadFile
	if err := json.Unmarshal(data, &g); err != nil {
		s.problem(file, "$", jsonError(data, err))
		return
	}
	account := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "gaad-"), ".json")
	s.Accounts = append(s.Accounts, account)
	for i, p := range g.Policies {
		path := fmt.Sprintf("$.Policies[%d]", i)
		var doc json.RawMessage
		for _, v := range p.PolicyVersionList {
			if v.IsDefaultVersion || (p.DefaultVersionId != "" && v.VersionId == p.DefaultVersionId) {
				doc = v.Document
				break
			}
		}
		if doc == nil {
			s.problem(file, path, fmt.Errorf("managed policy %s: the default version %q is missing", p.Arn, p.DefaultVersionId))
			continue
		}
		if pol, ok := s.parsePolicy(file, path, p.Arn, engine.PolicyIdentity, doc); ok {
			s.Managed[p.Arn] = pol
		}
	}
	inline := func(owner, path string, list []gaadPolicy, incomplete *bool) []*engine.Policy {
		var out []*engine.Policy
		for i, ip := range list {
			id := owner + "#" + ip.PolicyName
			pol, ok := s.parsePolicy(file, fmt.Sprintf("%s[%d]", path, i), id, engine.PolicyIdentity, ip.PolicyDocument)
			if !ok {
				*incomplete = true
				continue
			}
			out = append(out, pol)
		}
		return out
	}
	for i, gr := range g.GroupDetailList {
		var incomplete bool
		grp := &Group{ARN: gr.Arn, Name: gr.GroupName, Account: account, Attached: attachedARNs(gr.AttachedManagedPolicies)}
		grp.Inline = inline(gr.Arn, fmt.Sprintf("$.GroupDetailList[%d].GroupPolicyList", i), gr.GroupPolicyList, &incomplete)
		s.Groups[gr.Arn] = grp
		s.groupsByName[account+"/"+gr.GroupName] = grp
	}
	for i, u := range g.UserDetailList {
		e := &Entity{ARN: u.Arn, Name: u.UserName, Path: u.Path, ID: u.UserId, Account: account,
			Attached: attachedARNs(u.AttachedManagedPolicies), Groups: u.GroupList, Tags: tagMap(u.Tags)}
		e.Inline = inline(u.Arn, fmt.Sprintf("$.UserDetailList[%d].UserPolicyList", i), u.UserPolicyList, &e.Incomplete)
		if u.PermissionsBoundary != nil {
			e.Boundary = u.PermissionsBoundary.PermissionsBoundaryArn
		}
		s.Users[u.Arn] = e
		s.usersByName[account+"/"+u.UserName] = e
	}
	for i, r := range g.RoleDetailList {
		path := fmt.Sprintf("$.RoleDetailList[%d]", i)
		e := &Entity{ARN: r.Arn, Name: r.RoleName, Path: r.Path, ID: r.RoleId, Account: account,
			Attached: attachedARNs(r.AttachedManagedPolicies), Tags: tagMap(r.Tags)}
		e.Inline = inline(r.Arn, path+".RolePolicyList", r.RolePolicyList, &e.Incomplete)
		if r.PermissionsBoundary != nil {
			e.Boundary = r.PermissionsBoundary.PermissionsBoundaryArn
		}
		if len(r.AssumeRolePolicyDocument) > 0 {
			if pol, ok := s.parsePolicy(file, path+".AssumeRolePolicyDocument", r.Arn+"#trust", engine.PolicyResource, r.AssumeRolePolicyDocument); ok {
				e.Trust = pol
			}
		}
		s.Roles[r.Arn] = e
		s.rolesByName[account+"/"+r.RoleName] = e
	}
}

// jsonError adds the line and column of a JSON syntax or type error.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Errorf("line %d, column %d (byte %d): %w", line, col, off, err)
}

func (s *Snapshot) loadResourcePolicies(file string, data []byte) {
	var list []struct {
		ARN    string          `json:"arn"`
		Policy json.RawMessage `json:"policy"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		s.problem(file, "$", jsonError(data, err))
		return
	}
	for i, rp := range list {
		if rp.ARN == "" {
			s.problem(file, fmt.Sprintf("$[%d]", i), errors.New("no arn"))
			continue
		}
		if pol, ok := s.parsePolicy(file, fmt.Sprintf("$[%d].policy", i), rp.ARN, engine.PolicyResource, rp.Policy); ok {
			s.Resource[rp.ARN] = pol
		}
	}
}

func (s *Snapshot) loadResourceTags(file string, data []byte) {
	var list []struct {
		ARN  string            `json:"arn"`
		Tags map[string]string `json:"tags"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		s.problem(file, "$", jsonError(data, err))
		return
	}
	for _, t := range list {
		s.Tags[t.ARN] = t.Tags
	}
}

func (s *Snapshot) loadOrganization(file string, data []byte) {
	var o Organization
	if err := json.Unmarshal(data, &o); err != nil {
		s.problem(file, "$", jsonError(data, err))
		return
	}
	if o.Root == nil {
		s.problem(file, "$.root", errors.New("no root node"))
		return
	}
	nodes := map[string]*OrgNode{o.Root.ID: o.Root}
	compile := func(path string, n *OrgNode) {
		for i, d := range n.SCPs {
			if p, ok := s.parsePolicy(file, fmt.Sprintf("%s.scps[%d]", path, i), "scp:"+d.Name, engine.PolicySCP, d.Document); ok {
				n.scps = append(n.scps, p)
			}
		}
		for i, d := range n.RCPs {
			if p, ok := s.parsePolicy(file, fmt.Sprintf("%s.rcps[%d]", path, i), "rcp:"+d.Name, engine.PolicyRCP, d.Document); ok {
				n.rcps = append(n.rcps, p)
			}
		}
	}
	compile("$.root", o.Root)
	for i, n := range o.OUs {
		nodes[n.ID] = n
		compile(fmt.Sprintf("$.ous[%d]", i), n)
	}
	for i, n := range o.Accounts {
		nodes[n.ID] = n
		compile(fmt.Sprintf("$.accounts[%d]", i), n)
	}
	// The chains and paths, read for every request, are built once.
	o.chains = make(map[string]*orgChain, len(nodes))
	for id := range nodes {
		c := o.buildChain(nodes, id)
		o.chains[id] = &c
	}
	s.Org = &o
}

// orgChain is what a request needs of a node's place in the organization.
type orgChain struct {
	scps, rcps []engine.OrgLevel
	// paths holds the account's org path alone, the value of the org
	// paths keys.
	paths []string
}

// chain returns an account's chain, false when the account is not in the
// organization. It is shared: callers must not modify it.
func (o *Organization) chain(account string) (*orgChain, bool) {
	c, ok := o.chains[account]
	return c, ok
}

// Chain returns the SCP or RCP levels of an account, org root first, and
// false when the account is not in the organization.
// The levels are shared: callers must not modify them.
func (o *Organization) Chain(account string, rcp bool) ([]engine.OrgLevel, bool) {
	c, ok := o.chain(account)
	switch {
	case !ok:
		return nil, false
	case rcp:
		return c.rcps, true
	}
	return c.scps, true
}

// buildChain walks from a node up to the root.
func (o *Organization) buildChain(nodes map[string]*OrgNode, account string) orgChain {
	n := nodes[account]
	var rev []*OrgNode
	for seen := 0; n != nil && seen < 64; seen++ {
		rev = append(rev, n)
		if n.Parent == "" {
			break
		}
		n = nodes[n.Parent]
	}
	var c orgChain
	var path strings.Builder
	path.WriteString(o.ID)
	path.WriteByte('/')
	for i := len(rev) - 1; i >= 0; i-- {
		c.scps = append(c.scps, engine.OrgLevel{ID: rev[i].ID, Policies: rev[i].scps})
		c.rcps = append(c.rcps, engine.OrgLevel{ID: rev[i].ID, Policies: rev[i].rcps})
		path.WriteString(rev[i].ID)
		path.WriteByte('/')
	}
	c.paths = []string{path.String()}
	return c
}

// Path returns the org path of an account (o-id/r-root/ou-…/account/), as
// aws:PrincipalOrgPaths and aws:ResourceOrgPaths give it.
func (o *Organization) Path(account string) (string, bool) {
	c, ok := o.chain(account)
	if !ok {
		return "", false
	}
	return c.paths[0], true
}

// RoleByName finds a role by account and name (a session ARN carries no path).
func (s *Snapshot) RoleByName(account, name string) (*Entity, bool) {
	e, ok := s.rolesByName[account+"/"+name]
	return e, ok
}

// UserByName finds a user by account and name.
func (s *Snapshot) UserByName(account, name string) (*Entity, bool) {
	e, ok := s.usersByName[account+"/"+name]
	return e, ok
}

// IAMPath returns the path of a role or user ("role" or "user") by account
// and name; it is an IAMPathLookup.
func (s *Snapshot) IAMPath(account, kind, name string) (string, bool) {
	var e *Entity
	var ok bool
	switch kind {
	case "role":
		e, ok = s.RoleByName(account, name)
	case "user":
		e, ok = s.UserByName(account, name)
	}
	if !ok || e.Path == "" {
		return "", false
	}
	return e.Path, true
}
