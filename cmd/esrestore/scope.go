package main

import (
	"encoding/json"
	"strings"
)

// The restore's scope: which of the backup's documents may come back.
// --skip-ids FILE lists ids that must not (one a line, a local path or an
// s3:// URL); --only-query JSON is a query over the backup, only the
// documents it matches may. The original is never scoped: it is read
// whole. A backup document out of scope is never written (the restore's
// skipped), and the diff leaves it out of the backup side (outcome.skipped,
// its own "skipped" line in diff.ndjson.gz): it is neither lost nor not
// recovered.

// skipIDsFile checks the form of --skip-ids: a path, or an s3:// URL
// naming an object.
func skipIDsFile(v string) string {
	if strings.TrimSpace(v) != v {
		return "must not start or end with white space"
	}
	if rest, ok := strings.CutPrefix(v, "s3://"); ok {
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
			return "an s3:// list must name an object: s3://bucket/key"
		}
	}
	return ""
}

// jsonObject checks --only-query: one JSON object, as Elasticsearch's
// "query" takes it.
func jsonObject(v string) string {
	const why = `must be one JSON object, a query such as {"term":{"site":"example"}}`
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(v))
	if err := dec.Decode(&m); err != nil || m == nil {
		return why
	}
	if dec.More() {
		return why + " (it goes on after the object)"
	}
	if len(m) == 0 {
		return why + " (it is empty)"
	}
	return ""
}
