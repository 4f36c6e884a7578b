package ingest

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/replay-iam/replay/engine"
)

// assumeRole returns an AssumeRole record of role/tagged issuing key, called
// by callerKey (a session when it starts with ASIA), with extra request
// parameters.
func assumeRole(t *testing.T, key, callerKey, extra string) *Record {
	t.Helper()
	caller := `{"type":"IAMUser","principalId":"AIDAEXAMPLEALICE0001","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"` + callerKey + `","userName":"alice"}`
	if callerKey[:4] == "ASIA" {
		caller = `{"type":"AssumedRole","principalId":"AROAEXAMPLETAGGED0001:first","arn":"arn:aws:sts::111111111111:assumed-role/tagged/first","accountId":"111111111111","accessKeyId":"` + callerKey + `",
			"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLETAGGED0001","arn":"arn:aws:iam::111111111111:role/tagged","accountId":"111111111111","userName":"tagged"}}}`
	}
	raw := fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":%s,"eventTime":"2026-11-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
		"awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","eventID":"e-%s","recipientAccountId":"111111111111",
		"requestParameters":{"roleArn":"arn:aws:iam::111111111111:role/tagged","roleSessionName":"s"%s},
		"responseElements":{"credentials":{"accessKeyId":"%s","sessionToken":"x","expiration":"Nov 1, 2026, 11:00:00 AM"},
			"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLETAGGED0001:s","arn":"arn:aws:sts::111111111111:assumed-role/tagged/s"}}}`, caller, key, extra, key)
	var rec Record
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	return &rec
}

func TestSessionsJoin(t *testing.T) {
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := NewSessions()
	observe := func(rec *Record) {
		t.Helper()
		if ok, err := sessions.Observe(rec); !ok || err != nil {
			t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
		}
	}
	observe(assumeRole(t, "ASIAPLAIN", "AKIAALICE", ""))
	observe(assumeRole(t, "ASIATEAMB", "AKIAALICE", `,"tags":[{"key":"team","value":"b"}],"transitiveTagKeys":["team"]`))
	observe(assumeRole(t, "ASIACHAINED", "ASIATEAMB", ""))
	observe(assumeRole(t, "ASIAUNSEENPARENT", "ASIANEVERSEEN", ""))
	observe(assumeRole(t, "ASIAPOLICY", "AKIAALICE", `,"policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"*\"}]}"`))
	observe(assumeRole(t, "ASIABADPOLICY", "AKIAALICE", `,"policy":"{\"Version\":\"2012-10-17\",\"Statem"`))
	if n := sessions.Len(); n != 6 {
		t.Errorf("Len = %d, want 6", n)
	}

	tests := []struct {
		name     string
		key      string
		bucket   string
		want     engine.Verdict
		joined   bool
		complete bool
	}{
		// §6 case 46: the session tag team=b overrides the role tag team=a.
		{"session tag overrides role tag: own team", "ASIATEAMB", "team-b", engine.VerdictAllow, true, true},
		{"session tag overrides role tag: role's team", "ASIATEAMB", "team-a", engine.VerdictImplicitDeny, true, true},
		{"no session tags: role tag applies", "ASIAPLAIN", "team-a", engine.VerdictAllow, true, true},
		{"transitive tag reaches the chained session", "ASIACHAINED", "team-b", engine.VerdictAllow, true, true},
		{"transitive tags of an unseen parent: tag value unknown", "ASIAUNSEENPARENT", "team-a", engine.VerdictIndeterminate, true, true},
		{"issuing call not seen: tag value unknown", "ASIANOTSEEN", "team-a", engine.VerdictIndeterminate, false, true},
		{"session policy that does not allow", "ASIAPOLICY", "team-a", engine.VerdictImplicitDeny, true, true},
		{"session policy that could not be read", "ASIABADPOLICY", "team-a", engine.VerdictAllow, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := engine.NewContext()
			ctx.SetDefault(engine.KeyUnknown)
			ctx.Set("aws:SecureTransport", "true")
			req := &engine.Request{
				Principal: engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::111111111111:assumed-role/tagged/s",
					Account: "111111111111", EntityARN: "arn:aws:iam::111111111111:role/tagged"},
				Action: "s3:GetObject", Resource: "arn:aws:s3:::" + tt.bucket + "/k", ResourceAccount: "111111111111", Context: ctx,
			}
			sess, _ := sessions.Lookup(tt.key)
			j := snap.PolicySetFor(req, sess)
			if j.SessionJoined != tt.joined || j.Complete != tt.complete {
				t.Errorf("joined %v complete %v, want %v %v", j.SessionJoined, j.Complete, tt.joined, tt.complete)
			}
			if d := engine.Authorize(req, j.Policies); d.Verdict != tt.want {
				t.Errorf("verdict %s, want %s: %s", d.Verdict, tt.want, d.Explain())
			}
		})
	}
}

func TestSessionsObserveSkips(t *testing.T) {
	s := NewSessions()
	failed := assumeRole(t, "ASIAX", "AKIAALICE", "")
	failed.ErrorCode = "AccessDenied"
	if ok, err := s.Observe(failed); ok || err != nil {
		t.Errorf("failed call: %v %v", ok, err)
	}
	other := &Record{EventSource: "s3.amazonaws.com", EventName: "GetObject"}
	if ok, err := s.Observe(other); ok || err != nil {
		t.Errorf("other call: %v %v", ok, err)
	}
	noCreds := assumeRole(t, "ASIAY", "AKIAALICE", "")
	noCreds.ResponseElements = json.RawMessage(`null`)
	if ok, err := s.Observe(noCreds); ok || err == nil {
		t.Errorf("response without credentials: %v %v", ok, err)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d", s.Len())
	}
}

// TestSessionsExpire checks that sessions are dropped once no credentials
// they issued can still be valid, and kept until then.
func TestSessionsExpire(t *testing.T) {
	s := NewSessions()
	issued := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	plain := assumeRole(t, "ASIAPLAIN", "AKIAALICE", "")
	tagged := assumeRole(t, "ASIATAGGED", "AKIAALICE", `,"tags":[{"key":"team","value":"b"}]`)
	untimed := assumeRole(t, "ASIAUNTIMED", "AKIAALICE", `,"tags":[{"key":"team","value":"c"}]`)
	untimed.EventTime = time.Time{}
	for _, rec := range []*Record{plain, tagged, untimed, plain} {
		if ok, err := s.Observe(rec); !ok || err != nil {
			t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
		}
	}
	if s.Issued() != 3 || s.Len() != 3 {
		t.Fatalf("issued %d, held %d; want 3, 3 (a session observed twice counts once)", s.Issued(), s.Len())
	}
	if n := s.Expire(issued.Add(MaxSessionLifetime)); n != 0 {
		t.Errorf("Expire at the end of the lifetime dropped %d sessions", n)
	}
	for _, k := range []string{"ASIAPLAIN", "ASIATAGGED", "ASIAUNTIMED"} {
		if _, ok := s.Lookup(k); !ok {
			t.Errorf("%s dropped before its credentials expired", k)
		}
	}
	if n := s.Expire(issued.Add(MaxSessionLifetime + time.Second)); n != 2 {
		t.Errorf("Expire after the lifetime dropped %d sessions, want 2", n)
	}
	for k, want := range map[string]bool{"ASIAPLAIN": false, "ASIATAGGED": false, "ASIAUNTIMED": true} {
		if _, ok := s.Lookup(k); ok != want {
			t.Errorf("%s held = %v, want %v", k, ok, want)
		}
	}
	if s.Issued() != 3 || s.Len() != 1 {
		t.Errorf("issued %d, held %d; want 3, 1", s.Issued(), s.Len())
	}
}

// TestSessionsResolveAt checks that a call made after a session's
// credentials expired does not find it, and that this outcome is final and
// the same once Expire has dropped the session; a chained session is
// judged by its own lifetime.
func TestSessionsResolveAt(t *testing.T) {
	issued := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	last, late := issued.Add(MaxSessionLifetime), issued.Add(MaxSessionLifetime+time.Second)
	chained := assumeRole(t, "ASIACHAINED", "ASIATAGGED", "")
	chained.EventTime = issued.Add(MaxSessionLifetime / 2)
	s := NewSessions()
	for _, rec := range []*Record{
		assumeRole(t, "ASIAPLAIN", "AKIAALICE", ""),
		assumeRole(t, "ASIATAGGED", "AKIAALICE", `,"tags":[{"key":"team","value":"b"}],"transitiveTagKeys":["team"]`),
		chained,
	} {
		if ok, err := s.Observe(rec); !ok || err != nil {
			t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
		}
	}
	tests := []struct {
		key   string
		at    time.Time
		found bool
	}{
		{"ASIAPLAIN", issued, true},
		{"ASIAPLAIN", last, true},
		{"ASIAPLAIN", late, false},
		{"ASIATAGGED", last, true},
		{"ASIATAGGED", late, false},
		{"ASIAPLAIN", time.Time{}, true}, // no time: no expiry
		// The chained session outlives its caller's and keeps its tags.
		{"ASIACHAINED", late, true},
		{"ASIACHAINED", chained.EventTime.Add(MaxSessionLifetime + time.Second), false},
	}
	// Expire(late) drops what expired before late; calls from then on
	// resolve as they did before.
	for _, expired := range []bool{false, true} {
		if expired {
			s.Expire(late)
		}
		for _, tt := range tests {
			if expired && tt.at.Before(late) {
				continue
			}
			r := s.ResolveAt(tt.key, AllDays, tt.at)
			if found := r.Session != nil; found != tt.found || !expired && !r.Final {
				t.Errorf("after Expire %v: ResolveAt(%s, %s) found %v, final %v; want found %v, final", expired, tt.key, tt.at, found, r.Final, tt.found)
			}
			if tt.key == "ASIACHAINED" && tt.found && r.Session.Tags["team"] != "b" {
				t.Errorf("chained session found at %s without its caller's transitive tag: %v", tt.at, r.Session.Tags)
			}
		}
	}
}

// TestSessionsChainOrder checks that a chained role session takes the
// transitive tags of its calling sessions whatever the order in which the
// issuing calls are observed (a day's files are read concurrently), and
// that a lookup made before a calling session is seen does not stick.
func TestSessionsChainOrder(t *testing.T) {
	first := assumeRole(t, "ASIAFIRST", "AKIAALICE",
		`,"tags":[{"key":"team","value":"b"},{"key":"cost","value":"1"}],"transitiveTagKeys":["team"]`)
	second := assumeRole(t, "ASIASECOND", "ASIAFIRST", `,"tags":[{"key":"env","value":"dev"}],"transitiveTagKeys":["env"]`)
	third := assumeRole(t, "ASIATHIRD", "ASIASECOND", `,"tags":[{"key":"team","value":"c"}]`)
	type want struct {
		tags       map[string]string
		transitive []string
	}
	wants := map[string]want{
		"ASIAFIRST":  {map[string]string{"team": "b", "cost": "1"}, []string{"team"}},
		"ASIASECOND": {map[string]string{"team": "b", "env": "dev"}, []string{"team", "env"}},
		// Its own tag overrides the inherited value; the key stays transitive.
		"ASIATHIRD": {map[string]string{"team": "c", "env": "dev"}, []string{"team", "env"}},
	}
	orders := [][]*Record{
		{first, second, third}, {first, third, second}, {second, first, third},
		{second, third, first}, {third, first, second}, {third, second, first},
	}
	for _, order := range orders {
		name := ""
		for _, rec := range order {
			name += rec.EventID[len("e-ASIA"):] + " "
		}
		t.Run(name, func(t *testing.T) {
			s := NewSessions()
			for _, rec := range order {
				if ok, err := s.Observe(rec); !ok || err != nil {
					t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
				}
			}
			for key, w := range wants {
				sess, ok := s.Lookup(key)
				if !ok {
					t.Fatalf("%s not found", key)
				}
				if !sess.TagsComplete || !maps.Equal(sess.Tags, w.tags) || !slices.Equal(sess.Transitive, w.transitive) {
					t.Errorf("%s: tags %v transitive %v complete %v; want %v %v complete", key, sess.Tags, sess.Transitive,
						sess.TagsComplete, w.tags, w.transitive)
				}
			}
			if s.Len() != 3 || s.Issued() != 3 {
				t.Errorf("held %d, issued %d; want 3, 3", s.Len(), s.Issued())
			}
		})
	}

	t.Run("looked up before its caller is seen", func(t *testing.T) {
		s := NewSessions()
		for _, rec := range []*Record{third, second} {
			if ok, err := s.Observe(rec); !ok || err != nil {
				t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
			}
		}
		sess, ok := s.Lookup("ASIATHIRD")
		if !ok || sess.TagsComplete || !maps.Equal(sess.Tags, map[string]string{"team": "c", "env": "dev"}) {
			t.Fatalf("first session unseen: %v, tags %v complete %v; want the tags known so far, incomplete", ok, sess.Tags, sess.TagsComplete)
		}
		if ok, err := s.Observe(first); !ok || err != nil {
			t.Fatalf("Observe(first) = %v, %v", ok, err)
		}
		sess, _ = s.Lookup("ASIATHIRD")
		if w := wants["ASIATHIRD"]; !sess.TagsComplete || !maps.Equal(sess.Tags, w.tags) {
			t.Errorf("after the first session is seen: tags %v complete %v; want %v complete", sess.Tags, sess.TagsComplete, w.tags)
		}
	})

	t.Run("a loop in a malformed log", func(t *testing.T) {
		s := NewSessions()
		loop := assumeRole(t, "ASIALOOP", "ASIALOOP", "")
		if ok, err := s.Observe(loop); !ok || err != nil {
			t.Fatalf("Observe = %v, %v", ok, err)
		}
		if sess, ok := s.Lookup("ASIALOOP"); !ok || sess.TagsComplete {
			t.Errorf("a session that calls itself: found %v, complete %v; want found, incomplete", ok, sess.TagsComplete)
		}
	})

	t.Run("a chain with nothing to pass on is plain", func(t *testing.T) {
		s := NewSessions()
		for _, rec := range []*Record{assumeRole(t, "ASIACHILD", "ASIAROOT", ""), assumeRole(t, "ASIAROOT", "AKIAALICE", "")} {
			if ok, err := s.Observe(rec); !ok || err != nil {
				t.Fatalf("Observe(%s) = %v, %v", rec.EventID, ok, err)
			}
		}
		if sess, ok := s.Lookup("ASIACHILD"); !ok || sess != &s.empty {
			t.Errorf("child of a plain session: %v, %+v; want the empty session", ok, sess)
		}
		if facts, plain := held(s); facts != 0 || plain != 2 {
			t.Errorf("facts %d, plain %d; want 0, 2", facts, plain)
		}
	})
}

// held counts the sessions s holds with facts to remember and the plain ones.
func held(s *Sessions) (facts, plain int) {
	for i := range s.shards {
		facts += len(s.shards[i].facts)
		plain += len(s.shards[i].plain)
	}
	return facts, plain
}

// TestSessionsDays observes sessions on numbered days: a lookup sees only
// those observed up to its horizon, a chained session whose caller came on
// a later day stays unresolved for nearer horizons, and Settled tells
// whether lookups that were not final would still resolve as they did.
func TestSessionsDays(t *testing.T) {
	first := assumeRole(t, "ASIAFIRST", "AKIAALICE", `,"tags":[{"key":"team","value":"b"}],"transitiveTagKeys":["team"]`)
	second := assumeRole(t, "ASIASECOND", "ASIAFIRST", "")
	s := NewSessions()
	observe := func(rec *Record, day int) {
		t.Helper()
		if ok, err := s.ObserveOn(rec, day); !ok || err != nil {
			t.Fatalf("ObserveOn(%s, %d) = %v, %v", rec.EventID, day, ok, err)
		}
	}
	observe(second, 1)
	observe(first, 2)

	type want struct {
		found, final, complete bool
		links                  int
		team                   string
	}
	check := func(key string, horizon int, w want) {
		t.Helper()
		r := s.Resolve(key, horizon)
		got := want{found: r.Session != nil, final: r.Final, links: r.Links}
		if r.Session != nil {
			got.complete, got.team = r.Session.TagsComplete, r.Session.Tags["team"]
		}
		if got != w {
			t.Errorf("Resolve(%s, %d) = %+v, want %+v", key, horizon, got, w)
		}
	}
	notSeen := want{}
	check("ASIAFIRST", 0, notSeen)
	check("ASIAFIRST", 1, notSeen)
	check("ASIAFIRST", 2, want{found: true, final: true, complete: true, links: 1, team: "b"})
	check("ASIASECOND", 0, notSeen)
	unresolved := want{found: true, links: 1}
	check("ASIASECOND", 1, unresolved)
	resolved := want{found: true, final: true, complete: true, links: 2, team: "b"}
	check("ASIASECOND", 2, resolved)
	check("ASIASECOND", AllDays, resolved)
	// Resolving on day 2 must not change what day 1 sees.
	check("ASIASECOND", 1, unresolved)

	misses := map[string]int{"ASIAFIRST": 0, "ASIASECOND": 1, "ASIANEVER": 0}
	if !s.Settled(misses, 1) {
		t.Error("Settled at the horizon the misses were made at = false")
	}
	for _, key := range []string{"ASIAFIRST", "ASIASECOND"} {
		one := map[string]int{key: misses[key], "ASIANEVER": 0}
		if s.Settled(one, 2) {
			t.Errorf("Settled(%v, 2) = true; %s resolves differently on day 2", one, key)
		}
	}

	// A session observed again keeps the earlier day, whichever comes
	// first, and is counted once.
	third := assumeRole(t, "ASIATHIRD", "AKIAALICE", "")
	fourth := assumeRole(t, "ASIAFOURTH", "AKIAALICE", "")
	observe(third, 1)
	observe(third, 3)
	observe(fourth, 3)
	observe(fourth, 1)
	for _, key := range []string{"ASIATHIRD", "ASIAFOURTH"} {
		check(key, 1, want{found: true, final: true, complete: true, links: 1})
	}
	if s.Issued() != 4 {
		t.Errorf("Issued = %d, want 4", s.Issued())
	}
}

// TestSessionsConcurrent observes chains of sessions from several
// goroutines, in an order that puts children before their callers, while
// others look sessions up: every session is then held once, and each chain
// resolves to the tags a store filled in turn gives it.
func TestSessionsConcurrent(t *testing.T) {
	const chains = 100
	key := func(chain, link int) string { return fmt.Sprintf("ASIACHAIN%03dLINK%d", chain, link) }
	var recs []*Record
	for c := range chains {
		recs = append(recs,
			assumeRole(t, key(c, 0), "AKIAALICE", fmt.Sprintf(`,"tags":[{"key":"chain","value":"%d"}],"transitiveTagKeys":["chain"]`, c)),
			assumeRole(t, key(c, 1), key(c, 0), `,"tags":[{"key":"link","value":"1"}]`),
			assumeRole(t, key(c, 2), key(c, 1), ""))
	}
	want := NewSessions()
	for _, rec := range recs {
		if _, err := want.Observe(rec); err != nil {
			t.Fatal(err)
		}
	}

	s := NewSessions()
	const observers, readers = 4, 4
	var wg sync.WaitGroup
	for o := range observers {
		wg.Go(func() {
			for i := len(recs) - 1 - o; i >= 0; i -= observers {
				if _, err := s.Observe(recs[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for i := r; i < 20*len(recs); i += readers {
				s.Resolve(recs[i%len(recs)].UserIdentity.AccessKeyID, AllDays)
			}
		})
	}
	wg.Wait()

	if got := s.Issued(); got != len(recs) {
		t.Errorf("Issued() = %d, want %d", got, len(recs))
	}
	if got := s.Len(); got != len(recs) {
		t.Errorf("Len() = %d, want %d", got, len(recs))
	}
	for c := range chains {
		for link := range 3 {
			k := key(c, link)
			exp, ok := want.Lookup(k)
			if !ok || exp.Tags["chain"] != fmt.Sprint(c) {
				t.Fatalf("%s: the store filled in turn finds %v, tags %v", k, ok, exp)
			}
			got, ok := s.Lookup(k)
			if !ok {
				t.Errorf("%s: not found", k)
				continue
			}
			if !maps.Equal(got.Tags, exp.Tags) || !slices.Equal(got.Transitive, exp.Transitive) || got.TagsComplete != exp.TagsComplete {
				t.Errorf("%s: tags %v %v complete %v; want tags %v %v complete %v", k,
					got.Tags, got.Transitive, got.TagsComplete, exp.Tags, exp.Transitive, exp.TagsComplete)
			}
		}
	}
}
