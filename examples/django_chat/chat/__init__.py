"""The chat example's one app: a page, a view that runs with tools, a view that streams."""
