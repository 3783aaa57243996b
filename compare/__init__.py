"""The comparison harness: MNIST and Fashion-MNIST data, the model registry, weight porting, the
per-framework workers, the orchestrator and the report. `python -m compare`."""
