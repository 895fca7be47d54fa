"""Pure logic over plain data: periods, names, events, milestones, the announcer's prose.

The standard library and babel only: no I/O, no platform, no store."""
