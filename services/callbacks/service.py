"""Callbacks service: the process, its store, metrics and event plumbing are in place; its
business capabilities arrive with their own issue."""

from __future__ import annotations

from nameko.rpc import rpc

from services.common.base import ServiceBase


class CallbacksService(ServiceBase):
    name = "callbacks"

    @rpc
    def status(self) -> dict:
        self.db.command("ping")
        return {"service": self.name, "ready": True}
