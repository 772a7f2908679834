"""Baselines: classical solvers used as oracles (BFS for mazes, constraint propagation for
Sudoku) and, in later releases, MLP models/policies matched in parameters to the TRM."""
