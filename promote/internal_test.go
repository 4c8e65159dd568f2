package promote

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAliasesBodyCarriesTheDefinition: the add action gets the alias's
// filter, routing, is_hidden and is_write_index as GET /_alias shows them,
// the remove must find the alias.
func TestAliasesBodyCarriesTheDefinition(t *testing.T) {
	moves := []AliasMove{
		{Name: "w", Definition: json.RawMessage(`{"is_write_index":true,"index_routing":"1","search_routing":"1"}`)},
		{Name: "f", Definition: json.RawMessage(`{"filter":{"term":{"site":"a"}},"index_routing":"1","search_routing":"2","is_hidden":true}`)},
		{Name: "plain", Definition: json.RawMessage(`{}`)},
	}
	got, err := aliasesBody(moves, "old", "new")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actions":[` +
		`{"remove":{"alias":"w","index":"old","must_exist":true}},{"add":{"alias":"w","index":"new","is_write_index":true,"routing":"1"}},` +
		`{"remove":{"alias":"f","index":"old","must_exist":true}},{"add":{"alias":"f","filter":{"term":{"site":"a"}},"index":"new","index_routing":"1","is_hidden":true,"search_routing":"2"}},` +
		`{"remove":{"alias":"plain","index":"old","must_exist":true}},{"add":{"alias":"plain","index":"new"}}]}`
	if string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

// TestIdentityOfAnAuthenticateAnswer reads the answer Elasticsearch's
// documentation shows for GET /_security/_authenticate, and one for an
// API key.
func TestIdentityOfAnAuthenticateAnswer(t *testing.T) {
	for _, tt := range []struct {
		answer string
		want   Identity
	}{
		{`{"username":"rdeniro","roles":["admin"],"full_name":null,"email":null,"metadata":{},"enabled":true,
		   "authentication_realm":{"name":"file","type":"file"},"lookup_realm":{"name":"file","type":"file"},"authentication_type":"realm"}`,
			Identity{Username: "rdeniro", Roles: []string{"admin"}, Realm: "file", AuthenticationType: "realm"}},
		{`{"username":"restorer","roles":[],"authentication_realm":{"name":"_es_api_key","type":"_es_api_key"},
		   "authentication_type":"api_key","api_key":{"id":"VuaCfGcBCdbkQm-e5aOx","name":"promote"}}`,
			Identity{Username: "restorer", Roles: []string{}, Realm: "_es_api_key", AuthenticationType: "api_key", APIKeyID: "VuaCfGcBCdbkQm-e5aOx", APIKeyName: "promote"}},
	} {
		var a authenticateAnswer
		if err := json.Unmarshal([]byte(tt.answer), &a); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(a.identity())
		want, _ := json.Marshal(tt.want)
		if string(got) != string(want) {
			t.Errorf("identity %s, want %s", got, want)
		}
	}
}

// TestComparePlans: lines equal in both diffs are not writes since; a
// fresh line that differs or is new is one, classified by what the
// original did.
func TestComparePlans(t *testing.T) {
	reviewed := strings.Join([]string{
		`{"_id":"a","change":"added","restored":{"x":1}}`,                                                  // recovered whole, unchanged since
		`{"_id":"b","change":"recovered","patch":[{"op":"add","path":"/y","value":1}]}`,                    // edited live since
		`{"_id":"c","change":"recovered","patch":[{"op":"add","path":"/y","value":1}]}`,                    // deleted live since: kept
		`{"_id":"d","change":"not_recovered","patch":[{"op":"add","path":"/z","value":1}]}`,                // unchanged outcome, deleted since
		`{"_id":"e","change":"recovered","patch":[{"op":"add","path":"/y","value":1}],"not_recovered":[]}`, // unchanged since
	}, "\n") + "\n"
	fresh := strings.Join([]string{
		`{"_id":"a","change":"added","restored":{"x":1}}`,
		`{"_id":"b","change":"overwritten","patch":[{"op":"test","path":"/t","value":"new"},{"op":"replace","path":"/t","value":"old"}]}`,
		`{"_id":"c","change":"added","restored":{"y":1}}`,
		`{"_id":"d","change":"added","restored":{}}`,
		`{"_id":"e","change":"recovered","patch":[{"op":"add","path":"/y","value":1}]}`,
		`{"_id":"f","change":"removed","original":{"new":true}}`,
	}, "\n") + "\n"
	pl, err := comparePlans(newLineReader("reviewed", strings.NewReader(reviewed)), newLineReader("fresh", strings.NewReader(fresh)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pl.entries {
		got = append(got, e.id+":"+e.kind+":"+e.reviewed)
	}
	want := "b:changed:recovered c:deleted:recovered d:deleted: f:new:"
	if strings.Join(got, " ") != want {
		t.Errorf("entries %v, want %s", got, want)
	}
	s := pl.stats
	if s.New != 1 || s.Changed != 1 || s.Deleted != 2 || s.KeptRecovered != 1 || s.Superseded != 1 || s.Reviewed != 5 || s.Fresh != 6 {
		t.Errorf("stats %+v", s)
	}

	// An unsorted diff is an error, not a wrong plan.
	_, err = comparePlans(newLineReader("reviewed", strings.NewReader("{\"_id\":\"b\",\"change\":\"added\"}\n{\"_id\":\"a\",\"change\":\"added\"}\n")),
		newLineReader("fresh", strings.NewReader("")))
	if err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Errorf("unsorted diff: %v", err)
	}
}
