package ingest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/replay-iam/replay/engine"
)

// BuildContext derives the condition keys a record determines. Keys the
// record shows are present; keys AWS would not have set for this caller are
// absent; everything else is unknown (the context's default).
func BuildContext(rec *Record, p *engine.Principal, resourceAccount string) *engine.Context {
	ctx := engine.NewContext()
	FillContext(ctx, rec, p, resourceAccount)
	return ctx
}

// FillContext is BuildContext into an empty (new or reset) context.
func FillContext(ctx *engine.Context, rec *Record, p *engine.Principal, resourceAccount string) {
	var keys recordKeys
	fillContext(ctx, rec, p, resourceAccount, &keys)
	ctx.FillDeferred() // keys lives no longer than this call
}

// recordKeys gives the keys of a record's context that fillContext
// defers (see engine.Context.Defer): the time keys and the request tags,
// which few policies read and which cost more to derive than the others.
// It is valid while rec is.
type recordKeys struct {
	rec   *Record
	times timeStrings
}

// The parts of a context recordKeys gives.
const (
	partTime = iota
	partRequestTags
)

// The keys of each part.
var (
	timeKeys       = []engine.Key{keyCurrentTime, keyEpochTime}
	requestTagKeys = []engine.Key{keyTagKeys, prefixRequestTag}
)

// SetKeys sets the keys of one part, as engine.KeySource.
func (k *recordKeys) SetKeys(ctx *engine.Context, part int) {
	switch part {
	case partTime:
		current, epoch := k.times.at(k.rec.EventTime)
		ctx.SetKey(keyCurrentTime, current)
		ctx.SetKey(keyEpochTime, epoch)
	case partRequestTags:
		setRequestTags(ctx, k.rec.RequestParameters)
	}
}

// timeStrings holds the values of aws:CurrentTime and aws:EpochTime for one
// second, kept from record to record: a file's records come in time order,
// many in the same second.
type timeStrings struct {
	unix           int64
	current, epoch string
}

// at returns the values for t, formatting them only when t's second differs
// from the last one's.
func (ts *timeStrings) at(t time.Time) (current, epoch string) {
	t = t.UTC()
	if u := t.Unix(); u != ts.unix || ts.current == "" {
		ts.unix = u
		ts.current, ts.epoch = timeValues(t)
	}
	return ts.current, ts.epoch
}

// currentTimeLayout is the layout of aws:CurrentTime.
const currentTimeLayout = "2006-01-02T15:04:05Z"

// timeValues formats the aws:CurrentTime and aws:EpochTime of a UTC time,
// both in one string's memory.
func timeValues(t time.Time) (current, epoch string) {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(currentTimeLayout), strconv.FormatInt(t.Unix(), 10)
	}
	hour, minute, second := t.Clock()
	var b [len(currentTimeLayout) + 20]byte
	out := append(b[:0], digit(year/1000), digit(year/100%10), digit(year/10%10), digit(year%10),
		'-', digit(int(month)/10), digit(int(month)%10), '-', digit(day/10), digit(day%10),
		'T', digit(hour/10), digit(hour%10), ':', digit(minute/10), digit(minute%10),
		':', digit(second/10), digit(second%10), 'Z')
	out = strconv.AppendInt(out, t.Unix(), 10)
	both := string(out)
	return both[:len(currentTimeLayout)], both[len(currentTimeLayout):]
}

func digit(n int) byte { return byte('0' + n) }

// fillContext is FillContext with some keys deferred to keys, which it
// points at rec.
func fillContext(ctx *engine.Context, rec *Record, p *engine.Principal, resourceAccount string, keys *recordKeys) {
	keys.rec = rec
	ctx.SetDefault(engine.KeyUnknown)
	u := &rec.UserIdentity
	sc := u.SessionContext

	if !rec.EventTime.IsZero() {
		ctx.Defer(keys, partTime, timeKeys...)
	}
	if rec.AWSRegion != "" {
		ctx.SetKey(keyRequestedRegion, rec.AWSRegion)
	}
	if rec.UserAgent != "" {
		ctx.SetKey(keyUserAgent, rec.UserAgent)
	}
	if resourceAccount != "" {
		ctx.SetKey(keyResourceAccount, resourceAccount)
	}

	// Network origin.
	addr, isIP := netip.ParseAddr(rec.SourceIPAddress)
	switch {
	case rec.VPCEndpointID != "":
		ctx.SetKey(keySourceVpce, rec.VPCEndpointID)
		ctx.SetAbsentKey(keySourceIp)
		if isIP == nil {
			ctx.SetKey(keyVpcSourceIp, ipString(rec.SourceIPAddress, addr))
		}
	case isIP == nil:
		ctx.SetKey(keySourceIp, ipString(rec.SourceIPAddress, addr))
		ctx.SetAbsentKey(keySourceVpce)
		ctx.SetAbsentKey(keySourceVpc)
		ctx.SetAbsentKey(keyVpcSourceIp)
	}
	// TLS details are optional per service: their absence proves nothing.
	if rec.TLSDetails.TLSVersion != "" {
		ctx.SetKey(keySecureTransport, "true")
	}

	// The caller.
	switch p.Kind {
	case engine.PrincipalService:
		ctx.SetKey(keyPrincipalIsAWSService, "true")
		ctx.SetKey(keyPrincipalServiceName, p.ARN)
		return
	case engine.PrincipalAnonymous:
		ctx.SetKey(keyPrincipalIsAWSService, "false")
		return
	}
	ctx.SetKey(keyPrincipalIsAWSService, "false")
	ctx.SetAbsentKey(keyPrincipalServiceName)
	ctx.SetKey(keyPrincipalAccount, p.Account)
	if u.PrincipalID != "" {
		ctx.SetKey(keyUserid, u.PrincipalID)
	}
	principalArn := p.ARN
	switch p.Kind {
	case engine.PrincipalRoleSession:
		if p.EntityARN != "" {
			principalArn = p.EntityARN
		} else {
			principalArn = ""
		}
		ctx.SetKey(keyPrincipalType, "AssumedRole")
	case engine.PrincipalUser:
		ctx.SetKey(keyPrincipalType, "User")
	case engine.PrincipalRoot, engine.PrincipalAssumedRoot:
		ctx.SetKey(keyPrincipalType, "Account")
	case engine.PrincipalFederatedUser:
		ctx.SetKey(keyPrincipalType, "FederatedUser")
	}
	if principalArn != "" {
		ctx.SetKey(keyPrincipalArn, principalArn)
	}
	if p.Kind == engine.PrincipalUser && u.UserName != "" {
		ctx.SetKey(keyUsername, u.UserName)
	} else {
		ctx.SetAbsentKey(keyUsername)
	}

	// Session facts.
	if sc == nil {
		// Long-term credentials (or root): no session keys.
		for _, k := range noSessionKeys {
			ctx.SetAbsentKey(k)
		}
	} else {
		switch sc.Attributes.MFAAuthenticated {
		case "true":
			ctx.SetKey(keyMultiFactorAuthPresent, "true")
			ctx.SetValueUnknownKey(keyMultiFactorAuthAge, false)
		case "false":
			ctx.SetKey(keyMultiFactorAuthPresent, "false")
			ctx.SetAbsentKey(keyMultiFactorAuthAge)
		}
		if sc.Attributes.CreationDate != "" {
			ctx.SetKey(keyTokenIssueTime, sc.Attributes.CreationDate)
		}
		if sc.SourceIdentity != "" {
			ctx.SetKey(keySourceIdentity, sc.SourceIdentity)
		} else {
			ctx.SetAbsentKey(keySourceIdentity)
		}
		if p := sc.WebIDFederationData.FederatedProvider; p != "" {
			ctx.SetKey(keyFederatedProvider, p)
		}
		if sc.AssumedRoot == "true" {
			ctx.SetKey(keyAssumedRoot, "true")
		} else {
			ctx.SetAbsentKey(keyAssumedRoot)
		}
		if sc.EC2RoleDelivery == "" {
			ctx.SetAbsentKey(keyEc2InstanceSourceVpc)
			ctx.SetAbsentKey(keyEc2InstanceSourcePrivateIPv4)
		}
	}

	// A call made directly from an IP address was not made by a service on
	// the caller's behalf.
	if u.InvokedBy == "" && isIP == nil {
		ctx.SetKey(keyViaAWSService, "false")
		ctx.SetAbsentKey(keyCalledVia)
		ctx.SetAbsentKey(keyCalledViaFirst)
		ctx.SetAbsentKey(keyCalledViaLast)
	} else if u.InvokedBy != "" {
		ctx.SetKey(keyViaAWSService, "true")
	}

	ctx.Defer(keys, partRequestTags, requestTagKeys...)
}

// ipString returns the canonical form of addr, parsed from s: s itself for
// an IPv4 address, which netip.ParseAddr accepts only in that form, so that
// most requests do not allocate it again.
func ipString(s string, addr netip.Addr) string {
	if addr.Is4() {
		return s
	}
	return addr.String()
}

// tagFields are the requestParameters fields in which APIs pass tags.
var tagFields = []string{"tags", "Tags", "tagSet", "TagSet", "tagging", "Tagging", "TagSpecifications", "tagSpecificationSet", "TagList", "tagList"}

// setRequestTags derives aws:RequestTag/* and aws:TagKeys. A request whose
// parameters hold no tag field passes no tags: the keys are absent. Tag
// fields of a shape not understood leave them unknown.
func setRequestTags(ctx *engine.Context, params json.RawMessage) {
	raw := tagField(params)
	if raw == nil {
		ctx.SetAbsentKey(keyTagKeys)
		ctx.MarkCompleteKey(prefixRequestTag)
		return
	}
	tags, ok := parseTags(raw)
	if !ok {
		return // unknown
	}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		keys = append(keys, k)
		ctx.Set("aws:RequestTag/"+k, v)
	}
	sort.Strings(keys)
	ctx.SetListSharedKey(keyTagKeys, keys) // keys is this request's own
	ctx.MarkCompleteKey(prefixRequestTag)
}

// tagField returns the first of tagFields the parameters hold, or nil.
func tagField(params json.RawMessage) json.RawMessage {
	if !mayHoldTags(params) {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) != nil {
		return nil
	}
	for _, f := range tagFields {
		if v, ok := m[f]; ok {
			return v
		}
	}
	return nil
}

// quotedTagFields are tagFields as they appear in JSON.
var quotedTagFields = func() [][]byte {
	out := make([][]byte, len(tagFields))
	for i, f := range tagFields {
		out[i] = []byte(`"` + f + `"`)
	}
	return out
}()

// mayHoldTags reports whether parameters could have a tag field: a field
// name appears literally, or escaped characters could spell one. Most
// requests pass no tags, and this spares them decoding their parameters.
// Every tag field begins with "tag" or "Tag", so one pass over the 'g's
// finds the candidates.
func mayHoldTags(params []byte) bool {
	if len(params) == 0 {
		return false
	}
	if bytes.Contains(params, []byte(`\u`)) {
		return true
	}
	for i := 3; i < len(params); i++ {
		j := bytes.IndexByte(params[i:], 'g')
		if j < 0 {
			return false
		}
		i += j
		if params[i-1] != 'a' || (params[i-2] != 't' && params[i-2] != 'T') || params[i-3] != '"' {
			continue
		}
		for _, f := range quotedTagFields {
			if bytes.HasPrefix(params[i-3:], f) {
				return true
			}
		}
	}
	return false
}

// parseTags reads the common tag shapes: a map, a list of {Key, Value}
// (any case), or a list of TagSpecifications with their Tags.
func parseTags(raw json.RawMessage) (map[string]string, bool) {
	var asMap map[string]string
	if json.Unmarshal(raw, &asMap) == nil {
		return asMap, true
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		var wrapped map[string]json.RawMessage
		if json.Unmarshal(raw, &wrapped) != nil {
			return nil, false
		}
		for k, v := range wrapped {
			if strings.EqualFold(k, "items") || strings.EqualFold(k, "tagSet") || strings.EqualFold(k, "tags") {
				return parseTags(v)
			}
		}
		return nil, false
	}
	out := map[string]string{}
	for _, item := range list {
		var key, value string
		var nested json.RawMessage
		for k, v := range item {
			switch strings.ToLower(k) {
			case "key":
				_ = json.Unmarshal(v, &key)
			case "value":
				_ = json.Unmarshal(v, &value)
			case "tags", "tagset":
				nested = v
			}
		}
		if nested != nil {
			inner, ok := parseTags(nested)
			if !ok {
				return nil, false
			}
			for k, v := range inner {
				out[k] = v
			}
			continue
		}
		if key == "" {
			return nil, false
		}
		out[key] = value
	}
	return out, true
}
