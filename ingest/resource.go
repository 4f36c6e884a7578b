package ingest

import (
	"iter"
	"strings"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/internal/rarebyte"
)

// ResourceSource tells where a request's resource ARN came from.
type ResourceSource uint8

// Resource sources, from most to least certain.
const (
	// ResourceNone: the action takes no resource; the resource is "*".
	ResourceNone ResourceSource = iota
	// ResourceFromRecord: an ARN of the record's resources list.
	ResourceFromRecord
	// ResourceFromParameters: an ARN in, or built from, requestParameters.
	ResourceFromParameters
	// ResourcePartial: part of the ARN is not in the record; the resource is
	// a pattern that covers the real one.
	ResourcePartial
	// ResourceUnresolved: the action is not in the catalogue, so no ARN
	// template is known; the resource is the pattern "*".
	ResourceUnresolved
)

var resourceSourceNames = [...]string{"none", "record", "parameters", "partial", "unresolved"}

func (s ResourceSource) String() string { return resourceSourceNames[s] }

// ResolvedResource is the resource one action of a record was authorized
// against.
type ResolvedResource struct {
	// ARN is the resource, a pattern when Partial.
	ARN string
	// Partial means ARN is a pattern that covers the resource without
	// naming it (engine.Request.ResourcePartial).
	Partial bool
	// Account owns the resource; "" when the record does not say.
	Account string
	Source  ResourceSource
}

// IAMPathLookup returns the path ("/", "/division/") of an IAM role or user
// by account and name; IAM ARNs include it but most IAM calls log only the
// name. kind is "role" or "user".
type IAMPathLookup func(account, kind, name string) (path string, ok bool)

// ResourceResolver builds the resource ARN of each action of a record from
// the record's resources list, its request parameters and the action's ARN
// templates in the catalogue. It caches templates and is not safe for
// concurrent use: give each goroutine its own.
type ResourceResolver struct {
	cat      *catalog.Catalog
	iamPaths IAMPathLookup
	// actions holds what the resolver looked up of each action name it
	// was asked about: a few hundred entries stay in the processor's
	// caches, where the catalogue's table of every action does not.
	actions map[string]actionTemplates
	params  requestParams // of the record being resolved
	arns    []Resource    // ARNs among them
}

// NewResourceResolver returns a resolver over cat. paths may be nil.
func NewResourceResolver(cat *catalog.Catalog, paths IAMPathLookup) *ResourceResolver {
	return &ResourceResolver{cat: cat, iamPaths: paths, actions: map[string]actionTemplates{}}
}

// actionTemplates is an action of the catalogue (nil when it has none of
// the name) and its ARN templates.
type actionTemplates struct {
	action    *catalog.Action
	templates []template
}

// maxKnownActions bounds the action names a resolver remembers: those of
// a log that names more than this are looked up anew each time.
const maxKnownActions = 4096

// action returns the catalogue's action of the name, with its templates.
func (r *ResourceResolver) action(name string) (*catalog.Action, []template, bool) {
	if at, ok := r.actions[name]; ok {
		return at.action, at.templates, at.action != nil
	}
	var at actionTemplates
	if a, ok := r.cat.Action(name); ok {
		at = actionTemplates{action: a, templates: templatesOf(a)}
	}
	if len(r.actions) < maxKnownActions {
		r.actions[strings.Clone(name)] = at
	}
	return at.action, at.templates, at.action != nil
}

// template is one ARN template split into literal text and variables.
type template struct {
	typ      string
	required bool
	parts    []tplPart
	literals int // literal characters, to prefer the most specific match
}

type tplPart struct {
	text  string // literal text, or the variable name
	lname string // the variable name in lower case
	isVar bool
}

func parseTemplate(typ string, required bool, s string) template {
	t := template{typ: typ, required: required}
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			t.parts = append(t.parts, tplPart{text: s})
			t.literals += len(s)
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{text: s[:i]})
			t.literals += i
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			t.parts = append(t.parts, tplPart{text: s[i:]})
			break
		}
		name := s[i+2 : i+j]
		t.parts = append(t.parts, tplPart{text: name, lname: strings.ToLower(name), isVar: true})
		s = s[i+j+1:]
	}
	return t
}

// templatesOf returns an action's ARN templates, required types first and
// types named in the action's name (the instance of RunInstances, the
// object of PutObject) before others.
func templatesOf(a *catalog.Action) []template {
	// Rank: required and named, required, named, the rest.
	var ranked [4][]template
	lname := strings.ToLower(a.Name)
	for _, ref := range a.Resources {
		arn, ok := a.Service.ResourceTypes[ref.Type]
		if !ok {
			continue
		}
		t := parseTemplate(ref.Type, ref.Required, arn)
		rank := 3
		named := strings.Contains(lname, strings.ToLower(strings.ReplaceAll(ref.Type, "-", "")))
		switch {
		case ref.Required && named:
			rank = 0
		case ref.Required:
			rank = 1
		case named:
			rank = 2
		}
		ranked[rank] = append(ranked[rank], t)
	}
	return append(append(append(ranked[0], ranked[1]...), ranked[2]...), ranked[3]...)
}

// match reports whether arn fits the template. A variable matches one or
// more characters other than ':', except the last part of the template,
// which matches the rest. The partition, region and account parts may be
// empty where the template leaves them empty.
func (t *template) match(arn string) bool {
	s := arn
	for i, p := range t.parts {
		last := i == len(t.parts)-1
		if !p.isVar {
			if !strings.HasPrefix(s, p.text) {
				return false
			}
			s = s[len(p.text):]
			continue
		}
		if last {
			return s != ""
		}
		// The variable runs up to the next literal part.
		if t.parts[i+1].isVar {
			return false
		}
		next := t.parts[i+1].text
		stop := strings.Index(s, next)
		if stop <= 0 || strings.IndexByte(s[:stop], ':') >= 0 {
			return false
		}
		s = s[stop:]
	}
	return s == ""
}

// Resolve returns the resource the record's call was authorized against for
// action (a catalogue action name), and the actions it implies may differ
// by parameters, see RefineActions.
func (r *ResourceResolver) Resolve(rec *Record, action string) ResolvedResource {
	a, ts, ok := r.action(action)
	if !ok {
		return ResolvedResource{ARN: "*", Partial: true, Account: rec.RecipientAccountID, Source: ResourceUnresolved}
	}
	if a.WildcardOnly() {
		return ResolvedResource{ARN: "*", Account: rec.RecipientAccountID, Source: ResourceNone}
	}
	if len(ts) == 0 {
		return ResolvedResource{ARN: "*", Partial: true, Account: rec.RecipientAccountID, Source: ResourceUnresolved}
	}
	// 1. An ARN of the record's resources list that fits a template.
	if res, ok := bestFit(ts, rec.Resources); ok {
		res.Source = ResourceFromRecord
		return res
	}
	params := &r.params
	params.parse(rec.RequestParameters)
	// 2. An ARN among the parameters that fits a template.
	r.arns = r.arns[:0]
	params.values(func(v string) {
		if strings.HasPrefix(v, "arn:") {
			r.arns = append(r.arns, Resource{ARN: v})
		}
	})
	if res, ok := bestFit(ts, r.arns); ok {
		res.Source = ResourceFromParameters
		return res
	}
	// 3. The template the parameters fill best; what they do not give
	// becomes a wildcard.
	best, bestMissing := ResolvedResource{}, -1
	for i := range ts {
		res, missing := r.fill(&ts[i], rec, params)
		if bestMissing < 0 || missing < bestMissing {
			best, bestMissing = res, missing
		}
	}
	return best
}

// bestFit returns the resource that fits the most specific template, the
// account taken from its entry, from an entry whose ARN is a prefix of it
// (the bucket of an object), or from the ARN.
func bestFit(ts []template, resources []Resource) (ResolvedResource, bool) {
	best, _ := bestIndex(ts, resources)
	if best < 0 {
		return ResolvedResource{}, false
	}
	return resolvedAt(resources, best), true
}

// bestIndex returns the index of the first resource that fits the most
// specific template, and its fitScore; -1, -1 when none fits.
func bestIndex(ts []template, resources []Resource) (best, bestScore int) {
	best, bestScore = -1, -1
	for i := range resources {
		if score := fitScore(ts, resources[i].ARN); score > bestScore {
			best, bestScore = i, score
		}
	}
	return best, bestScore
}

// fitScore rates how well arn fits the best of the templates, -1 when it
// fits none: a required type first, then the longest literal text.
func fitScore(ts []template, arn string) int {
	best := -1
	for ti := range ts {
		if ts[ti].match(arn) {
			score := ts[ti].literals
			if ts[ti].required {
				score += 1 << 20
			}
			best = max(best, score)
		}
	}
	return best
}

// resolvedAt is the resources list's ith resource, with its account: its
// own, that of a resource it is part of, or its ARN's.
func resolvedAt(resources []Resource, i int) ResolvedResource {
	res := ResolvedResource{ARN: resources[i].ARN, Account: resources[i].AccountID}
	if res.Account == "" {
		for _, o := range resources {
			if o.AccountID != "" && strings.HasPrefix(res.ARN, o.ARN) {
				res.Account = o.AccountID
				break
			}
		}
	}
	if res.Account == "" {
		res.Account = arnAccount(res.ARN)
	}
	return res
}

// EachFit yields, for a call that acts on every resource its record lists
// (a DynamoDB batch over several tables), each resource of the list that
// fits the action as well as the best one does and is of its type (a
// template's last variable also matches what follows the resource, an
// index after its table), in the list's order.
func (r *ResourceResolver) EachFit(rec *Record, action string) iter.Seq[ResolvedResource] {
	return func(yield func(ResolvedResource) bool) {
		_, ts, ok := r.action(action)
		if !ok {
			return
		}
		first, best := bestIndex(ts, rec.Resources)
		if first < 0 {
			return
		}
		for i := range rec.Resources {
			if fitScore(ts, rec.Resources[i].ARN) != best || rec.Resources[i].Type != rec.Resources[first].Type {
				continue
			}
			res := resolvedAt(rec.Resources, i)
			res.Source = ResourceFromRecord
			if !yield(res) {
				return
			}
		}
	}
}

// arnAccount returns the account field of an ARN, "" when it has none.
func arnAccount(arn string) string {
	rest := arn
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	acct, _, ok := strings.Cut(rest, ":")
	if !ok || acct == "aws" {
		return ""
	}
	return acct
}

// partition returns the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	}
	return "aws"
}

// paramAliases lists, per template variable (lower case), the parameter
// names (lower case) that carry it when the parameter named like the
// variable is missing.
var paramAliases = map[string][]string{
	"objectname":                    {"key"},
	"bucketname":                    {"bucket"},
	"rolenamewithpath":              {"rolename"},
	"usernamewithpath":              {"username"},
	"groupnamewithpath":             {"groupname"},
	"policynamewithpath":            {"policyname"},
	"instanceprofilenamewithpath":   {"instanceprofilename"},
	"servercertificatenamewithpath": {"servercertificatename"},
	"loggroupname":                  {"loggroupidentifier"},
	"clustername":                   {"cluster"},
	"parametername":                 {"name"},
	"alias":                         {"aliasname"},
}

// fill builds an ARN from a template and the request parameters. Variables
// the parameters do not give become "*", counted in missing, and the result
// is partial.
func (r *ResourceResolver) fill(t *template, rec *Record, params *requestParams) (res ResolvedResource, missing int) {
	res.Source = ResourceFromParameters
	account := rec.RecipientAccountID
	var b strings.Builder
	b.Grow(t.literals + 64)
	for _, p := range t.parts {
		if !p.isVar {
			b.WriteString(p.text)
			continue
		}
		v, exact, ok := r.variable(p.lname, rec, params, account)
		if !ok {
			b.WriteByte('*')
			res.Partial = true
			missing++
			continue
		}
		b.WriteString(v)
		res.Partial = res.Partial || !exact
	}
	res.ARN = b.String()
	if res.Partial {
		res.Source = ResourcePartial
	}
	res.Account = arnAccount(res.ARN)
	if res.Account == "*" {
		res.Account = ""
	}
	if res.Account == "" {
		// The template has no account (S3 buckets and objects); the
		// record's resources list may name the owner.
		for _, o := range rec.Resources {
			if o.AccountID != "" && (strings.HasPrefix(res.ARN, o.ARN) || strings.HasPrefix(o.ARN, strings.TrimSuffix(res.ARN, "*"))) {
				res.Account = o.AccountID
				break
			}
		}
	}
	return res, missing
}

// variable returns the value of one template variable, named in lower
// case; exact is false when the value is a pattern.
func (r *ResourceResolver) variable(lname string, rec *Record, params *requestParams, account string) (v string, exact, ok bool) {
	v, ok = r.value(lname, rec, params, account)
	if ok && lname == "secretid" {
		// A secret named without its ARN: the ARN adds a dash and six
		// random characters.
		return v + "-??????", false, true
	}
	return v, true, ok
}

// value returns the value of one template variable, named in lower case.
func (r *ResourceResolver) value(lname string, rec *Record, params *requestParams, account string) (string, bool) {
	switch lname {
	case "partition":
		return partition(rec.AWSRegion), true
	case "region":
		return rec.AWSRegion, rec.AWSRegion != ""
	case "account":
		return account, account != ""
	}
	v := params.get(lname)
	for _, k := range paramAliases[lname] {
		if v != "" {
			break
		}
		v = params.get(k)
	}
	if v == "" && lname == "usernamewithpath" && rec.UserIdentity.Type == "IAMUser" {
		// IAM user calls without a user name act on the calling user.
		if _, rest, found := strings.Cut(rec.UserIdentity.ARN, ":user/"); found && arnAccount(rec.UserIdentity.ARN) == account {
			return rest, true
		}
	}
	if v == "" {
		// SQS and SNS name their queue and topic by URL and ARN.
		switch lname {
		case "queuename":
			return lastPart(params.get("queueurl"), '/')
		case "topicname":
			return lastPart(params.get("topicarn"), ':')
		}
		return "", false
	}
	if strings.HasPrefix(v, "arn:") || (lname == "keyid" && strings.HasPrefix(v, "alias/")) {
		// An ARN that fits none of the action's templates (Resolve tried
		// them), or a KMS alias where the key is wanted: the name is not
		// known.
		return "", false
	}
	if strings.HasSuffix(lname, "withpath") {
		kind := strings.TrimSuffix(lname, "namewithpath")
		if kind == "role" || kind == "user" {
			if r.iamPaths == nil {
				return "", false
			}
			path, found := r.iamPaths(account, kind, v)
			if !found {
				return "", false
			}
			return strings.TrimPrefix(path, "/") + v, true
		}
		if p := params.get("path"); p != "" {
			return strings.TrimPrefix(p, "/") + v, true
		}
		return "", false
	}
	return v, true
}

// lastPart returns what follows the last sep in s, false when nothing does.
func lastPart(s string, sep byte) (string, bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 || i == len(s)-1 {
		return "", false
	}
	return s[i+1:], true
}

// versionedS3Actions maps S3 object actions to the action a call with a
// versionId parameter is authorized as.
var versionedS3Actions = map[string]string{
	"s3:GetObject":           "s3:GetObjectVersion",
	"s3:DeleteObject":        "s3:DeleteObjectVersion",
	"s3:GetObjectAcl":        "s3:GetObjectVersionAcl",
	"s3:PutObjectAcl":        "s3:PutObjectVersionAcl",
	"s3:GetObjectTagging":    "s3:GetObjectVersionTagging",
	"s3:PutObjectTagging":    "s3:PutObjectVersionTagging",
	"s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
	"s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
	"s3:RestoreObject":       "s3:RestoreObject",
}

// RefineActions adjusts mapped actions for parameters that change the
// action a call is authorized as: an S3 object call that names a version
// needs the ...Version action.
func RefineActions(rec *Record, actions []string) []string {
	if (rec.EventName == "CopyObject" || rec.EventName == "UploadPartCopy") && len(actions) == 2 && actions[1] == "s3:GetObject" {
		// The copy source names a version: reading it needs GetObjectVersion.
		var params requestParams
		params.parse(rec.RequestParameters)
		if src := params.get("x-amz-copy-source"); strings.Contains(src, "versionId=") {
			return []string{actions[0], "s3:GetObjectVersion"}
		}
		return actions
	}
	if len(actions) == 0 || !strings.HasPrefix(actions[0], "s3:") || !hasVersionedAction(actions) || !mentionsVersionID(rec.RequestParameters) {
		return actions
	}
	var params requestParams
	params.parse(rec.RequestParameters)
	if v := params.get("versionid"); v == "" || v == "null" {
		return actions
	}
	out := make([]string, len(actions))
	for i, a := range actions {
		if v, ok := versionedS3Actions[a]; ok {
			out[i] = v
		} else {
			out[i] = a
		}
	}
	return out
}

// hasVersionedAction reports whether an action has a ...Version action of
// its own (see versionedS3Actions).
func hasVersionedAction(actions []string) bool {
	for _, a := range actions {
		if _, ok := versionedS3Actions[a]; ok {
			return true
		}
	}
	return false
}

// mentionsVersionID reports whether raw holds "versionId" in quotes, as
// bytes.Contains does, but faster on JSON: it looks for the pattern's 'I',
// which few parameters hold, rather than its first byte, a quote.
func mentionsVersionID(raw []byte) bool { return rarebyte.Contains(raw, `"versionId"`, 8) }

// Wildcard returns a pattern over every resource the action takes, for an
// action whose resource the record does not show: its first ARN template
// with each variable but the partition a wildcard.
func (r *ResourceResolver) Wildcard(rec *Record, action string) ResolvedResource {
	a, ts, ok := r.action(action)
	if !ok {
		return ResolvedResource{ARN: "*", Partial: true, Source: ResourceUnresolved}
	}
	if a.WildcardOnly() {
		return ResolvedResource{ARN: "*", Account: rec.RecipientAccountID, Source: ResourceNone}
	}
	if len(ts) == 0 {
		return ResolvedResource{ARN: "*", Partial: true, Source: ResourceUnresolved}
	}
	var b strings.Builder
	for _, p := range ts[0].parts {
		switch {
		case !p.isVar:
			b.WriteString(p.text)
		case strings.EqualFold(p.text, "Partition"):
			b.WriteString(partition(rec.AWSRegion))
		default:
			b.WriteByte('*')
		}
	}
	return ResolvedResource{ARN: b.String(), Partial: true, Source: ResourcePartial}
}
