"""Apps whose results real Parsl checkpointed into ``tasks.pkl`` (see README.md).

The memo key Parsl writes covers the function's name and module, so this module is
imported under the same name (``realparsl_apps``) by the generator and by the test.
"""
from parsl import bash_app, python_app


@python_app(cache=True)
def scale(x, factor=2, tags=None):
    return {"value": x * factor, "tags": tags}


@bash_app(cache=True)
def greet(name, stdout=None):
    return f"echo hello {name}"
