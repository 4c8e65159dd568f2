// Package deploy holds esrestore's Kubernetes manifests, IAM policy and
// Elasticsearch role (see README.md). Its only Go code is the test that
// decodes every manifest strictly into the Kubernetes API types and checks
// the properties an operator relies on.
package deploy
