"""The web console (工作台): server-rendered pages over the public API's own handlers."""
