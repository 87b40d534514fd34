"""Config(dependency_resolver=...): which futures inside arguments a task waits for."""
from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Iterator, List

import pytest

import parsl
from parsl.config import Config
from parsl.dataflow.dependency_resolvers import (
    DEEP_DEPENDENCY_RESOLVER,
    SHALLOW_DEPENDENCY_RESOLVER,
    DependencyResolver,
    deep_traverse_to_gather,
    deep_traverse_to_unwrap,
)
from parsl.dataflow.errors import DependencyError
from parsl.errors import ConfigurationError


@parsl.python_app
def echo(value: Any) -> Any:
    return value


@parsl.python_app
def describe(*args: Any, **kwargs: Any) -> Any:
    return args, kwargs


@pytest.fixture
def deep(run_dir: str) -> Iterator[None]:
    with parsl.load(Config(dependency_resolver=DEEP_DEPENDENCY_RESOLVER, run_dir=run_dir)):
        yield


def test_deep_resolver_resolves_futures_in_lists_tuples_sets_and_dicts(deep) -> None:
    args, kwargs = describe([echo(1), [echo(2)]], (echo(3),), {echo(4)},
                            mapping={"k": echo(5), echo("key"): 6}).result(timeout=30)
    assert args == ([1, [2]], (3,), {4})
    assert kwargs == {"mapping": {"k": 5, "key": 6}}


def test_deep_resolver_resolves_futures_inside_inputs_items(deep) -> None:
    _, kwargs = describe(inputs=[[echo(1), echo(2)]]).result(timeout=30)
    assert kwargs["inputs"] == [[1, 2]]


def test_deep_resolver_fails_the_task_with_the_nested_future_exception(deep) -> None:
    failed: cf.Future = cf.Future()
    failed.set_exception(KeyError("inner"))
    with pytest.raises(DependencyError) as info:
        describe([1, {"x": failed}]).result(timeout=30)
    assert [type(e) for e, _ in info.value.dependent_exceptions_tids] == [KeyError]


def test_shallow_resolver_passes_futures_inside_containers_unresolved(run_dir: str) -> None:
    with parsl.load(Config(dependency_resolver=SHALLOW_DEPENDENCY_RESOLVER, run_dir=run_dir)):
        inner = echo(1)
        args, _ = describe([inner]).result(timeout=30)
    assert args[0][0] is inner


class Bag:
    def __init__(self, items: List[Any]) -> None:
        self.items = items


def test_deep_resolver_is_extended_for_new_types_by_registration(deep) -> None:
    @deep_traverse_to_gather.register(Bag)
    def _gather(bag: Bag) -> List[cf.Future]:
        return [f for item in bag.items for f in deep_traverse_to_gather(item)]

    @deep_traverse_to_unwrap.register(Bag)
    def _unwrap(bag: Bag) -> Bag:
        return Bag([deep_traverse_to_unwrap(item) for item in bag.items])

    # Bag exists only in this module, so the registrations affect no other test.
    result = echo(Bag([echo(7), 8])).result(timeout=30)
    assert result.items == [7, 8]


def test_custom_resolver_object_is_used(run_dir: str) -> None:
    seen: List[Any] = []

    def gather(value: Any) -> List[cf.Future]:
        seen.append(value)
        return [value] if isinstance(value, cf.Future) else []

    resolver = DependencyResolver(traverse_to_gather=gather,
                                  traverse_to_unwrap=lambda v: v.result()
                                  if isinstance(v, cf.Future) else v)
    with parsl.load(Config(dependency_resolver=resolver, run_dir=run_dir)):
        assert echo(echo(3)).result(timeout=30) == 3
    assert seen[0] == 3 and isinstance(seen[1], cf.Future)


def test_resolver_that_is_not_a_resolver_is_refused_naming_the_field(run_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="dependency_resolver must be"):
        parsl.load(Config(dependency_resolver="deep", run_dir=run_dir))


def test_failed_plain_future_dependency_gives_dependency_error_with_its_exception(
        dfk) -> None:
    failed: cf.Future = cf.Future()
    failed.set_exception(ValueError("outside"))
    with pytest.raises(DependencyError) as info:
        echo(failed).result(timeout=30)
    (exc, _), = info.value.dependent_exceptions_tids
    assert isinstance(exc, ValueError) and str(exc) == "outside"
