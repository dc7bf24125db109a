# Benchmarks of polder-agent.
