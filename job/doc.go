// Package job is one run of esrestore: the guard rails, then the phases
// of its command in order (the restore, the diff of the original, the
// backup and the target, the comparison of their mappings and settings,
// the counts at the end), and the report they leave: summary.json with
// its verdict, the diff, the failures and the page.
//
// A Job takes its configuration as a Config, and everything else from
// the process that runs it as Options: the logger, the Elasticsearch
// client and its ping, progress, standard output and what to tell the
// operator at the end. It reads no flags or environment variables and
// never exits: its errors are typed (Error, Kind), and the command maps
// each kind to its exit code.
//
// A run id has one runner at a time (a lease in Elasticsearch); a later
// attempt of the same run id resumes the report an earlier one left,
// and its summary lists every attempt.
package job
