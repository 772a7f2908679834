"""Studies, sweeps and plots built on the trainers (see experiments/README.md)."""
