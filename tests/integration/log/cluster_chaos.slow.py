#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_chaos.slow — log/cluster_chaos with 50 faults (label slow:
scripts/test --slow).  CAIRN_SEED replays a fault schedule;
CAIRN_CHAOS_FAULTS overrides the count.
"""
import os
import runpy

os.environ.setdefault("CAIRN_CHAOS_FAULTS", "50")
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster_chaos.py"),
               run_name="__main__")
