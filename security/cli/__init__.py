"""The security commands of `gatehouse` (serve, events, people, visitors, audit): imported by nothing else."""
