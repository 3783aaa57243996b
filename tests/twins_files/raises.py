"""A file whose import raises (the harness must show the error and where it was raised)."""


def find_data():
    raise RuntimeError("the data folder is not mounted")


DATA = find_data()
