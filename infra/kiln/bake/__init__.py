"""Bake: Packer runs, input hashes and the bake cache, signed artifact records.

``runner.bake`` is the entry point; ``verify`` checks records and images against trusted
keys. Nothing here imports Pulumi.
"""
