"""``python -m nativeagent.machine``: print each profile's tool table, as docs/machine.md has it."""

from nativeagent.machine.tools import PROFILES, markdown_table

for profile in PROFILES.values():
    print(f"{profile.name}:\n\n{markdown_table(profile)}\n")
