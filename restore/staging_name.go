package restore

// StagingIndex is the staging index a snapshot source of run runID
// restores into, so that a caller can read it (the diff's backup side)
// before the source's Cleanup deletes it.
func StagingIndex(runID string) string { return stagingName(runID) }
