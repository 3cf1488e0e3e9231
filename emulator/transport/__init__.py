"""HTTP plumbing shared by both front ends: connections, bodies, authentication, ports."""
