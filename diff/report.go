package diff

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

// ChangeChanged is the class of a changed document in a two-sided diff
// before outcomes were split (recovered or overwritten).
const ChangeChanged = "changed"

// appendHead starts a report line: {"_id":…,"change":…
func appendHead(b []byte, id, change string) []byte {
	b = append(b, `{"_id":`...)
	b = jsonscan.AppendString(b, id)
	b = append(b, `,"change":"`...)
	b = append(b, change...)
	return append(b, '"')
}

// appendRoutingValue writes a routing, null when there is none.
func appendRoutingValue(b []byte, r string) []byte {
	if r == "" {
		return append(b, "null"...)
	}
	return jsonscan.AppendString(b, r)
}

// appendChangedLine appends the line of a document in both sets whose
// source or routing differs. The routing member appears only when the
// routings differ; a missing routing is null.
func appendChangedLine(b []byte, id, routingOriginal, routingRestored string, patch jsondiff.Patch) []byte {
	b = appendHead(b, id, ChangeChanged)
	if routingOriginal != routingRestored {
		b = append(b, `,"routing":{"original":`...)
		b = appendRoutingValue(b, routingOriginal)
		b = append(b, `,"restored":`...)
		b = appendRoutingValue(b, routingRestored)
		b = append(b, '}')
	}
	b = append(b, `,"patch":`...)
	b = appendPatch(b, patch)
	return append(b, '}', '\n')
}

// appendOnlyLine appends the line of a document in one set only: change is
// ChangeAdded (side "restored") or ChangeRemoved (side "original"). The
// document's routing, when it has one, is kept under "routing" so that a
// reviewer can index it again; the source is written as stored, only
// stripped of line breaks between tokens, which NDJSON cannot carry.
func appendOnlyLine(b []byte, id, change, side, routing string, src []byte) ([]byte, error) {
	b = appendHead(b, id, change)
	if routing != "" {
		b = append(b, `,"routing":{"`...)
		b = append(b, side...)
		b = append(b, `":`...)
		b = jsonscan.AppendString(b, routing)
		b = append(b, '}')
	}
	b = append(b, `,"`...)
	b = append(b, side...)
	b = append(b, `":`...)
	if bytes.ContainsAny(src, "\r\n") {
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, src); err != nil {
			return nil, fmt.Errorf("document %q: %w", id, err)
		}
		b = buf.Bytes()
	} else {
		b = append(b, src...)
	}
	return append(b, '}', '\n'), nil
}
