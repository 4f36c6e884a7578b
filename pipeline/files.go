package pipeline

import "github.com/replay-iam/replay/ingest"

// FileRow is a row of files.parquet: the accounting of one input file.
// Records = evaluated + the skip columns (not_api_call ...
// unsupported_event_version) + unparseable + not_cloudtrail +
// outside_window + duplicate_event_id + other_principal.
type FileRow struct {
	Path    string `parquet:"path"`
	Size    int64  `parquet:"size"`
	Skipped string `parquet:"skipped,dict"`

	Records   int64 `parquet:"records"`
	Evaluated int64 `parquet:"evaluated"`
	Requests  int64 `parquet:"requests"`

	NotAPICall              int64 `parquet:"not_api_call"`
	NoIAMAction             int64 `parquet:"no_iam_action"`
	UnmappedEvent           int64 `parquet:"unmapped_event"`
	UnknownPrincipal        int64 `parquet:"unknown_principal"`
	OtherAccountCaller      int64 `parquet:"other_account_caller"`
	UnsupportedPrincipal    int64 `parquet:"unsupported_principal"`
	UnsupportedEventVersion int64 `parquet:"unsupported_event_version"`

	Unparseable   int64 `parquet:"unparseable"`
	NotCloudTrail int64 `parquet:"not_cloudtrail"`
	OutsideWindow int64 `parquet:"outside_window"`
	Duplicates    int64 `parquet:"duplicate_event_id"`
	// OtherPrincipal counts the records of callers a run's --principal
	// filter does not select.
	OtherPrincipal int64 `parquet:"other_principal"`

	Error    string   `parquet:"error"`
	Problems []string `parquet:"problems,list"`
}

// Row returns the file's row of files.parquet.
func (st *FileStats) Row() FileRow {
	return FileRow{
		Path: st.Path, Size: st.Size, Skipped: st.Skipped,
		Records: st.Records, Evaluated: st.Evaluated, Requests: st.Requests,
		NotAPICall:              st.Skips[ingest.SkipNotAPICall],
		NoIAMAction:             st.Skips[ingest.SkipNoIAMAction],
		UnmappedEvent:           st.Skips[ingest.SkipUnmappedEvent],
		UnknownPrincipal:        st.Skips[ingest.SkipUnknownPrincipal],
		OtherAccountCaller:      st.Skips[ingest.SkipOtherAccountCaller],
		UnsupportedPrincipal:    st.Skips[ingest.SkipUnsupportedPrincipal],
		UnsupportedEventVersion: st.Skips[ingest.SkipUnsupportedEventVersion],
		Unparseable:             st.Unparseable, NotCloudTrail: st.NotCloudTrail, OutsideWindow: st.OutsideWindow,
		Duplicates: st.Duplicates, OtherPrincipal: st.OtherPrincipals, Error: st.Error, Problems: st.Problems,
	}
}

// Accounted is the sum of the row's record categories, which equals
// Records.
func (r *FileRow) Accounted() int64 {
	return r.Evaluated + r.NotAPICall + r.NoIAMAction + r.UnmappedEvent + r.UnknownPrincipal + r.OtherAccountCaller +
		r.UnsupportedPrincipal + r.UnsupportedEventVersion + r.Unparseable + r.NotCloudTrail + r.OutsideWindow + r.Duplicates +
		r.OtherPrincipal
}
