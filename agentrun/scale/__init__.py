"""Scale-out: batches on a Ray cluster (`agentrun.scale.ray_batch`), with per-model limits held
for the whole cluster by one actor (`agentrun.agents.shared_limits`)."""
