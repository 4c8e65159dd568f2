package diff

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wI2L/jsondiff"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

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

// appendPatchLine appends the line of a document on both sides: change is
// ChangeRecovered or ChangeOverwritten with the patch original → target,
// or ChangeNotRecovered with the backup's operations the target lacks;
// missing, when not empty, lists those beside an outcome patch.
func appendPatchLine(b []byte, id, change, routingOriginal, routingRestored string, patch, missing jsondiff.Patch) []byte {
	b = appendHead(b, id, change)
	if routingOriginal != routingRestored {
		b = append(b, `,"routing":{"original":`...)
		b = appendRoutingValue(b, routingOriginal)
		b = append(b, `,"restored":`...)
		b = appendRoutingValue(b, routingRestored)
		b = append(b, '}')
	}
	b = append(b, `,"patch":`...)
	b = appendPatch(b, patch)
	if len(missing) > 0 {
		b = append(b, `,"not_recovered":`...)
		b = appendPatch(b, missing)
	}
	return append(b, '}', '\n')
}

// appendLostLine appends the line of a lost document the target lacks
// too: a patch adding the whole backup document.
func appendLostLine(b []byte, id, routing string, src []byte) ([]byte, error) {
	b = appendHead(b, id, ChangeNotRecovered)
	if routing != "" {
		b = append(b, `,"routing":{"backup":`...)
		b = jsonscan.AppendString(b, routing)
		b = append(b, '}')
	}
	b = append(b, `,"patch":[{"op":"add","path":"","value":`...)
	b, err := appendSource(b, id, src)
	if err != nil {
		return nil, err
	}
	return append(b, `}]}`+"\n"...), nil
}

// appendSource appends a stored _source, stripped of the line breaks
// between tokens that NDJSON cannot carry.
func appendSource(b []byte, id string, src []byte) ([]byte, error) {
	if bytes.ContainsAny(src, "\r\n") {
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, src); err != nil {
			return nil, fmt.Errorf("document %q: %w", id, err)
		}
		return buf.Bytes(), nil
	}
	return append(b, src...), nil
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
	b, err := appendSource(b, id, src)
	if err != nil {
		return nil, err
	}
	return append(b, '}', '\n'), nil
}
