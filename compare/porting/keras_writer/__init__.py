"""A Keras twin written from a torch module: `python -m compare write-keras-twin FILE.py:Class`.

trace (what the module does when it runs) → layers and operations (each torch piece's Keras
twin) → forward and constructors (a class's `call` and `__init__`) → source (the file).
"""
