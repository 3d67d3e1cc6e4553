"""The round trip's comparison (test tooling): a kickstart against the one rendered from its import, commands,
disks, packages and scripts, and the files both kickstarts' %post leave in the sandbox (tests/roundtrip.py runs
it). It is here and not in builder/ because it judges only sandbox runs: there is no `ksbuild import --check`."""
