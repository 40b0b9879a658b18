"""Quilt benchmark suite: measures quiltd against crun and runc in one interleaved run."""
