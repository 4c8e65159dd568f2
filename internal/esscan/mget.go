package esscan

import "github.com/esrestore/esrestore/internal/jsonscan"

// MgetBody is the body of an _mget of n documents: doc(i) gives the i-th
// document's _id and routing ("" for none).
func MgetBody(n int, doc func(i int) (id, routing string)) []byte {
	body := make([]byte, 0, 32+n*48)
	body = append(body, `{"docs":[`...)
	for i := range n {
		if i > 0 {
			body = append(body, ',')
		}
		id, routing := doc(i)
		body = append(body, `{"_id":`...)
		body = jsonscan.AppendString(body, id)
		if routing != "" {
			body = append(body, `,"routing":`...)
			body = jsonscan.AppendString(body, routing)
		}
		body = append(body, '}')
	}
	return append(body, "]}"...)
}
