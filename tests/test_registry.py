import pytest

from pisteur.registry import Registry, RegistryError


def test_register_get_and_names() -> None:
    reg: Registry[type] = Registry("widget")

    @reg.register("b")
    class B: ...

    @reg.register("a")
    class A: ...

    assert reg.get("a") is A and "b" in reg and reg.names() == ["a", "b"]


def test_unknown_name_lists_known() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("one", 1)
    with pytest.raises(RegistryError, match=r"unknown widget 'two' \(known: one\)"):
        reg.get("two")


def test_duplicate_name_is_refused_unless_replaced() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("x", 1)
    reg.add("x", 1)  # the same object again (module re-import) is fine
    with pytest.raises(RegistryError, match="registered twice"):
        reg.add("x", 2)
    reg.add("x", 2, replace=True)
    assert reg.get("x") == 2


def test_builtin_modules_load_on_first_use() -> None:
    reg: Registry[object] = Registry("widget", builtin_modules=["json"])
    assert reg.names() == []  # importing json registers nothing, but it was imported lazily without error


def test_removed_names_are_forgotten() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("x", 1)
    reg.remove("x")
    reg.remove("never there")
    assert "x" not in reg and reg.names() == []
    reg.add("x", 2)  # free again: no duplicate error
    assert reg.get("x") == 2
