"""The comparison harness: MNIST and Fashion-MNIST data, the model registry, weight porting, the
per-framework workers, the orchestrator and the report. `python -m compare`.

`from compare import Twins` declares a user's own pair of twins (compare.catalog.twins);
importing it imports no framework.
"""

from compare.catalog.twins import Twins

__all__ = ["Twins"]
