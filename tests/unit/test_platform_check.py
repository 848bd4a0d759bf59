"""The pre-flight check that explains a missing display or missing xcb libraries instead of an abort."""

from __future__ import annotations

from pathlib import Path

from llama_wrangler.platform_check import XCB_LIBRARIES, platform_problem


def test_missing_xcb_libraries_are_named_with_their_apt_packages() -> None:
    missing = {"libxcb-icccm.so.4", "libxkbcommon-x11.so.0"}
    problem = platform_problem({"DISPLAY": ":0"}, platform="linux",
                               can_load=lambda soname: soname not in missing)
    assert problem is not None
    assert "sudo apt-get install libxcb-icccm4 libxkbcommon-x11-0" in problem
    assert "libxcb-cursor0" not in problem


def test_all_libraries_present_is_fine() -> None:
    assert platform_problem({"DISPLAY": ":0"}, platform="linux", can_load=lambda _s: True,
                            exists=lambda _p: True) is None


def test_a_local_display_without_an_x_server_is_explained() -> None:
    seen: list[str] = []

    def exists(path: Path) -> bool:
        seen.append(str(path))
        return False

    problem = platform_problem({"DISPLAY": ":3.0"}, platform="linux", can_load=lambda _s: True, exists=exists)
    assert seen == ["/tmp/.X11-unix/X3"]
    assert problem is not None and "no X server is running on display :3.0" in problem
    # A remote display cannot be checked without connecting: left to Qt.
    assert platform_problem({"DISPLAY": "host:0"}, platform="linux", can_load=lambda _s: True,
                            exists=exists) is None


def test_no_display_at_all_is_explained() -> None:
    problem = platform_problem({}, platform="linux", can_load=lambda _s: True)
    assert problem is not None and "no graphical display" in problem


def test_other_platforms_and_plugins_are_not_checked() -> None:
    def never(_soname: str) -> bool:
        raise AssertionError("must not probe")

    assert platform_problem({}, platform="darwin", can_load=never) is None
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux", can_load=never) is None
    assert platform_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", can_load=never) is None


def test_every_library_has_a_package() -> None:
    assert all(package and " " not in package for package in XCB_LIBRARIES.values())


def test_the_app_explains_instead_of_aborting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """run_gui prints the explanation and returns 1 before Qt is asked for a window."""
    import llama_wrangler.gui as app_module

    monkeypatch.setattr(app_module, "platform_problem", lambda _env: "explained")
    assert app_module.run_gui([]) == 1
