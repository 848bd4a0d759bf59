"""The model servers of one app session or ``serve`` run: one :class:`ServerSupervisor` per loaded model.

Without the stable endpoint (or before it opens) there is one server, the primary slot, and the fleet is
that supervisor. With the endpoint, several models may be loaded side by side, each in its own
llama-server on its own loopback port; the endpoint's scheduler decides which (memory, idle TTL, pinning)
and the fleet carries it out: :meth:`place` loads a model (unloading the scheduler's victims first),
:meth:`unload` stops one.

For the window, the tray and the command line the fleet looks like one supervisor (same signals and
properties): they show the *focused* model — the one the user started last, or the one that took over when
it was unloaded — while the Server page lists every slot (:meth:`slots`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.argv import RpcPlan
from llama_wrangler.server.drain import DrainHook
from llama_wrangler.server.endpoint.lease import PRIMARY_SLOT
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

_IDLE = (ServerState.STOPPED, ServerState.CRASHED)
# (model id, the load settings it starts with) -> its --cache-ram in MiB, or None to add none
PromptCacheBound = Callable[[str, LoadSettings | None], int | None]


class Router(Protocol):
    """The endpoint side of the fleet (the link): where user loads and stops are announced."""

    def want(self, model_id: str) -> None: ...

    def stopped_by_user(self) -> None: ...


class ServerFleet(QObject):
    """Signals (of the focused slot, as :class:`ServerSupervisor` has them):
        state_changed(str old, str new), endpoint_changed(str), log_line(str), error(str) (any slot's),
        slots_changed(): a slot was added or removed, or its state changed;
        slot_state_changed(str slot, str new): one slot's state changed (the endpoint's link follows these);
        focus_changed(str): the focused model is another one now (it may be loaded already: no state change).
    """

    state_changed = Signal(str, str)
    endpoint_changed = Signal(str)
    log_line = Signal(str)
    error = Signal(str)
    slots_changed = Signal()
    slot_state_changed = Signal(str, str)
    focus_changed = Signal(str)

    def __init__(self, primary: ServerSupervisor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._slots: dict[str, ServerSupervisor] = {}
        self._focus = PRIMARY_SLOT
        self._pending_focus = ""  # a model the user started that no slot holds yet
        self._targets: dict[str, ServeTarget] = {}  # what the user started, by id (files outside the library)
        self._launched: dict[str, ServeTarget] = {}  # slot -> what it was started with, before its cache bound
        self._cache_bound: PromptCacheBound | None = None  # --cache-ram (MiB) for a model beside others
        self._router: Router | None = None
        self._drain_hook: DrainHook | None = None  # the endpoint's: it knows each server by its URL
        self._client_url = ""
        self._next_slot = 1
        self._add_slot(PRIMARY_SLOT, primary)

    # ----------------------------------------------------------------- slots
    @property
    def primary(self) -> ServerSupervisor:
        return self._slots[PRIMARY_SLOT]

    def slots(self) -> dict[str, ServerSupervisor]:
        """Every model server, the primary first."""
        return dict(self._slots)

    def slot_of(self, model_id: str) -> str:
        """The slot that holds or loads ``model_id`` ('' when none)."""
        for name, sup in self._slots.items():
            if sup.state not in _IDLE and model_id in (sup.model_id, sup.wanted_model_id):
                return name
        return ""

    @property
    def focus_slot(self) -> str:
        return self._focus

    def _add_slot(self, name: str, sup: ServerSupervisor) -> None:
        self._slots[name] = sup
        sup.state_changed.connect(self._on_slot_state)
        sup.endpoint_changed.connect(self._on_slot_endpoint)
        sup.log_line.connect(self._on_slot_line)
        sup.error.connect(self.error)
        sup.set_client_url(self._client_url)
        sup.set_drain_hook(self._drain_hook)

    def _new_companion(self) -> str:
        primary = self.primary
        name = f"slot{self._next_slot}"
        self._next_slot += 1
        sup = ServerSupervisor(primary.server_binary, primary.settings, log_file=primary.log_path, parent=self)
        if primary.rpc is not None:
            sup.set_rpc(primary.rpc)
        self._add_slot(name, sup)
        self.slots_changed.emit()
        return name

    def _drop_companion(self, name: str) -> None:
        sup = self._slots.pop(name, None)
        self._launched.pop(name, None)
        if sup is None:
            return
        sup.set_drain_hook(None)
        sup.state_changed.disconnect(self._on_slot_state)
        sup.endpoint_changed.disconnect(self._on_slot_endpoint)
        sup.log_line.disconnect(self._on_slot_line)
        sup.error.disconnect(self.error)
        sup.deleteLater()
        if self._focus == name:
            self._refocus()
        self.slots_changed.emit()

    # ----------------------------------------------------------------- what the endpoint asks for
    def attach(self, router: Router | None, drain_hook: DrainHook | None, *, moving: bool = False) -> None:
        """The endpoint's link (None: detached; then the primary slot serves alone, and the other models'
        servers stop: nothing would route a request to them — unless the endpoint is ``moving`` to another
        address, where its next link finds them all loaded)."""
        self._router = router
        self._drain_hook = drain_hook
        for sup in list(self._slots.values()):
            sup.set_drain_hook(drain_hook)
        if router is None and not moving:
            for name in [n for n in self._slots if n != PRIMARY_SLOT]:
                if self._focus == name:
                    self._set_focus(PRIMARY_SLOT)
                self._slots[name].stop()

    def user_wants(self, model_id: str) -> bool:
        """The user started ``model_id`` and it is on its way (not a request's load)."""
        return self._pending_focus == model_id

    def known_target(self, model_id: str) -> ServeTarget | None:
        return self._targets.get(model_id)

    def place(self, target: ServeTarget, victims: tuple[str, ...]) -> None:
        """Load ``target`` after unloading ``victims``: in the first victim's slot (its server is replaced
        once its requests are done), else a free slot, else a new one."""
        here = self.slot_of(target.model_id)
        slot = here or next(filter(None, map(self.slot_of, victims)), "") or self._free_slot()
        for victim in victims:
            where = self.slot_of(victim)
            if where and where != slot:
                self._slots[where].stop()
        log.info("loading %s in %s%s", target.model_id, slot, f" (unloading {', '.join(victims)})" if victims else "")
        self._start_bounded(slot, target)
        if self._pending_focus == target.model_id:
            self._set_focus(slot)

    def reload(self, target: ServeTarget) -> bool:
        """Start a loaded model again in its own slot as ``target`` says (new load settings; its running
        requests finish first; the focus stays). Its server restarts only if the command line changes.
        False when no slot holds it."""
        slot = self.slot_of(target.model_id)
        if not slot:
            return False
        if target.model_id in self._targets:
            self._targets[target.model_id] = target
        self._start_bounded(slot, target)
        return True

    def unload(self, model_id: str) -> bool:
        slot = self.slot_of(model_id)
        if slot:
            self._slots[slot].stop()
        return bool(slot)

    def loaded_models(self) -> list[str]:
        """The models a server holds or loads now, the primary slot's first."""
        return [sup.wanted_model_id or sup.model_id for sup in self._slots.values() if sup.state not in _IDLE]

    def serving(self) -> bool:
        """Any model server holds or loads a model."""
        return any(sup.state not in _IDLE or sup.wanted_model_id for sup in self._slots.values())

    def _free_slot(self) -> str:
        for name, sup in self._slots.items():
            if sup.state in _IDLE and not sup.wanted_model_id and not sup.restart_scheduled:
                return name
        return self._new_companion()

    # ----------------------------------------------------------------- the user's commands
    def start(self, model_path: Path, model_id: str, mmproj: Path | None = None,
              load: LoadSettings | None = None) -> None:
        """Serve a model (the user asked): it becomes the focused model. With the endpoint, it is loaded by
        the scheduler's rules (beside the others when it fits); without, the primary server switches to it."""
        target = ServeTarget(Path(model_path).absolute(), model_id,
                             Path(mmproj).absolute() if mmproj is not None else None, load)
        self._targets[model_id] = target
        if self._router is None:
            self._launched.pop(PRIMARY_SLOT, None)
            self.primary.start(target.model_path, model_id, target.mmproj, load=load)
            self._set_focus(PRIMARY_SLOT)
            return
        here = self.slot_of(model_id)
        if here:
            self._start_bounded(here, target)  # new settings: restart
            self._pending_focus = ""
            self._set_focus(here)
        else:
            was = self.state
            self._pending_focus = model_id
            self._emit_focus_change(was)
        self._router.want(model_id)

    def restart(self) -> None:
        """Start the focused model again, with the settings as they are now: its prompt cache bound is
        joined to the arguments afresh (the load it last started with holds the old global ones)."""
        launched = self._launched.get(self._focus)
        if self._router is not None and launched is not None:
            self._start_bounded(self._focus, launched)
        self._focused().restart()

    def stop(self) -> None:
        """Stop every model server (the user asked)."""
        self._pending_focus = ""
        for sup in list(self._slots.values()):
            sup.stop()
        if self._router is not None:
            self._router.stopped_by_user()
        for name in [n for n in self._slots if n != PRIMARY_SLOT]:
            if self._slots[name].state in _IDLE:
                self._drop_companion(name)
        self._set_focus(PRIMARY_SLOT)

    @Slot()
    def shutdown(self) -> None:
        for sup in list(self._slots.values()):
            sup.shutdown()

    # ----------------------------------------------------------------- one supervisor's face
    def _focused(self) -> ServerSupervisor:
        return self._slots.get(self._focus, self.primary)

    @property
    def state(self) -> ServerState:
        return ServerState.STARTING if self._pending_focus else self._focused().state

    @property
    def endpoint(self) -> str:
        return "" if self._pending_focus else self._focused().endpoint

    @property
    def client_endpoint(self) -> str:
        return "" if self._pending_focus else self._focused().client_endpoint

    @property
    def model_id(self) -> str:
        return "" if self._pending_focus else self._focused().model_id

    @property
    def wanted_model_id(self) -> str:
        return self._pending_focus or self._focused().wanted_model_id

    @property
    def model_path(self) -> Path | None:
        return None if self._pending_focus else self._focused().model_path

    @property
    def props(self) -> dict[str, Any]:
        return {} if self._pending_focus else self._focused().props

    @property
    def context_size(self) -> int | None:
        return None if self._pending_focus else self._focused().context_size

    @property
    def pid(self) -> int | None:
        return None if self._pending_focus else self._focused().pid

    @property
    def last_error(self) -> str:
        return self._focused().last_error

    @property
    def restart_scheduled(self) -> bool:
        return self._focused().restart_scheduled

    @property
    def restart_in_ms(self) -> int:
        return self._focused().restart_in_ms

    @property
    def settings(self) -> ServerSettings:
        return self.primary.settings

    @property
    def rpc(self) -> RpcPlan | None:
        return self.primary.rpc

    def set_prompt_cache_bound(self, bound: PromptCacheBound | None) -> None:
        """How to size a model's prompt cache (``--cache-ram``, MiB) when it starts beside others: asked at
        each start with the load settings it starts with (None: leave its arguments as they are)."""
        self._cache_bound = bound

    def _start_bounded(self, slot: str, target: ServeTarget) -> None:
        self._launched[slot] = target
        self._slots[slot].start(target.model_path, target.model_id, target.mmproj,
                                load=self.launch_load(target.model_id, target.load))

    def launch_load(self, model_id: str, load: LoadSettings | None) -> LoadSettings | None:
        """``load`` with the model's prompt cache limit added to its extra arguments, when it has one."""
        mib = self._cache_bound(model_id, load) if self._cache_bound is not None else None
        if mib is None:
            return load
        own = load or LoadSettings()
        extra = own.extra_args if own.extra_args is not None else self.settings.extra_args
        return replace(own, extra_args=f"{extra} --cache-ram {mib}".strip())

    def set_settings(self, settings: ServerSettings) -> None:
        for sup in list(self._slots.values()):
            sup.set_settings(settings)

    def set_server_binary(self, server: Path | LlamaRuntime) -> None:
        for sup in list(self._slots.values()):
            sup.set_server_binary(server)

    def set_rpc(self, plan: RpcPlan | None) -> None:
        for sup in list(self._slots.values()):
            sup.set_rpc(plan)

    def set_client_url(self, url: str) -> None:
        self._client_url = url
        for sup in list(self._slots.values()):
            sup.set_client_url(url)

    def log_lines(self) -> list[str]:
        return self._focused().log_lines()

    # ----------------------------------------------------------------- following the slots
    def _sender_slot(self) -> str:
        sender = self.sender()
        return next((name for name, sup in self._slots.items() if sup is sender), "")

    @Slot(str, str)
    def _on_slot_state(self, old: str, new: str) -> None:
        name = self._sender_slot()
        if not name:
            return
        self.slot_state_changed.emit(name, new)
        if name == self._focus and not self._pending_focus:
            self.state_changed.emit(old, new)
            if new == ServerState.STOPPED and not self._slots[name].wanted_model_id:
                self._refocus()  # unloaded by idle time or for room: show a model that is still loaded
        if name != PRIMARY_SLOT and new == ServerState.STOPPED and not self._slots[name].wanted_model_id:
            self._drop_companion(name)
            return
        self.slots_changed.emit()

    @Slot(str)
    def _on_slot_endpoint(self, url: str) -> None:
        if self._sender_slot() == self._focus and not self._pending_focus:
            self.endpoint_changed.emit(url)

    @Slot(str)
    def _on_slot_line(self, line: str) -> None:
        name = self._sender_slot()
        sup = self._slots.get(name)
        if name == self._focus or sup is None:
            self.log_line.emit(line)
        else:  # another model's server: say whose line it is
            self.log_line.emit(f"[{sup.model_id or sup.wanted_model_id}] {line}")

    def _refocus(self) -> None:
        loaded = [n for n, sup in self._slots.items() if sup.state not in _IDLE]
        if loaded and self._focus not in loaded:
            self._set_focus(loaded[0])

    def _set_focus(self, name: str) -> None:
        was, was_model = self.state, self.wanted_model_id or self.model_id
        self._focus = name if name in self._slots else PRIMARY_SLOT
        if self._pending_focus and self._pending_focus in (self._focused().wanted_model_id,
                                                           self._focused().model_id):
            self._pending_focus = ""
        self._emit_focus_change(was)
        if (self.wanted_model_id or self.model_id) != was_model:
            self.focus_changed.emit(self.wanted_model_id or self.model_id)
        self.slots_changed.emit()

    def _emit_focus_change(self, was: ServerState) -> None:
        now = self.state
        if now is not was:
            self.state_changed.emit(str(was), str(now))
        self.endpoint_changed.emit(self.endpoint)
