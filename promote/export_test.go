package promote

// SetStepHook makes p call f as each step is reached, so tests can
// interrupt a promote between steps.
func SetStepHook(p *Promoter, f func(step string)) { p.onStep = f }
