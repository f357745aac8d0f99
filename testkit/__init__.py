"""What the tests and the benchmarks share: plain helpers, no pytest fixtures (those stay in the
conftest.py files, built from these).

- `factories`: opportunities and accounts, as psflow's domain models and as the sandbox holds them
- `stack`: a Prefect server with psflow's deployments served against it, and the sandbox's Blocks
- `runs`: finding flow runs and waiting for their states, the events they emit
- `phases`: driving the phases: the coordinator's approval, a phase run in this process
- `expect`: what a phase leaves outside (the objects, the writes, the e-mails)
- `faults`: the fault matrix's parts (tests/e2e/test_fault_matrix.py, benchmarks/reliability.py)
- `discovery`: Google's discovery documents, to hold the sandbox's answers to them
- `browser`: Chromium driven by Playwright on the Prefect UI

Neither psflow nor the sandbox imports this package (pyproject.toml, [tool.importlinter])."""
