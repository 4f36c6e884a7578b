package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

// FuzzReader feeds arbitrary bytes to the record reader and translates
// every record it yields against the test snapshot. Nothing may panic, the
// reader must end, and every error must be a *RecordError (the reader goes
// on) or a *FileError (the file ends), with the file named. A delivery
// file read whole must yield what it yields cut into records.
func FuzzReader(f *testing.F) {
	seeds := [][]byte{
		[]byte(`{"Records":[{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-11-01T00:00:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111"},"requestParameters":{"bucketName":"data","key":"k"}}]}`),
		[]byte("{\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\"}\n{broken\n"),
		[]byte(`[{"eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"}}]`),
		[]byte(`{"Records":[{"eventTime":17,"eventName":["x"]}`),
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "records", "identities.json")); err == nil {
		seeds = append(seeds, data)
	}
	for _, s := range seeds {
		f.Add(s)
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(s)
		w.Close()
		f.Add(gz.Bytes())
		f.Add(gz.Bytes()[:gz.Len()/2])
	}
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		f.Fatal(err)
	}
	tr := NewTranslator(catalog.Default(), snap, NewSessions())
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, _ := readOutcome(data, false)
		if cut, _ := readOutcome(data, true); !reflect.DeepEqual(whole, cut) {
			t.Fatalf("read whole:\n%v\ncut into records:\n%v", whole, cut)
		}
		r, err := NewReader(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "fuzz.json" {
				t.Fatalf("NewReader: %v is not a FileError naming the file", err)
			}
			return
		}
		defer r.Close()
		for n := 0; ; n++ {
			if n > len(data)+10 {
				t.Fatalf("more results (%d) than input bytes", n)
			}
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var re *RecordError
			var fe *FileError
			switch {
			case err == nil:
				for _, req := range tr.Translate(rec).Requests {
					engine.Authorize(&req.Request, req.Join.Policies)
				}
			case errors.As(err, &re):
			case errors.As(err, &fe):
				return
			default:
				t.Fatalf("error of an unexpected kind: %T %v", err, err)
			}
		}
	})
}

// FuzzLoadSnapshot writes arbitrary GAAD and organization files and loads
// them. Loading may report problems or fail with an error naming the
// folder, never panic; whatever loads must evaluate.
func FuzzLoadSnapshot(f *testing.F) {
	for _, name := range []string{"gaad-111111111111.json", "organization.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "snapshot", name))
		if err != nil {
			f.Fatal(err)
		}
		if name == "organization.json" {
			f.Add([]byte(`{"UserDetailList":[]}`), data)
		} else {
			org, _ := os.ReadFile(filepath.Join("testdata", "snapshot", "organization.json"))
			f.Add(data, org)
		}
	}
	f.Add([]byte(`{"UserDetailList":[{"Arn":"arn:aws:iam::1:user/u","UserName":"u","UserPolicyList":[{"PolicyName":"p","PolicyDocument":"%7B"}]}]}`), []byte(`{"root":{"id":"r"},"accounts":[{"id":"1","parent":"r"}]}`))
	f.Fuzz(func(t *testing.T, gaad, org []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "gaad-111111111111.json"), gaad, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "organization.json"), org, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSnapshot(dir)
		if err != nil {
			return
		}
		for _, p := range s.Problems {
			if p.File == "" {
				t.Fatalf("problem without a file: %v", p)
			}
		}
		for arn, e := range s.Users {
			p := engine.Principal{Kind: engine.PrincipalUser, ARN: arn, Account: e.Account}
			req := engine.Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourceAccount: e.Account, Context: engine.NewContext()}
			j := s.PolicySetFor(&req, nil)
			engine.Authorize(&req, j.Policies)
		}
	})
}
