"""psflow's domain: pydantic models and pure functions, imported by everyone and importing nobody.

- `engagement.models`: Salesforce ids, the opportunity and its account, contacts and SOW activities,
  PSEs and partners, the cost estimate, the PS Engagement record, the staffing decision.
- `engagement.keys`: the natural key of every object psflow creates and the name each system
  stores it under (GitLab, Slack, Drive, Gmail, Calendar, Mavenlink, Salesforce).
- `engagement.slugs`: text cleaning behind those names.

No I/O, no clock, no randomness: the same input always gives the same result.
"""
