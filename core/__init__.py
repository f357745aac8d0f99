"""What every layer of psflow shares and none owns: the lifecycle's event grammar (`events`), the
outside APIs' published quotas (`quotas`), and the clock (`clock`). It imports only `engagement`;
tasks, flows and deployments build on it, and nothing here imports them."""
