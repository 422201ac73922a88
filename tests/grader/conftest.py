"""The submissions corpus holds hostile files (one is a .py): pytest must not import them."""

collect_ignore_glob = ["submissions/*", "submissions/*/*"]
